"""The load generator: async httpx clients in their own process, results as JSON on stdout.

`python -m bench._loadgen '<json spec>'` where the spec names a scenario and its params:

- `latency`  sequential blocking requests: per-request seconds (after one unmeasured);
- `ttfe`     sequential streaming requests: seconds to the first `data:` frame and to the
             first `message` frame (after one unmeasured);
- `throughput` `concurrency` connections sending blocking requests for `seconds`: count,
             errors; with the lean client of `bench/_rawload.py` (httpx's own CPU cost
             would cap the figure), or httpx with `"client": "httpx"`;
- `streams`  open `count` streams at once; report first-frame latencies and errors, wait
             for `hold` seconds (the caller samples server memory meanwhile), then close;
- `stop`     start a stream, wait for its first `message`, POST stop: seconds from the
             stop request to the end of the stream;
- `tokens`   one streaming request: first-`message` latency and the time of every
             `message` frame (tokens/s through the API), read with the lean client of
             `bench/_rawload.py` (httpx with `"client": "httpx"`); with `requests`: that many,
             one after another on one client, as `runs` (the first pays this process's
             cold client path and a new connection, so callers can drop it).

Every loop is bounded by a count or a deadline, and talks to loopback only.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx

from bench import _rawload

USER = "bench-user"


def _body(query: str, mode: str) -> dict[str, Any]:
    return {"inputs": {}, "query": query, "response_mode": mode, "user": USER}


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def latency(client: httpx.AsyncClient, spec: dict[str, Any]) -> dict[str, Any]:
    samples, errors = [], 0
    # One more request than measured: the first, dropped, opens the connection and pays
    # this new process's idle gap (10-50 ms on either server), which would be the p99.
    for index in range(int(spec["requests"]) + 1):
        started = time.perf_counter()
        response = await client.post(
            "/v1/chat-messages",
            json=_body(spec["query"], "blocking"),
            headers=_headers(spec["key"]),
        )
        await response.aread()
        if index:
            samples.append(time.perf_counter() - started)
        errors += response.status_code != 200
    return {"seconds": samples, "errors": errors, "last": response.text[:2000]}


async def _stream(
    client: httpx.AsyncClient, spec: dict[str, Any], on_frame: Any
) -> tuple[int, float]:
    """POST a streaming chat; call `on_frame(frame, elapsed)` per data frame."""
    started = time.perf_counter()
    async with client.stream(
        "POST",
        "/v1/chat-messages",
        # `extra`: more request fields, e.g. `auto_generate_name`.
        json={**_body(spec["query"], "streaming"), **spec.get("extra", {})},
        headers=_headers(spec["key"]),
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                if await on_frame(json.loads(line[6:]), time.perf_counter() - started):
                    break
        return response.status_code, time.perf_counter() - started


async def ttfe(client: httpx.AsyncClient, spec: dict[str, Any]) -> dict[str, Any]:
    first, first_message, errors = [], [], 0
    for index in range(int(spec["requests"]) + 1):  # the first is dropped, as in `latency`
        seen: dict[str, float] = {}

        async def on_frame(
            frame: dict[str, Any], elapsed: float, seen: dict[str, float] = seen
        ) -> bool:
            seen.setdefault("first", elapsed)
            if frame.get("event") == "message":
                seen.setdefault("message", elapsed)
            return False

        status, _ = await _stream(client, spec, on_frame)
        errors += status != 200 or "message" not in seen
        if "message" in seen and index:
            first.append(seen["first"])
            first_message.append(seen["message"])
    return {"first": first, "first_message": first_message, "errors": errors}


async def throughput(client: httpx.AsyncClient, spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("client", "raw") == "raw":
        encoded = json.dumps(_body(spec["query"], "blocking")).encode()
        raw = _rawload.encode_post(spec["url"], "/v1/chat-messages", encoded, _headers(spec["key"]))
        return await _rawload.throughput(
            spec["url"], raw, concurrency=int(spec["concurrency"]), seconds=float(spec["seconds"])
        )
    deadline = time.perf_counter() + float(spec["seconds"])
    done, errors = 0, 0
    body, headers = _body(spec["query"], "blocking"), _headers(spec["key"])

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            try:
                response = await client.post("/v1/chat-messages", json=body, headers=headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            done += ok
            errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(int(spec["concurrency"]))))
    return {"ok": done, "errors": errors, "elapsed": time.perf_counter() - started}


async def streams(client: httpx.AsyncClient, spec: dict[str, Any]) -> dict[str, Any]:
    count, hold = int(spec["count"]), float(spec["hold"])
    firsts: list[float] = []
    errors: list[str] = []
    all_open = asyncio.Event()
    opened = 0

    async def one() -> None:
        nonlocal opened
        got_first = False

        async def on_frame(frame: dict[str, Any], elapsed: float) -> bool:
            nonlocal got_first, opened
            if not got_first:
                got_first = True
                firsts.append(elapsed)
                opened += 1
                if opened == count:
                    all_open.set()
                await all_open.wait()  # keep the stream open until every one is
                await asyncio.sleep(hold)
                return True
            return False

        try:
            status, _ = await _stream(client, spec, on_frame)
            if status != 200:
                errors.append(f"status {status}")
        except httpx.HTTPError as exc:
            errors.append(type(exc).__name__)
        if not got_first:
            opened += 1  # counted, so the others don't wait on a stream that failed
            if opened == count:
                all_open.set()

    started = time.perf_counter()
    tasks = [asyncio.create_task(one()) for _ in range(count)]
    try:
        await asyncio.wait_for(all_open.wait(), timeout=float(spec.get("open_timeout", 60)))
        print(json.dumps({"all_open": time.perf_counter() - started}), flush=True)
    except TimeoutError:
        errors.append(f"timeout: {opened}/{count} open")
        all_open.set()
    await asyncio.gather(*tasks)
    return {"first": firsts, "errors": errors[:20], "error_count": len(errors)}


async def stop(client: httpx.AsyncClient, spec: dict[str, Any]) -> dict[str, Any]:
    samples: list[float] = []
    errors = 0
    for _ in range(int(spec["requests"])):
        task: dict[str, Any] = {}

        async def on_frame(
            frame: dict[str, Any], elapsed: float, task: dict[str, Any] = task
        ) -> bool:
            if frame.get("event") == "message" and "sent" not in task:
                task["sent"] = time.perf_counter()
                response = await client.post(
                    f"/v1/chat-messages/{frame['task_id']}/stop",
                    json={"user": USER},
                    headers=_headers(spec["key"]),
                )
                task["status"] = response.status_code
            return False

        await _stream(client, spec, on_frame)
        if "sent" in task and task.get("status") == 200:
            samples.append(time.perf_counter() - task["sent"])
        else:
            errors += 1
    return {"seconds": samples, "errors": errors}


async def tokens(client: httpx.AsyncClient, spec: dict[str, Any]) -> dict[str, Any]:
    if "requests" in spec:
        one = {key: value for key, value in spec.items() if key != "requests"}
        return {"runs": [await tokens(client, one) for _ in range(int(spec["requests"]))]}
    times: list[float] = []
    text: list[str] = []

    async def on_frame(frame: dict[str, Any], elapsed: float) -> bool:
        if frame.get("event") == "message" and frame.get("answer"):
            times.append(elapsed)
            text.append(frame["answer"])
        return False

    if spec.get("client", "raw") == "raw":
        body = json.dumps({**_body(spec["query"], "streaming"), **spec.get("extra", {})})
        raw = _rawload.encode_post(
            spec["url"], "/v1/chat-messages", body.encode(), _headers(spec["key"])
        )
        frames: list[tuple[dict[str, Any], float]] = []
        status, total = await _rawload.stream(
            spec["url"], raw, lambda frame, elapsed: frames.append((frame, elapsed))
        )
        for frame, elapsed in frames:
            await on_frame(frame, elapsed)
    else:
        status, total = await _stream(client, spec, on_frame)
    return {"status": status, "times": times, "total": total, "text": "".join(text)}


SCENARIOS = {
    "latency": latency,
    "ttfe": ttfe,
    "throughput": throughput,
    "streams": streams,
    "stop": stop,
    "tokens": tokens,
}


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    connections = int(spec.get("connections", 100))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(float(spec.get("timeout", 60)))
    async with httpx.AsyncClient(base_url=spec["url"], limits=limits, timeout=timeout) as client:
        result: dict[str, Any] = await SCENARIOS[spec["scenario"]](client, spec)
        return result


def main() -> None:
    spec = json.loads(sys.argv[1])
    import uvloop  # the servers run on it too (uvicorn[standard])

    print(json.dumps(uvloop.run(run(spec))), flush=True)


if __name__ == "__main__":
    main()
