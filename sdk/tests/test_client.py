"""Request building, retries and error mapping, through `httpx.MockTransport` (no server)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chatflow_client import (
    APIError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    InputFile,
    NotFoundError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
)

Handler = Callable[[httpx.Request], httpx.Response]
BASE = "http://test/v1"


class Recorder:
    """A MockTransport handler that records requests and replays scripted answers."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(rec: Recorder, **kw: Any) -> Client:
    return Client(BASE, "app-key", transport=httpx.MockTransport(rec), backoff=0, **kw)


def ok(body: Any = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"result": "success"})


def err(status: int, code: str, message: str = "boom") -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, "status": status})


def sent_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_blocking_chat_request_shape() -> None:
    rec = Recorder(ok({"event": "message", "id": "m1", "answer": "hi", "conversation_id": "c"}))
    files = [InputFile(type="image", transfer_method="remote_url", url="http://x/i.png")]
    answer = client(rec).chat.send("Hello", user="u1", inputs={"a": "b"}, files=files)
    assert answer.answer == "hi" and answer.id == "m1"
    (req,) = rec.requests
    assert req.method == "POST" and str(req.url) == f"{BASE}/chat-messages"
    assert req.headers["authorization"] == "Bearer app-key"
    assert sent_json(req) == {
        "query": "Hello",
        "inputs": {"a": "b"},
        "response_mode": "blocking",
        "user": "u1",
        "files": [{"type": "image", "transfer_method": "remote_url", "url": "http://x/i.png"}],
    }


@pytest.mark.parametrize(
    ("call", "method", "path", "query", "body"),
    [
        (lambda c: c.chat.stop("t1", user="u"), "POST", "/chat-messages/t1/stop", {},
         {"user": "u"}),
        (lambda c: c.messages.suggested("m1", user="u"), "GET", "/messages/m1/suggested",
         {"user": "u"}, None),
        (lambda c: c.messages.list("c1", user="u", limit=5), "GET", "/messages",
         {"conversation_id": "c1", "user": "u", "limit": "5"}, None),
        (lambda c: c.conversations.list(user="u", sort_by="-created_at"), "GET", "/conversations",
         {"user": "u", "sort_by": "-created_at"}, None),
        (lambda c: c.conversations.rename("c1", user="u", auto_generate=True), "POST",
         "/conversations/c1/name", {}, {"auto_generate": True, "user": "u"}),
        (lambda c: c.conversations.delete("c1", user="u"), "DELETE", "/conversations/c1", {},
         {"user": "u"}),
        (lambda c: c.conversations.variables("c1", user="u", variable_name="v"), "GET",
         "/conversations/c1/variables", {"user": "u", "variable_name": "v"}, None),
        (lambda c: c.conversations.update_variable("c1", "v1", value=[1], user="u"), "PUT",
         "/conversations/c1/variables/v1", {}, {"value": [1], "user": "u"}),
        (lambda c: c.feedbacks.create("m1", rating=None, user="u"), "POST",
         "/messages/m1/feedbacks", {}, {"rating": None, "user": "u"}),
        (lambda c: c.feedbacks.list(page=1, limit=101), "GET", "/app/feedbacks",
         {"page": "1", "limit": "101"}, None),
        (lambda c: c.files.preview("f1", as_attachment=True), "GET", "/files/f1/preview",
         {"as_attachment": "true"}, None),
        (lambda c: c.end_users.get("e1"), "GET", "/end-users/e1", {}, None),
        (lambda c: c.audio.to_audio(text="hi", user="u"), "POST", "/text-to-audio", {},
         {"text": "hi", "user": "u"}),
        (lambda c: c.app.info(), "GET", "/info", {}, None),
        (lambda c: c.app.parameters(user="u"), "GET", "/parameters", {"user": "u"}, None),
        (lambda c: c.app.meta(), "GET", "/meta", {}, None),
        (lambda c: c.app.site(), "GET", "/site", {}, None),
        (lambda c: c.annotations.list(page=2, keyword="k"), "GET", "/apps/annotations",
         {"page": "2", "keyword": "k"}, None),
        (lambda c: c.annotations.create(question="q", answer="a"), "POST", "/apps/annotations",
         {}, {"question": "q", "answer": "a"}),
        (lambda c: c.annotations.update("a1", question="q", answer="a"), "PUT",
         "/apps/annotations/a1", {}, {"question": "q", "answer": "a"}),
        (lambda c: c.annotations.delete("a1"), "DELETE", "/apps/annotations/a1", {}, None),
        (lambda c: c.annotations.reply_settings("enable", score_threshold=0.9,
         embedding_provider_name="p", embedding_model_name="m"), "POST",
         "/apps/annotation-reply/enable", {},
         {"score_threshold": 0.9, "embedding_provider_name": "p", "embedding_model_name": "m"}),
        (lambda c: c.annotations.reply_status("disable", "j1"), "GET",
         "/apps/annotation-reply/disable/status/j1", {}, None),
        (lambda c: c.workflows.get_run("r1"), "GET", "/workflows/run/r1", {}, None),
        (lambda c: c.workflows.logs(status="failed", limit=3), "GET", "/workflows/logs",
         {"status": "failed", "limit": "3"}, None),
        (lambda c: c.workflows.run(inputs={"x": 1}, user="u"), "POST", "/workflows/run", {},
         {"inputs": {"x": 1}, "response_mode": "blocking", "user": "u"}),
        (lambda c: c.workflows.stop("t1", user="u"), "POST", "/workflows/tasks/t1/stop", {},
         {"user": "u"}),
    ],
)  # fmt: skip
def test_operation_request_shape(
    call: Callable[[Client], object], method: str, path: str, query: dict[str, str], body: Any
) -> None:
    canned = {
        "id": "x", "job_id": "j", "job_status": "waiting", "data": [], "result": "success",
    }  # fmt: skip
    if path == "/workflows/run":
        canned["data"] = {"id": "r", "status": "succeeded"}
    rec = Recorder(ok(canned))
    call(client(rec))
    (req,) = rec.requests
    assert (req.method, req.url.path) == (method, "/v1" + path)
    assert dict(req.url.params) == query
    assert (sent_json(req) if req.content else None) == body


def test_file_upload_is_multipart_with_user(tmp_path: Any) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    rec = Recorder(ok({"id": "f1", "name": "notes.txt", "size": 5}, status=201))
    uploaded = client(rec).files.upload(path, user="u1")
    assert uploaded.id == "f1"
    req = rec.requests[0]
    assert req.headers["content-type"].startswith("multipart/form-data")
    assert b'name="user"\r\n\r\nu1' in req.content
    assert b'filename="notes.txt"' in req.content and b"text/plain" in req.content


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "invalid_param", BadRequestError),
        (401, "unauthorized", AuthenticationError),
        (404, "conversation_not_exists", NotFoundError),
        (429, "too_many_requests", RateLimitError),
        (500, "internal_server_error", ServerError),
    ],
)
def test_error_envelope_maps_to_typed_error(status: int, code: str, error: type[APIError]) -> None:
    rec = Recorder(err(status, code, "nope"))
    with pytest.raises(error) as info:
        client(rec, max_retries=0).conversations.list(user="u")
    assert (info.value.status, info.value.code, info.value.message) == (status, code, "nope")


def test_non_json_error_still_maps() -> None:
    rec = Recorder(httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ServerError) as info:
        client(rec, max_retries=0).app.info()
    assert info.value.code == "bad_gateway"


def test_get_is_retried_on_503_then_succeeds() -> None:
    rec = Recorder(err(503, "unavailable"), err(503, "unavailable"), ok({"name": "app"}))
    assert client(rec, max_retries=2).app.info().name == "app"
    assert len(rec.requests) == 3


def test_retries_stop_at_max_retries() -> None:
    rec = Recorder(err(503, "unavailable"))
    with pytest.raises(ServerError):
        client(rec, max_retries=1).app.info()
    assert len(rec.requests) == 2


def test_get_is_retried_on_read_timeout() -> None:
    rec = Recorder(httpx.ReadTimeout("slow"), ok({"name": "app"}))
    assert client(rec).app.info().name == "app"


@pytest.mark.parametrize(
    "failure", [err(503, "unavailable"), err(429, "rate"), httpx.ReadTimeout("slow")]
)
def test_chat_message_is_never_sent_twice(failure: httpx.Response | Exception) -> None:
    rec = Recorder(failure, ok({"answer": "late"}))
    with pytest.raises((APIError, TransportError)):
        client(rec, max_retries=3).chat.send("hi", user="u")
    assert len(rec.requests) == 1


def test_post_is_retried_when_the_connection_never_opened() -> None:
    rec = Recorder(httpx.ConnectError("refused"), ok({"answer": "ok", "id": "m"}))
    assert client(rec).chat.send("hi", user="u").answer == "ok"
    assert len(rec.requests) == 2


def test_timeouts_surface_as_timeout_error() -> None:
    rec = Recorder(httpx.ReadTimeout("slow"))
    with pytest.raises(TimeoutError):
        client(rec, max_retries=0).app.info()


def test_retry_after_header_is_honoured() -> None:
    c = client(Recorder(ok()))
    assert c.retry_delay(0, httpx.Response(429, headers={"Retry-After": "2"})) == 2.0
    assert c.retry_delay(3) == 0  # backoff=0 in tests


async def test_async_client_builds_the_same_requests() -> None:
    rec = Recorder(err(503, "x"), ok({"data": [], "has_more": False, "limit": 20}))
    transport = httpx.MockTransport(rec)
    async with AsyncClient(BASE, "app-key", transport=transport, backoff=0) as ac:
        page = await ac.conversations.list(user="u", last_id="c9")
    assert page.has_more is False
    assert len(rec.requests) == 2
    assert dict(rec.requests[-1].url.params) == {"user": "u", "last_id": "c9"}


async def test_async_chat_message_is_never_sent_twice() -> None:
    rec = Recorder(err(503, "x"), ok({"answer": "late"}))
    async with AsyncClient(BASE, "k", transport=httpx.MockTransport(rec), backoff=0) as ac:
        with pytest.raises(ServerError):
            await ac.chat.send("hi", user="u")
    assert len(rec.requests) == 1
