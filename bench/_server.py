"""Server processes for the HTTP benchmarks: ours (uvicorn + `create_app`) and the floor.

`python -m bench._server ours --port P [--workers N] [--dsl-dir D]` imports every
benchmark app with the fixed key `app-bench-<name>` (through `Services`, as the CLI's
`app import` does), then serves `chatflow.api.app:create_app` with uvicorn. Settings come
from the environment (`CHATFLOW_MODEL_BACKEND=fake`, `DATABASE_URL`, ...), which
`start()` fills in.

`python -m bench._server essentials --port P` imports the apps as `ours` does, then serves
`bench.essentials`: only the work a blocking chat cannot do without, on the same database.

`python -m bench._server floor --port P --body FILE [--delay S]` serves the floor: a
bare Starlette endpoint that reads the JSON request and answers a fixed JSON body (the
same bytes our server answered) or, for `response_mode: streaming`, 20 `message` frames
`--delay` seconds apart, on the same uvicorn settings.

`start()` launches either in a subprocess on loopback and waits until it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
DSL_DIR = Path(__file__).resolve().parent / "dsl"


def api_key(name: str) -> str:
    return f"app-bench-{name}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def _import_apps(apps: dict[str, str]) -> None:
    from chatflow.services import Services
    from chatflow.settings import Settings

    services = await Services.open(Settings())
    try:
        for name, text in apps.items():
            try:
                await services.apps.import_dsl(text, api_key=api_key(name))
            except Exception as exc:  # an app our engine can't load yet: serve the rest
                print(f"bench server: skipped {name}: {exc}", file=sys.stderr)
    finally:
        await services.close()


async def _essential_keys(names: list[str]) -> dict[str, tuple[str, str, Any]]:
    """Each benchmark app's key hash -> (app id, workflow id, graph), as loaded by our
    server's app service."""
    from chatflow.errors import Unauthorized
    from chatflow.services import Services
    from chatflow.settings import Settings
    from chatflow.store.apps import hash_token

    keys: dict[str, tuple[str, str, Any]] = {}
    services = await Services.open(Settings())
    try:
        for name in names:
            try:
                app = await services.apps.authenticate(api_key(name))
            except Unauthorized:  # skipped at import
                continue
            keys[hash_token(api_key(name))] = (app.id, app.workflow_id, app.graph)
    finally:
        await services.close()
    return keys


def _essentials_app(names: list[str]) -> object:
    from sqlalchemy import make_url

    from bench.engine import make_services
    from bench.essentials import essentials_app
    from chatflow.settings import Settings

    url = make_url(Settings().resolved_database_url())
    if url.get_backend_name() != "sqlite" or not url.database:
        raise SystemExit("bench._server essentials: an SQLite file only (DATABASE_URL is set)")
    return essentials_app(
        database=Path(url.database),
        keys=asyncio.run(_essential_keys(names)),
        services=make_services(),
        clock=time.time,
    )


def _floor_app(body: bytes, delay: float, tokens: int) -> object:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    def frame(event: str, **fields: object) -> bytes:
        return b"data: " + json.dumps({"event": event, **fields}).encode() + b"\n\n"

    async def frames() -> AsyncIterator[bytes]:
        yield frame("workflow_started", task_id="floor")
        for index in range(tokens):
            if delay:
                await asyncio.sleep(delay)
            yield frame("message", task_id="floor", answer=f"t{index} ")
        yield frame("message_end", task_id="floor")

    async def chat(request: Request) -> Response:
        payload = await request.json()
        if payload.get("response_mode") == "streaming":
            return StreamingResponse(frames(), media_type="text/event-stream")
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/v1/chat-messages", chat, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["ours", "essentials", "floor"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dsl-dir", type=Path, default=DSL_DIR)
    parser.add_argument("--body", type=Path)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=20)
    args = parser.parse_args()
    import uvicorn

    from chatflow.api.connections import connection_options
    from chatflow.settings import Settings

    settings = Settings()
    common = {
        "host": HOST,
        "port": args.port,
        "log_level": "warning",
        "access_log": False,
        **connection_options(settings),
    }
    if args.kind == "floor":
        assert args.body is not None
        app = _floor_app(args.body.read_bytes(), args.delay, args.tokens)
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    apps = {path.stem: path.read_text() for path in sorted(args.dsl_dir.glob("*.yml"))}
    asyncio.run(_import_apps(apps))
    if args.kind == "essentials":
        uvicorn.run(_essentials_app(list(apps)), **common)  # type: ignore[arg-type]
        return
    uvicorn.run("chatflow.api.app:create_app", factory=True, workers=args.workers, **common)


@contextlib.contextmanager
def start(
    kind: str,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    body: Path | None = None,
    delay: float = 0.0,
    dsl_dir: Path | None = None,
    timeout: float = 60.0,
    log_path: Path | None = None,
    root: Path = ROOT,
) -> Iterator[tuple[str, int]]:
    """Run a server subprocess on a free loopback port; yields (base URL, pid). `root` is
    the checkout it runs from (its working directory; put it on `PYTHONPATH` in `env`)."""
    port = free_port()
    command = [sys.executable, "-m", "bench._server", kind, "--port", str(port)]
    command += ["--workers", str(workers)]
    if body is not None:
        command += ["--body", str(body), "--delay", str(delay)]
    if dsl_dir is not None:
        command += ["--dsl-dir", str(dsl_dir)]
    # stderr goes to a file: a pipe nobody reads could fill up and stall the server.
    log = log_path.open("w+") if log_path is not None else tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        command, cwd=root, env={**os.environ, **(env or {})}, stdout=log, stderr=log, text=True
    )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read()
                raise RuntimeError(f"{kind} server exited: {err.strip()[-2000:]}")
            try:
                httpx.get(url + "/", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} server did not start in {timeout} s") from None
                time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (uvicorn workers), in KiB."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    for one in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


if __name__ == "__main__":
    main()
