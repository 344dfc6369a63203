"""Blocking chat latency on the bundled example app, as `make serve` runs it, fake model.

    python -m bench.bundled --requests 1000

Starts `chatflow serve` (no DSL file: the bundled assistant app) on a free loopback port
with `CHATFLOW_MODEL_BACKEND=fake`, sends N sequential blocking `POST /v1/chat-messages`
from this process (one conversation per request, as most first messages are), and prints
p50/p99 of the whole request as the client sees it, with the floor: the same client
against a bare Starlette endpoint returning the same JSON, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench import _server
from bench import http as bench_http
from bench._stats import Summary

CLI = Path(sys.executable).with_name("chatflow")


def _serve(data_dir: str, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATFLOW_")}
    env.update(CHATFLOW_MODEL_BACKEND="fake", CHATFLOW_DATA_DIR=data_dir, DATABASE_URL="")
    process = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    key = ""
    for line in process.stdout:
        if match := re.search(r"key=(app-\w+)", line):
            key = match.group(1)
        if "startup complete" in line:
            break
    # Keep reading the server's log (access lines) so a full pipe never stalls it.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, key


def _time(client: httpx.Client, url: str, body: dict[str, object], n: int) -> list[float]:
    timings = []
    for _ in range(n):
        began = time.perf_counter()
        response = client.post(url, json=body)
        timings.append(time.perf_counter() - began)
        response.raise_for_status()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    port = _server.free_port()
    body: dict[str, object] = {
        "inputs": {},
        "query": "hello?",
        "response_mode": "blocking",
        "user": "bench",
    }
    with tempfile.TemporaryDirectory(prefix="chatflow-bundled-") as data_dir:
        process, key = _serve(data_dir, port)
        try:
            url = f"http://127.0.0.1:{port}/v1/chat-messages"
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(headers=headers, timeout=30) as client:
                _time(client, url, body, 50)  # warm-up
                ours = _time(client, url, body, args.requests)
                sample = client.post(url, json=body).content
        finally:
            process.terminate()
            process.wait(timeout=10)
    with bench_http.floor(sample) as (floor_url, _), httpx.Client(timeout=30) as client:
        _time(client, floor_url + "/v1/chat-messages", body, 50)
        floor = _time(client, floor_url + "/v1/chat-messages", body, args.requests)
    mine, base = Summary.of(ours), Summary.of(floor)
    print(
        json.dumps(
            {
                "requests": args.requests,
                "ours_ms": {"p50": mine.p50 * 1e3, "p99": mine.p99 * 1e3},
                "floor_ms": {"p50": base.p50 * 1e3, "p99": base.p99 * 1e3},
                "ratio_p50": mine.p50 / base.p50,
                "ratio_p99": mine.p99 / base.p99,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
