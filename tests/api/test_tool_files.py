"""Tool files over the wire: a tool node's file arrives as a `message_file` event on a
real SSE stream, and its signed `/files/tools/{id}.{ext}` URL serves it over HTTP;
tampered, expired and path-like requests are refused with Dify's error envelope."""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import docx
import httpx

from tests.api.conftest import LiveServer, sse_events


def _chat(server: LiveServer, query: str) -> list[dict[str, Any]]:
    client = server.client("tools_chat")
    body = {"inputs": {}, "query": query, "response_mode": "streaming", "user": "ann"}
    with client.stream("POST", "/chat-messages", json=body) as response:
        assert response.status_code == 200
        return [e for e in sse_events(response.iter_lines()) if e["event"] != "ping"]


def _root(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.base_url.removesuffix("/v1"), timeout=10)
    server.clients.append(client)
    return client


def test_message_file_event_and_signed_url(server: LiveServer) -> None:
    events = _chat(server, "Sales rose **12%**.")
    names = [e["event"] for e in events]
    assert names[-2:] == ["message_end", "workflow_finished"], names
    files = [e for e in events if e["event"] == "message_file"]
    assert len(files) == 1
    frame = files[0]
    assert frame["belongs_to"] == "assistant" and frame["type"] == "document"
    assert frame["conversation_id"] and frame["message_id"] and frame["id"]
    # It comes right after the answer node that shows it, before the message ends.
    assert names.index("message_file") < names.index("message_end")
    url = frame["url"]
    assert url.startswith(f"/files/tools/{frame['id']}.docx?timestamp=")
    tool_node = next(
        e for e in events if e["event"] == "node_finished" and e["data"]["node_type"] == "tool"
    )
    assert tool_node["data"]["status"] == "succeeded"
    assert tool_node["data"]["outputs"]["files"][0]["filename"] == "report.docx"
    # As in Dify, node_finished and workflow_finished list the files among the outputs.
    (listed,) = tool_node["data"]["files"]
    assert listed["related_id"] == frame["id"] and listed["transfer_method"] == "tool_file"
    finished = next(e for e in events if e["event"] == "workflow_finished")
    assert [f["related_id"] for f in finished["data"]["files"]] == [frame["id"]]

    response = _root(server).get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert response.headers["content-security-policy"] == "sandbox"
    document = docx.Document(io.BytesIO(response.content))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Report" and "Sales rose 12%." in texts
    download = _root(server).get(url + "&as_attachment=true")
    assert "attachment; filename*=UTF-8''report.docx" in download.headers["content-disposition"]


def _signed(server: LiveServer) -> tuple[str, dict[str, str]]:
    events = _chat(server, "x")
    url = next(e for e in events if e["event"] == "message_file")["url"]
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_bad_signatures_are_refused(server: LiveServer) -> None:
    path, query = _signed(server)
    client = _root(server)
    assert client.get(path, params=query).status_code == 200
    cases = [
        {**query, "sign": query["sign"][:-4] + "AAA="},
        {**query, "nonce": "0" * 32},
        {**query, "timestamp": str(int(query["timestamp"]) + 1)},
        {k: v for k, v in query.items() if k != "sign"},
    ]
    for params in cases:
        response = client.get(path, params=params)
        assert response.status_code == 403, params
        assert response.json() == {
            "code": "forbidden",
            "message": "Invalid request.",
            "status": 403,
        }
    # The signature also covers time: an hour-old one has expired.
    old = str(int(time.time()) - 3600)
    assert client.get(path, params={**query, "timestamp": old}).status_code == 403


def test_ids_that_are_paths_never_reach_storage(server: LiveServer) -> None:
    client = _root(server)
    _, query = _signed(server)
    for path in (
        "/files/tools/..%2F..%2Fchatflow.db",
        "/files/tools/../../secret_key",
        "/files/tools/%2e%2e%2fsecret_key.txt",
        "/files/tools/00000000-0000-0000-0000-000000000000.docx",
    ):
        response = client.get(path, params=query)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert response.headers["content-type"].startswith("application/json")


def test_html_and_svg_tool_files_only_download(server: LiveServer) -> None:
    """A tool's HTML (md_to_html passes raw HTML through) never renders on this origin."""
    client = _root(server)
    for name, mime in (("page.html", "text/html"), ("chart.svg", "image/svg+xml")):
        saved = server.call(
            server.services.tool_files.save(b"<script>alert(1)</script>", name, mime)
        )
        response = client.get(saved.url or "")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.headers["content-security-policy"] == "sandbox"
        assert response.headers["x-content-type-options"] == "nosniff"
