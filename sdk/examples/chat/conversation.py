"""Chat group's conversation resource (`client.chat.v1.conversation`), with its own names."""

import os

from chatflow_client.compat import (
    ChatRequest,
    ChatRequestBody,
    Client,
    DeleteConversationRequest,
    DeleteConversationRequestBody,
    GetConversationsListRequest,
    GetConversationVariablesRequest,
    GetMessageHistoryRequest,
    RenameConversationRequest,
    RenameConversationRequestBody,
    RequestOption,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()
conv = client.chat.v1.conversation

body = ChatRequestBody.builder().inputs({}).query("Hi").user("user-chat-conv").build()
sent = client.chat.v1.chat.chat(ChatRequest.builder().request_body(body).build(), req_option, False)
assert sent.success and sent.conversation_id, sent.msg
cid = sent.conversation_id

listed = conv.list(
    GetConversationsListRequest.builder().user("user-chat-conv").limit(20).build(), req_option
)
assert listed.success and listed.data and listed.data[0]["id"] == cid, listed.msg

history = conv.history(
    GetMessageHistoryRequest.builder().conversation_id(cid).user("user-chat-conv").build(),
    req_option,
)
assert history.success and history.data and history.data[0]["query"] == "Hi", history.msg

variables = conv.variables(
    GetConversationVariablesRequest.builder().conversation_id(cid).user("user-chat-conv").build(),
    req_option,
)
assert variables.success and variables.data is not None, variables.msg

renamed = conv.rename(
    RenameConversationRequest.builder()
    .conversation_id(cid)
    .request_body(
        RenameConversationRequestBody.builder().name("Chat").user("user-chat-conv").build()
    )
    .build(),
    req_option,
)
assert renamed.success and renamed.name == "Chat", renamed.msg

deleted = conv.delete(
    DeleteConversationRequest.builder()
    .conversation_id(cid)
    .request_body(DeleteConversationRequestBody.builder().user("user-chat-conv").build())
    .build(),
    req_option,
)
assert deleted.success, deleted.msg
print("chat conversation lifecycle ok")
