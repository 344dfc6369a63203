"""The dify-oapi2-style layer: builders produce the right requests; errors become responses."""

from __future__ import annotations

import json

import httpx

from chatflow_client.compat import (
    ChatFile,
    Client,
    DeleteConversationRequest,
    DeleteConversationRequestBody,
    GetConversationsRequest,
    RequestOption,
    SendChatMessageRequest,
    SendChatMessageRequestBody,
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
