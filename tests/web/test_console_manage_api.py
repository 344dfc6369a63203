"""The console's management API over real HTTP: dataset keys, the Knowledge API behind
the operator session (`/console/api/kb`), annotations, tools (OpenAPI and MCP on real
loopback servers, missing tools mapped), model backends; and bad input of every kind on
each new route, which must be Dify's error envelope (4xx), never a 500. SQLite and
Postgres."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chatflow.tools import mappings, remote
from tests.api.conftest import LiveServer, assert_envelope
from tests.tools import mcp_demo, petstore
from tests.tools.loopback import serve
from tests.web.conftest import origin
from tests.web.console_support import app_id, console, operator

__all__ = ["console", "operator"]

pytestmark = pytest.mark.parametrize("live", ["sqlite", "postgres"], indirect=True)
LIVE_SETTINGS = {"ssrf_allow": "127.0.0.1"}

TOOL_DSL = """
app: {name: needs-tools, mode: advanced-chat}
kind: app
version: 0.3.0
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: clock
      data:
        type: tool
        title: Clock
        provider_type: builtin
        provider_id: acme/clock/clock
        provider_name: clock
        tool_name: now
        tool_parameters: {}
    - id: answer
      data: {type: answer, title: Answer, answer: '{{#clock.text#}}'}
    edges:
    - {id: e1, source: start, target: clock}
    - {id: e2, source: clock, target: answer}
"""


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with serve(mcp_demo.app("streamable_http")) as base:
        yield f"{base}/mcp"


def _wait_indexed(console: httpx.Client, dataset: str, batch: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        [doc] = console.get(f"/kb/datasets/{dataset}/documents/{batch}/indexing-status").json()[
            "data"
        ]
        if doc["indexing_status"] in ("completed", "error") or time.monotonic() > deadline:
            return dict(doc)
        time.sleep(0.1)


def test_dataset_keys_created_once_listed_without_token_and_revoked(
    server: LiveServer, console: httpx.Client
) -> None:
    created = console.post("/dataset-keys")
    assert created.status_code == 201
    token, key_id = created.json()["token"], created.json()["id"]
    assert token.startswith("dataset-")
    listed = console.get("/dataset-keys").json()["data"]
    assert key_id in [k["id"] for k in listed] and token not in json.dumps(listed)
    with httpx.Client(base_url=server.base_url) as api:
        bearer = {"Authorization": f"Bearer {token}"}
        assert api.get("/datasets", headers=bearer).status_code == 200
        assert console.delete(f"/dataset-keys/{key_id}").status_code == 204
        assert_envelope(api.get("/datasets", headers=bearer), 401)
    assert_envelope(console.delete(f"/dataset-keys/{key_id}"), 404, "api_key_not_found")


def test_knowledge_through_the_console_session(server: LiveServer, console: httpx.Client) -> None:
    body = {"name": "Console KB", "indexing_technique": "economy"}
    made = console.post("/kb/datasets", json=body)
    assert made.status_code == 200, made.text
    dataset = made.json()["id"]
    text = "Refunds are paid within 14 days.\n\nShipping to Mars costs extra credits."
    upload = console.post(
        f"/kb/datasets/{dataset}/document/create-by-file",
        files={"file": ("policy.txt", text.encode(), "text/plain")},
        data={"data": json.dumps({"indexing_technique": "economy"})},
    )
    assert upload.status_code == 200, upload.text
    status = _wait_indexed(console, dataset, upload.json()["batch"])
    assert status["indexing_status"] == "completed", status
    # A document over the 1 MiB JSON body limit uploads too (multipart has its own).
    big = ("Paragraph about nothing in particular. " * 40 + "\n\n") * 1500
    assert len(big) > 2 * 1024 * 1024
    large = console.post(
        f"/kb/datasets/{dataset}/document/create-by-file",
        files={"file": ("big.txt", big.encode(), "text/plain")},
    )
    assert large.status_code == 200, large.text
    document = upload.json()["document"]["id"]
    segments = console.get(f"/kb/datasets/{dataset}/documents/{document}/segments").json()["data"]
    assert segments and all(s["enabled"] for s in segments)
    hits = console.post(f"/kb/datasets/{dataset}/hit-testing", json={"query": "refunds days"})
    records = hits.json()["records"]
    assert records and "Refunds" in records[0]["segment"]["content"]
    assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(records))
    # A disabled chunk is no longer found.
    first = records[0]["segment"]["id"]
    off = console.post(
        f"/kb/datasets/{dataset}/documents/{document}/segments/{first}",
        json={"segment": {"enabled": False}},
    )
    assert off.status_code == 200 and off.json()["data"]["enabled"] is False
    again = console.post(f"/kb/datasets/{dataset}/hit-testing", json={"query": "refunds days"})
    assert first not in [r["segment"]["id"] for r in again.json()["records"]]
    # Without the CSRF token, or with only a dataset key, nothing changes.
    token = console.headers.pop("X-CSRF-Token")
    assert_envelope(console.delete(f"/kb/datasets/{dataset}"), 403, "forbidden")
    console.headers["X-CSRF-Token"] = token
    key = server.call(server.services.knowledge.create_key())
    with httpx.Client(base_url=origin(server) + "/console/api") as stranger:
        refused = stranger.get("/kb/datasets", headers={"Authorization": f"Bearer {key}"})
        assert_envelope(refused, 401, "console_login_required")
    assert console.delete(f"/kb/datasets/{dataset}").status_code == 204


def test_annotations_crud_search_and_reply(server: LiveServer, console: httpx.Client) -> None:
    app = app_id(console, "assistant")
    base = f"/apps/{app}/annotations"
    made = [
        console.post(base, json={"question": f"q{i} {'refund' if i % 2 else 'ship'}",
                                 "answer": f"a{i}"}).json()
        for i in range(5)
    ]  # fmt: skip
    assert all(m["hit_count"] == 0 for m in made)
    page = console.get(base, params={"limit": 2, "page": 1}).json()
    assert page["total"] >= 5 and len(page["data"]) == 2 and page["has_more"] is True
    found = console.get(base, params={"keyword": "refund"}).json()["data"]
    assert {a["question"] for a in found} == {"q1 refund", "q3 refund"}
    edited = console.put(f"{base}/{made[0]['id']}", json={"question": "q0 ship", "answer": "new"})
    assert edited.json()["answer"] == "new"
    assert console.delete(f"{base}/{made[0]['id']}").status_code == 204
    assert_envelope(console.delete(f"{base}/{made[0]['id']}"), 404)
    reply = f"/apps/{app}/annotation-reply"
    assert console.get(reply).json() == {"enabled": False, "score_threshold": None}
    job = console.put(reply, json={"enabled": True, "score_threshold": 0.8}).json()
    deadline = time.monotonic() + 30
    while True:
        state = console.get(f"{reply}/enable/status/{job['job_id']}").json()
        if state["job_status"] in ("completed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert state["job_status"] == "completed", state
    assert console.get(reply).json() == {"enabled": True, "score_threshold": 0.8}
    off = console.put(reply, json={"enabled": False}).json()
    assert off["action"] == "disable"


def test_tools_openapi_mcp_and_removal(
    server: LiveServer, console: httpx.Client, mcp_url: str
) -> None:
    listed = {p["id"]: p for p in console.get("/tools").json()["data"]}
    assert listed["time"]["kind"] == "builtin" and listed["time"]["tools"]
    spec = json.dumps(petstore.openapi3("http://127.0.0.1:9/v1"))
    added = console.post(
        "/tools/openapi",
        json={"name": "pets", "schema": spec, "headers": {"X-Api-Key": petstore.API_KEY}},
    )
    assert added.status_code == 201, added.text
    assert "listPets" in added.json()["tools"]
    mcp = console.post("/tools/mcp", json={"name": "demo", "url": mcp_url})
    assert mcp.status_code == 201, mcp.text
    assert {"echo", "add"} <= set(mcp.json()["tools"])
    listed = {p["id"]: p for p in console.get("/tools").json()["data"]}
    assert listed["pets"]["kind"] == "openapi"
    assert listed["pets"]["headers"] == {"X-Api-Key": "***"}
    assert listed["demo"]["kind"] == "mcp"
    assert "echo" in [t["name"] for t in listed["demo"]["tools"]]
    assert petstore.API_KEY not in console.get("/tools").text
    stored = remote.load(server.services.settings)
    assert set(stored["openapi"]) == {"pets"} and set(stored["mcp"]) == {"demo"}
    assert console.delete("/tools/demo").status_code == 204
    assert "demo" not in [p["id"] for p in console.get("/tools").json()["data"]]
    assert_envelope(console.delete("/tools/demo"), 404)
    assert_envelope(console.post("/tools/openapi", json={"name": "time", "schema": spec}), 400)
    assert console.delete("/tools/pets").status_code == 204
    # By URL: fetched through the SSRF guard (loopback is allowed in this module).
    with serve(petstore.app()) as base:
        body = {"name": "pets2", "url": f"{base}/openapi.json"}
        by_url = console.post("/tools/openapi", json=body)
    assert by_url.status_code == 201 and "listPets" in by_url.json()["tools"], by_url.text
    listed = {p["id"]: p for p in console.get("/tools").json()["data"]}
    assert listed["pets2"]["source"] == f"{base}/openapi.json"
    for bad in ({"X-Key:Y": "v"}, {"Bad Name": "v"}, {"X-Key": "a\r\nInjected: 1"}):
        body = {"name": "p3", "schema": spec, "headers": bad}
        refused = console.post("/tools/openapi", json=body)
        assert_envelope(refused, 400)
    assert console.delete("/tools/pets2").status_code == 204


def test_missing_tools_are_mapped_as_the_cli_maps_them(
    server: LiveServer, console: httpx.Client
) -> None:
    imported = console.post("/apps/import", json={"dsl": TOOL_DSL}).json()
    assert imported["missing_tools"]
    app = imported["app_id"]
    [missing] = console.get(f"/apps/{app}/tools").json()["missing_tools"]
    assert (missing["provider"], missing["tool"], missing["node"]) == (
        "acme/clock/clock", "now", "Clock")  # fmt: skip
    ref = {"provider": "acme/clock/clock", "tool": "now"}
    bad = console.put(f"/apps/{app}/tools", json={**ref, "target": "time:nope"})
    assert_envelope(bad, 400)
    mapped = console.put(
        f"/apps/{app}/tools",
        json={"provider": "acme/clock/clock", "tool": "now", "target": "time:current_time"},
    )
    assert mapped.status_code == 200 and mapped.json() == {"missing_tools": []}
    assert mappings.load(server.services.settings)["acme/clock/clock:now"] == "time:current_time"
    assert console.get(f"/apps/{app}/tools").json() == {"missing_tools": []}


def test_model_backends_are_read_only_settings(console: httpx.Client) -> None:
    body = console.get("/models").json()
    groups = {g["id"]: g for g in body["groups"]}
    assert groups["default"]["rows"][0] == {
        "label": "Backend for every DSL model", "value": "fake",
        "setting": "CHATFLOW_MODEL_BACKEND"}  # fmt: skip
    key_row = next(r for r in groups["openai"]["rows"] if r["label"] == "API key")
    assert key_row["value"] in ("set", "not set")
    assert body["queue"]["setting"] == "CHATFLOW_MODEL_QUEUE_MAX"
    assert body["queue"]["waiting"] >= 0 and body["queue"]["max"] >= 0


# -- bad input ---------------------------------------------------------------------------

BAD_BODIES: list[Any] = [
    b"not json",
    b"",
    b"[]",
    b"null",
    b'"text"',
    b"{}",
    b'{"name": 5, "url": [], "schema": {}, "headers": "x", "question": null, "answer": 7}',
    b'{"enabled": "maybe", "score_threshold": 9}',
    b'{"provider": "", "target": ""}',
    b'{"name": "' + b"x" * 200 + b'", "url": "file:///etc/passwd"}',
    b'{"name": "ok", "url": "", "schema": "openapi: [unclosed", "headers": {"Bad Name": "v"}}',
    b'{"name": "../../etc", "url": "http://10.0.0.1/spec.json"}',
    b'{"question": "' + b"q" * 100_001 + b'", "answer": "a"}',
]


def _write_routes(app: str) -> list[tuple[str, str]]:
    return [
        ("POST", "/dataset-keys"),
        ("POST", f"/apps/{app}/annotations"),
        ("PUT", f"/apps/{app}/annotations/00000000-0000-0000-0000-000000000000"),
        ("PUT", f"/apps/{app}/annotations/not-a-uuid"),
        ("PUT", f"/apps/{app}/annotation-reply"),
        ("POST", "/tools/openapi"),
        ("POST", "/tools/mcp"),
        ("PUT", f"/apps/{app}/tools"),
        ("POST", "/kb/datasets"),
        ("POST", "/kb/datasets/not-a-uuid/hit-testing"),
    ]


def test_bad_input_is_an_envelope_never_a_500(console: httpx.Client) -> None:
    app = app_id(console, "assistant")
    for method, path in _write_routes(app):
        for body in BAD_BODIES:
            response = console.request(
                method, path, content=body, headers={"Content-Type": "application/json"}
            )
            if response.status_code in (200, 201):
                continue  # an input that happens to be fine (e.g. a new dataset key)
            assert 400 <= response.status_code < 500, (method, path, body[:80], response.text)
            assert_envelope(response, response.status_code)
    for path in (
        f"/apps/{app}/annotations?page=x",
        f"/apps/{app}/annotations?limit=-5&keyword=" + "k" * 5000,
        "/apps/nope/annotations",
        "/apps/nope/annotation-reply",
        f"/apps/{app}/annotation-reply/enable/status/nope",
        "/apps/nope/tools",
        "/kb/datasets?page=zz",
        "/kb/datasets/00000000-0000-0000-0000-000000000000/documents",
    ):
        response = console.get(path)
        if response.status_code != 200:
            assert 400 <= response.status_code < 500, (path, response.text)
            assert_envelope(response, response.status_code)
    assert_envelope(console.delete("/tools/..%2F..%2Fetc"), 404)
    assert_envelope(console.delete("/dataset-keys/nope"), 404)


def test_new_routes_need_the_session_and_the_csrf_token(
    server: LiveServer, console: httpx.Client
) -> None:
    app = app_id(console, "assistant")
    with httpx.Client(base_url=origin(server) + "/console/api") as stranger:
        for path in ("/dataset-keys", "/tools", "/models", f"/apps/{app}/annotations",
                     f"/apps/{app}/tools", "/kb/datasets"):  # fmt: skip
            assert_envelope(stranger.get(path), 401, "console_login_required")
    token = console.headers.pop("X-CSRF-Token")
    try:
        for method, path in _write_routes(app):
            response = console.request(method, path, json={})
            assert_envelope(response, 403, "forbidden")
        assert_envelope(console.delete("/tools/pets"), 403, "forbidden")
    finally:
        console.headers["X-CSRF-Token"] = token
