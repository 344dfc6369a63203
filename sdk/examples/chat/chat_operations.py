"""Chat README's message operations: stop a generation, suggested questions, history; the
async twins (`achat` streaming, `asuggested`) too."""

import asyncio
import os

from chatflow_client.compat import (
    ChatRequest,
    ChatRequestBody,
    Client,
    GetMessageHistoryRequest,
    GetSuggestedQuestionsRequest,
    RequestOption,
    StopChatRequest,
    StopChatRequestBody,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()
chat = client.chat.v1.chat

body = ChatRequestBody.builder().inputs({}).query("Hello").user("user-ops").build()
sent = chat.chat(ChatRequest.builder().request_body(body).build(), req_option, False)
assert sent.success and sent.task_id and sent.id, sent.msg
message_id = sent.id

stopped = chat.stop(
    StopChatRequest.builder()
    .task_id(sent.task_id)
    .request_body(StopChatRequestBody.builder().user("user-ops").build())
    .build(),
    req_option,
)
assert stopped.success and stopped.result == "success", stopped.msg

suggested = client.chat.v1.message.suggested(
    GetSuggestedQuestionsRequest.builder().message_id(message_id).user("user-ops").build(),
    req_option,
)
assert suggested.success and suggested.data is not None, suggested.msg

assert sent.conversation_id
history = client.chat.v1.message.history(
    GetMessageHistoryRequest.builder()
    .conversation_id(sent.conversation_id)
    .user("user-ops")
    .limit(20)
    .build(),
    req_option,
)
assert history.success and history.data and history.data[0]["id"] == sent.id, history.msg


async def main() -> None:
    request = ChatRequest.builder().request_body(body).build()
    chunks = [chunk async for chunk in await chat.achat(request, req_option, True)]
    wire = b"".join(chunks)
    assert b'"event":"message_end"' in wire.replace(b" ", b""), wire[-300:]
    again = await client.chat.v1.message.asuggested(
        GetSuggestedQuestionsRequest.builder().message_id(message_id).user("user-ops").build(),
        req_option,
    )
    assert again.success, again.msg


asyncio.run(main())
print("chat operations ok")
