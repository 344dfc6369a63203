"""The http-request node against a real loopback HTTP server (allowed via ssrf_allow)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import http_request, spec_for
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path == "/binary":
            self._send(200, PNG, "image/png")
        elif url.path == "/attachment":
            self._send(
                200, b"a,b\n1,2\n", "text/csv", Content_Disposition='attachment; filename="r.csv"'
            )
        elif url.path == "/big":
            self._send(200, b"x" * int(dict(parse_qsl(url.query))["n"]), "text/plain")
        elif url.path.startswith("/status/"):
            self._send(int(url.path.rsplit("/", 1)[1]), b"nope", "text/plain")
        elif url.path == "/redirect":
            self._send(302, b"", "text/plain", Location=dict(parse_qsl(url.query))["to"])
        elif url.path == "/slow":
            time.sleep(1.5)
            self._send(200, b"late", "text/plain")
        else:
            echo = {
                "method": self.command,
                "path": url.path,
                "query": parse_qsl(url.query),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": base64.b64encode(raw).decode(),
            }
            self._send(200, json.dumps(echo).encode(), "application/json", X_Echo="yes")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _NoModels:
    def llm(self, provider: str, model: str) -> Any:
        raise AssertionError("http-request never calls a model")

    def embedder(self) -> Any:
        raise AssertionError("http-request never embeds")


class FileStore:
    """A real in-memory store standing in for the server's upload storage."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {"up1": b"file-bytes"}

    async def read(self, file: Any) -> bytes:
        return self.blobs[file.id]

    async def save(self, content: bytes, filename: str, mime_type: str) -> File:
        file_id = f"saved{len(self.blobs)}"
        self.blobs[file_id] = content
        return File(
            type="image" if mime_type.startswith("image/") else "document",
            transfer_method="tool_file",
            id=file_id,
            filename=filename,
            mime_type=mime_type,
            size=len(content),
        )


UPLOAD = File(
    type="document",
    transfer_method="local_file",
    id="up1",
    filename="a.txt",
    mime_type="text/plain",
)


async def _run(
    server: str,
    data: dict[str, Any],
    *,
    allow: str = "127.0.0.0/8",
    store: FileStore | None = None,
    limits: EngineLimits | None = None,
) -> NodeResult:
    pool = VariablePool(system={"query": "hi there"})
    pool.set("start", "token", "tok-123")
    pool.set("start", "base", server)
    pool.set("start", "doc", UPLOAD)
    store = store or FileStore()
    services = EngineServices(
        models=_NoModels(),
        limits=limits or EngineLimits(),
        file_reader=store.read,
        file_saver=store.save,
        ssrf_allow=allow,
    )
    config = http_request.Config.model_validate({"type": "http-request", **data})
    events = [e async for e in http_request.run(NodeContext("http", pool, services), config)]
    assert len(events) == 1 and isinstance(events[0], NodeResult)
    return events[0]


def _echo(result: NodeResult) -> dict[str, Any]:
    assert result.outputs["status_code"] == 200
    echo: dict[str, Any] = json.loads(result.outputs["body"])
    return echo


def test_registered() -> None:
    spec = spec_for("http-request")
    assert spec is not None and spec.config is http_request.Config


async def test_get_with_templated_url_params_and_headers(server: str) -> None:
    result = await _run(
        server,
        {
            "method": "GET",
            "url": "{{#start.base#}}/items",
            "params": "q:{{#sys.query#}}\nlimit: 5",
            "headers": "X-Token:{{#start.token#}}\nAccept: application/json",
        },
    )
    echo = _echo(result)
    assert echo["method"] == "GET" and echo["path"] == "/items"
    assert echo["query"] == [["q", "hi there"], ["limit", "5"]]
    assert echo["headers"]["x-token"] == "tok-123"
    assert result.outputs["headers"]["x-echo"] == "yes"
    assert result.outputs["files"] == []
    assert "X-Token: tok-123" in result.process_data["request"]


async def test_list_format_headers_and_params(server: str) -> None:
    result = await _run(
        server,
        {
            "url": f"{server}/list",
            "headers": [{"key": "X-A", "value": "{{#start.token#}}"}],
            "params": [{"key": "p", "value": "1"}, {"key": "", "value": "ignored"}],
        },
    )
    echo = _echo(result)
    assert echo["headers"]["x-a"] == "tok-123"
    assert echo["query"] == [["p", "1"]]


async def test_loopback_is_refused_without_the_allow_list(server: str) -> None:
    with pytest.raises(NodeError, match="not allowed") as caught:
        await _run(server, {"url": f"{server}/x"}, allow="")
    assert caught.value.error_type == "HttpRequestNodeError"


async def test_redirect_to_metadata_is_refused(server: str) -> None:
    with pytest.raises(NodeError, match=r"169\.254\.169\.254"):
        await _run(server, {"url": f"{server}/redirect?to=http://169.254.169.254/latest/"})


async def test_json_body(server: str) -> None:
    body = {"type": "json", "data": [{"type": "text", "value": '{"q": "{{#sys.query#}}"}'}]}
    echo = _echo(await _run(server, {"method": "post", "url": f"{server}/j", "body": body}))
    assert json.loads(base64.b64decode(echo["body"])) == {"q": "hi there"}
    assert echo["headers"]["content-type"] == "application/json"


async def test_invalid_json_body_fails(server: str) -> None:
    body = {"type": "json", "data": [{"type": "text", "value": "{not json"}]}
    with pytest.raises(NodeError, match=r"Failed to parse JSON: \{not json"):
        await _run(server, {"method": "post", "url": f"{server}/j", "body": body})


async def test_raw_text_body_legacy_string(server: str) -> None:
    body = {"type": "raw-text", "data": "hello {{#sys.query#}}"}
    echo = _echo(await _run(server, {"method": "put", "url": f"{server}/t", "body": body}))
    assert base64.b64decode(echo["body"]) == b"hello hi there"
    assert echo["headers"]["content-type"] == "text/plain"


async def test_urlencoded_body(server: str) -> None:
    body = {
        "type": "x-www-form-urlencoded",
        "data": [{"key": "a", "type": "text", "value": "{{#start.token#}}"}],
    }
    echo = _echo(await _run(server, {"method": "post", "url": f"{server}/f", "body": body}))
    assert base64.b64decode(echo["body"]) == b"a=tok-123"


async def test_form_data_with_a_file(server: str) -> None:
    body = {
        "type": "form-data",
        "data": [
            {"key": "note", "type": "text", "value": "{{#sys.query#}}"},
            {"key": "upload", "type": "file", "file": ["start", "doc"]},
        ],
    }
    echo = _echo(await _run(server, {"method": "post", "url": f"{server}/m", "body": body}))
    raw = base64.b64decode(echo["body"])
    assert echo["headers"]["content-type"].startswith("multipart/form-data")
    assert b'name="note"\r\n\r\nhi there' in raw
    assert b'filename="a.txt"' in raw and b"file-bytes" in raw


async def test_binary_body(server: str) -> None:
    body = {"type": "binary", "data": [{"type": "file", "file": ["start", "doc"]}]}
    echo = _echo(await _run(server, {"method": "post", "url": f"{server}/b", "body": body}))
    assert base64.b64decode(echo["body"]) == b"file-bytes"
    assert echo["headers"]["content-type"] == "text/plain"


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ({"type": "bearer", "api_key": "{{#start.token#}}"}, "authorization", "Bearer tok-123"),
        (
            {"type": "basic", "api_key": "user:pass"},
            "authorization",
            "Basic " + base64.b64encode(b"user:pass").decode(),
        ),
        ({"type": "custom", "api_key": "k1", "header": "X-Api-Key"}, "x-api-key", "k1"),
    ],
)
async def test_authorization(server: str, auth: dict[str, str], header: str, value: str) -> None:
    data = {"url": f"{server}/a", "authorization": {"type": "api-key", "config": auth}}
    result = await _run(server, data)
    assert _echo(result)["headers"][header] == value
    assert value not in result.process_data["request"]  # credentials are masked


async def test_binary_response_becomes_a_file(server: str) -> None:
    store = FileStore()
    result = await _run(server, {"url": f"{server}/binary"}, store=store)
    assert result.outputs["body"] == ""
    [file] = result.outputs["files"]
    assert file.mime_type == "image/png" and file.filename == "binary"
    assert store.blobs[file.id] == PNG


async def test_attachment_response_becomes_a_named_file(server: str) -> None:
    result = await _run(server, {"url": f"{server}/attachment"})
    [file] = result.outputs["files"]
    assert file.filename == "r.csv" and file.mime_type == "text/csv"


async def test_error_status_does_not_fail_the_node(server: str) -> None:
    result = await _run(server, {"url": f"{server}/status/404"})
    assert result.outputs["status_code"] == 404
    assert result.outputs["body"] == "nope"


async def test_text_size_limit(server: str) -> None:
    limits = EngineLimits(http_max_text_size=1000)
    assert (
        len((await _run(server, {"url": f"{server}/big?n=1000"}, limits=limits)).outputs["body"])
        == 1000
    )
    with pytest.raises(NodeError, match=r"Text size is too large, max size is 0\.00 MB") as caught:
        await _run(server, {"url": f"{server}/big?n=1001"}, limits=limits)
    assert caught.value.error_type == "ResponseSizeError"


async def test_response_larger_than_every_limit_stops_reading(server: str) -> None:
    limits = EngineLimits(http_max_text_size=100, http_max_binary_size=200)
    with pytest.raises(NodeError, match="Response size is too large"):
        await _run(server, {"url": f"{server}/big?n=100000"}, limits=limits)


async def test_read_timeout(server: str) -> None:
    with pytest.raises(NodeError, match="HTTP request failed: ReadTimeout") as caught:
        await _run(server, {"url": f"{server}/slow", "timeout": {"read": 0.3}})
    assert caught.value.error_type == "HttpRequestNodeError"


async def test_non_http_scheme_is_refused(server: str) -> None:
    with pytest.raises(NodeError, match="scheme 'file' is not allowed"):
        await _run(server, {"url": "file:///etc/passwd"})
