"""Scale-out mode end to end: worker processes sharing Postgres and Redis.

Two real servers (uvicorn subprocesses on two ports, one private Postgres schema, one
Redis key prefix per test run): a stop sent to worker B ends a stream served by worker
A at once; a client that drops its stream from A and reconnects to B with
`Last-Event-ID` gets the rest, no gaps, no duplicates; a worker that dies leaves no run
`running`. Postgres and Redis are skipped only outside CI: with `CI` set, a missing
service fails the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy import make_url

from chatflow.settings import Settings
from chatflow.store import Database
from tests._server_process import free_port
from tests.runtime.redis_support import REDIS_URL, delete_prefix, require_redis

from .conftest import PG_URL, _drop_schema, _postgres_reachable, _prepare

pytestmark = [pytest.mark.timeout(120), pytest.mark.postgres, pytest.mark.redis]

WORKER = Path(__file__).with_name("scale_out_worker.py")
ROOT = Path(__file__).parents[2]
RESUMABLE = {"X-Chatflow-Resumable": "true"}


@dataclass
class Cluster:
    schema: str
    prefix: str
    env: dict[str, str]
    key: str
    procs: list[subprocess.Popen[bytes]]

    def start(self) -> str:
        """Start one more worker; returns its base URL once it answers."""
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(port), PG_URL, self.schema],
            env=self.env,
            cwd=ROOT,
        )
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}")
            try:
                if httpx.get(f"{url}/parameters", headers=self.auth, timeout=1).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("worker did not start")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@contextlib.contextmanager
def running_cluster(
    tmp_path_factory: pytest.TempPathFactory, **settings_env: str
) -> Iterator[Cluster]:
    """A cluster's shared database, Redis prefix and environment (`settings_env` adds
    CHATFLOW_* settings); its workers are stopped and its data dropped at the end."""
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"Postgres is required in CI but {PG_URL} is unreachable")
        pytest.skip(f"Postgres not reachable at {PG_URL}")
    require_redis()
    data_dir = tmp_path_factory.mktemp("scale-out")
    schema, prefix = f"test_scale_{uuid.uuid4().hex[:12]}", f"cftest-{uuid.uuid4().hex[:12]}"
    settings = Settings(data_dir=data_dir, model_backend="fake")
    keys = asyncio.run(_prepare(Database(PG_URL, schema=schema), settings))
    env = {
        **os.environ,
        "CHATFLOW_DATA_DIR": str(data_dir),
        "CHATFLOW_REDIS_URL": REDIS_URL,
        "CHATFLOW_REDIS_PREFIX": prefix,
        "CHATFLOW_PING_INTERVAL": "0.5",
        "CHATFLOW_FAKE_TOKEN_DELAY": "0.05",
        "CHATFLOW_WORKER_HEARTBEAT_SECONDS": "2",
        "CHATFLOW_MODEL_BACKEND": "fake",
        # Every worker writes its metrics here, as `chatflow serve --workers N` sets up.
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("metrics")),
        **settings_env,
    }
    cluster = Cluster(schema, prefix, env, keys["assistant"], [])
    try:
        yield cluster
    finally:
        for proc in cluster.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in cluster.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        asyncio.run(_drop_schema(schema))
        asyncio.run(delete_prefix(prefix))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def workers(cluster: Cluster) -> tuple[str, str]:
    return cluster.start(), cluster.start()


def _parameters_count(base: str) -> float:
    text = httpx.get(f"{base.removesuffix('/v1')}/metrics", timeout=10).text
    wanted = 'chatflow_http_requests_total{method="GET",route="/v1/parameters",status="200"}'
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(wanted)
    )


def test_metrics_of_every_worker_add_up_on_any_worker(
    cluster: Cluster, workers: tuple[str, str]
) -> None:
    a, b = workers
    before = _parameters_count(a)
    for _ in range(3):
        assert httpx.get(f"{b}/parameters", headers=cluster.auth).status_code == 200
    assert _parameters_count(a) - before == 3  # served by B, counted in A's answer
    assert _parameters_count(b) == _parameters_count(a)


def _frames(response: httpx.Response) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(id, payload) per data frame; pings are skipped; raw lines are checked."""
    event_id: str | None = None
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            yield event_id, json.loads(line[6:])
            event_id = None
        else:
            assert line in ("", "event: ping"), line


def _start(client: httpx.Client, base: str, **headers: str) -> Any:
    payload = {"inputs": {}, "query": "Tell me a long story", "user": "alice"}
    payload["response_mode"] = "streaming"
    return client.stream("POST", f"{base}/chat-messages", json=payload, headers=headers)


def test_stop_sent_to_another_worker_ends_the_stream_at_once(
    cluster: Cluster, workers: tuple[str, str]
) -> None:
    a, b = workers
    frames: list[dict[str, Any]] = []
    with httpx.Client(headers=cluster.auth, timeout=10) as client:
        with _start(client, a) as response:
            for event_id, payload in _frames(response):
                assert event_id is None  # no opt-in: Dify's exact wire, no `id:` lines
                frames.append(payload)
                if sum(f["event"] == "message" for f in frames) == 3 and "sent" not in locals():
                    sent = time.perf_counter()
                    stop = client.post(
                        f"{b}/chat-messages/{payload['task_id']}/stop", json={"user": "alice"}
                    )
                    assert stop.json() == {"result": "success"}
            ended = time.perf_counter()
        latency = ended - sent
        print(f"\ncross-worker stop: stream on A ended {latency * 1000:.1f} ms after stop to B")
        assert latency < 0.25, f"stream ended {latency * 1000:.0f} ms after stop"
        assert [f["event"] for f in frames[-2:]] == ["message_end", "workflow_finished"]
        assert frames[-1]["data"]["status"] == "stopped"
        streamed = "".join(f["answer"] for f in frames if f["event"] == "message")
        assert 0 < len(streamed) < 200 * 6
        # Worker B reads the message back from the shared database: the partial answer.
        messages = client.get(
            f"{b}/messages",
            params={"conversation_id": frames[0]["conversation_id"], "user": "alice"},
        )
        [message] = messages.json()["data"]
        assert message["answer"] == streamed


def test_stream_resumes_on_another_worker_with_nothing_lost_or_repeated(
    cluster: Cluster, workers: tuple[str, str]
) -> None:
    a, b = workers
    with httpx.Client(headers=cluster.auth, timeout=30) as client:
        first: list[tuple[str | None, dict[str, Any]]] = []
        with _start(client, a, **RESUMABLE) as response:
            for item in _frames(response):
                first.append(item)
                if sum(p["event"] == "message" for _, p in first) == 5:
                    break  # the client drops the connection mid-answer
        time.sleep(0.3)  # the run goes on meanwhile: events pile up unread
        task_id, last_id = first[-1][1]["task_id"], first[-1][0]
        assert last_id is not None and all(event_id for event_id, _ in first)
        url = f"{b}/chat-messages/{task_id}/events"
        params = {"user": "alice"}
        with client.stream("GET", url, params=params, headers={"Last-Event-ID": last_id}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            rest = list(_frames(r))
        # The whole stream again (no Last-Event-ID), after the run ended: the reference.
        with client.stream("GET", url, params=params) as r:
            full = list(_frames(r))
    assert first + rest == full
    ids = [event_id for event_id, _ in full]
    assert len(set(ids)) == len(ids)
    assert full[-1][1]["event"] == "workflow_finished"
    assert full[-1][1]["data"]["status"] == "succeeded"
    answer = "".join(p["answer"] for _, p in full if p["event"] == "message")
    assert answer == "Hello there, friend!" * 40


def test_resume_is_scoped_and_checks_its_input(cluster: Cluster, workers: tuple[str, str]) -> None:
    a, b = workers
    with httpx.Client(headers=cluster.auth, timeout=30) as client:
        with _start(client, a, **RESUMABLE) as response:
            _, payload = next(_frames(response))
        url = f"{b}/chat-messages/{payload['task_id']}/events"
        assert client.get(url, params={"user": "mallory"}).status_code == 404
        assert client.get(f"{b}/chat-messages/nope/events", params={"user": "alice"}).json()[
            "code"
        ] == ("not_found")
        bad = client.get(url, params={"user": "alice"}, headers={"Last-Event-ID": "x"})
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_param"
        wrong_route = client.get(
            f"{b}/workflows/tasks/{payload['task_id']}/events", params={"user": "alice"}
        )
        assert wrong_route.status_code == 404
        client.post(f"{a}/chat-messages/{payload['task_id']}/stop", json={"user": "alice"})


async def _message(schema: str, message_id: str) -> tuple[str, str, str]:
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            f'SELECT r.status, m.status, m.answer FROM "{schema}".messages m '
            f'JOIN "{schema}".workflow_runs r ON r.id = m.workflow_run_id WHERE m.id = $1',
            message_id,
        )
    finally:
        await conn.close()
    assert row is not None
    return str(row[0]), str(row[1]), str(row[2])


async def _redis_state(prefix: str, task_id: str) -> tuple[bytes | None, int]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        closed = await client.hget(f"{prefix}:meta:{task_id}", "closed")  # type: ignore[misc]
        task_key = int(await client.exists(f"{prefix}:task:{task_id}"))
    finally:
        await client.aclose()
    return closed, task_key


def test_kill_9_of_a_worker_mid_run(cluster: Cluster, workers: tuple[str, str]) -> None:
    """kill -9 of the worker running an answer: within one heartbeat window (2 s here)
    its run is failed with the partial answer saved, a client following the stream on
    another worker gets `workflow_finished` (failed) and an `error` frame, the task's
    Redis state is closed (a stop answers at once), another worker's run goes on
    untouched, and a replacement worker serves at once."""
    a, b = workers
    doomed = cluster.start()
    proc = cluster.procs[-1]
    follower: list[dict[str, Any]] = []
    with httpx.Client(headers=cluster.auth, timeout=30) as client:
        # Another worker's run, going on through the crash.
        other_frames: list[dict[str, Any]] = []

        def other_run() -> None:
            with _start(client, a) as response:
                other_frames.extend(p for _, p in _frames(response))

        bystander = threading.Thread(target=other_run)
        bystander.start()
        with _start(client, doomed, **RESUMABLE) as response:
            frames = _frames(response)
            _, payload = next(frames)
            task_id = payload["task_id"]
            url = f"{b}/chat-messages/{task_id}/events"
            following = threading.Event()

            def follow() -> None:
                with client.stream("GET", url, params={"user": "alice"}) as r:
                    for _, item in _frames(r):
                        follower.append(item)
                        following.set()

            watcher = threading.Thread(target=follow)
            watcher.start()
            assert following.wait(10)
            while payload["event"] != "message" or len(follower) < 8:
                _, payload = next(frames)
            proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
        message_id = payload["message_id"]
        while asyncio.run(_message(cluster.schema, message_id))[0] == "running":
            assert time.monotonic() - killed < 10, "the dead worker's run stayed running"
            time.sleep(0.05)
        failed_after = time.monotonic() - killed
        print(f"\nkill -9 -> run failed in {failed_after:.2f} s (heartbeat window 2 s)")
        watcher.join(10)
        assert not watcher.is_alive()

        # The follower's stream ended with the run's failure, not silently.
        events = [f["event"] for f in follower]
        assert events[-2:] == ["workflow_finished", "error"], events[-3:]
        assert follower[-2]["data"]["status"] == "failed"
        assert follower[-1]["status"] == 500 and "interrupted" in follower[-1]["message"]
        # The partial answer is saved: exactly the text that was streamed before the crash.
        streamed = "".join(f["answer"] for f in follower if f["event"] == "message")
        assert streamed
        assert asyncio.run(_message(cluster.schema, message_id)) == ("failed", "error", streamed)
        # The task's Redis state is closed: a stop answers at once.
        assert asyncio.run(_redis_state(cluster.prefix, task_id)) == (b"1", 0)
        started = time.monotonic()
        stop = client.post(f"{b}/chat-messages/{task_id}/stop", json={"user": "alice"})
        assert stop.json() == {"result": "success"} and time.monotonic() - started < 1.5

        # The other worker's run was untouched.
        bystander.join(30)
        assert other_frames[-1]["event"] == "workflow_finished"
        assert other_frames[-1]["data"]["status"] == "succeeded"

        # A replacement worker serves at once.
        replacement = cluster.start()
        chat = {"inputs": {}, "query": "hi", "user": "alice", "response_mode": "blocking"}
        answer = client.post(f"{replacement}/chat-messages", json=chat)
        assert answer.status_code == 200 and answer.json()["answer"]
