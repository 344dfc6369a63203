"""The dify-oapi2-style layer: builders produce the right requests; errors become responses."""

from __future__ import annotations

import json
from io import BytesIO

import httpx
import pytest

from chatflow_client.compat import (
    ChatFile,
    Client,
    DeleteConversationRequest,
    DeleteConversationRequestBody,
    GetConversationsRequest,
    GetFeedbacksRequest,
    RequestOption,
    SendChatMessageRequest,
    SendChatMessageRequestBody,
    TextToAudioRequest,
    TextToAudioRequestBody,
    UploadFileBody,
    UploadFileRequest,
)


def build(handler: httpx.MockTransport) -> Client:
    client = Client.builder().domain("http://srv").max_retry_count(0).build()
    client.config.transport = handler
    return client


OPTION = RequestOption.builder().api_key("app-k").build()


def test_send_blocking_builds_dify_request_and_parses_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "m1", "answer": "hi", "conversation_id": "c1"})

    file = ChatFile.builder().type("image").transfer_method("remote_url").url("http://x").build()
    body = (
        SendChatMessageRequestBody.builder()
        .inputs({})
        .query("Q")
        .response_mode("streaming")  # overridden by stream=False, as in dify-oapi2
        .user("u")
        .files([file])
        .build()
    )
    req = SendChatMessageRequest.builder().request_body(body).build()
    answer = build(httpx.MockTransport(handler)).chatflow.v1.chatflow.send_chat_message(
        req, OPTION, False
    )
    assert answer.success and answer.answer == "hi" and answer.id == "m1"
    (sent,) = seen
    assert str(sent.url) == "http://srv/v1/chat-messages"
    assert sent.headers["authorization"] == "Bearer app-k"
    assert json.loads(sent.content) == {
        "inputs": {},
        "query": "Q",
        "response_mode": "blocking",
        "user": "u",
        "files": [{"type": "image", "transfer_method": "remote_url", "url": "http://x"}],
    }


def test_stream_yields_raw_sse_bytes() -> None:
    wire = b'data: {"event": "message", "answer": "a"}\n\n'

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["response_mode"] == "streaming"
        return httpx.Response(200, content=wire, headers={"content-type": "text/event-stream"})

    body = SendChatMessageRequestBody.builder().query("Q").user("u").inputs({}).build()
    req = SendChatMessageRequest.builder().request_body(body).build()
    chunks = build(httpx.MockTransport(handler)).chat.v1.chat.chat(req, OPTION, True)
    assert b"".join(chunks) == wire


def test_errors_come_back_as_unsuccessful_responses() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, json={"code": "not_found", "message": "Conversation Not Exists.", "status": 404}
        )

    body = DeleteConversationRequestBody.builder().user("u").build()
    req = DeleteConversationRequest.builder().conversation_id("c9").request_body(body).build()
    result = build(httpx.MockTransport(handler)).chatflow.v1.conversation.delete(req, OPTION)
    assert not result.success
    assert (result.code, result.msg) == ("not_found", "Conversation Not Exists.")


def test_query_builders() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [], "has_more": False, "limit": 5})

    req = GetConversationsRequest.builder().user("u").limit(5).sort_by("-created_at").build()
    page = build(httpx.MockTransport(handler)).chatflow.v1.conversation.get_conversations(
        req, OPTION
    )
    assert page.success and page.data == [] and page.has_more is False
    assert dict(seen[0].url.params) == {"user": "u", "limit": "5", "sort_by": "-created_at"}


def test_upload_is_multipart_with_the_body_as_form_fields() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "f1", "name": "a.txt", "size": 3})

    req = (
        UploadFileRequest.builder()
        .file(BytesIO(b"abc"), "a.txt")
        .request_body(UploadFileBody.builder().user("u").build())
        .build()
    )
    uploaded = build(httpx.MockTransport(handler)).chatflow.v1.file.upload(req, OPTION)
    assert uploaded.success and (uploaded.id, uploaded.size) == ("f1", 3)
    assert uploaded.raw is not None and uploaded.raw.status_code == 201
    (sent,) = seen
    assert sent.headers["content-type"].startswith("multipart/form-data")
    body = sent.read()
    assert b'name="user"\r\n\r\nu' in body
    assert b'filename="a.txt"' in body and b"Content-Type: text/plain" in body and b"abc" in body


def test_binary_answers_are_kept_in_raw() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content) == {"text": "hi", "user": "u"}
        return httpx.Response(200, content=b"ID3...", headers={"content-type": "audio/mpeg"})

    body = TextToAudioRequestBody.builder().text("hi").user("u").build()
    req = TextToAudioRequest.builder().request_body(body).build()
    audio = build(httpx.MockTransport(handler)).chat.v1.audio.from_text(req, OPTION)
    assert audio.success and audio.raw is not None
    assert (audio.raw.content, audio.raw.content_type) == (b"ID3...", "audio/mpeg")


def test_system_resources_need_an_api_key() -> None:
    req = GetFeedbacksRequest.builder().page(1).build()
    with pytest.raises(ValueError, match="api_key"):
        build(httpx.MockTransport(lambda r: httpx.Response(200))).dify.v1.feedback.list(req)
