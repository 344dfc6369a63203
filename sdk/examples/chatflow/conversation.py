"""Chatflow README's conversation group: list, messages, variables, rename, delete."""

import os

from chatflow_client.compat import (
    Client,
    DeleteConversationRequest,
    DeleteConversationRequestBody,
    GetConversationMessagesRequest,
    GetConversationsRequest,
    GetConversationVariablesRequest,
    RenameConversationRequest,
    RenameConversationRequestBody,
    RequestOption,
    SendChatMessageRequest,
    SendChatMessageRequestBody,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()
conv = client.chatflow.v1.conversation

body = SendChatMessageRequestBody.builder().inputs({}).query("Hi").user("user-conv").build()
sent = client.chatflow.v1.chatflow.send(
    SendChatMessageRequest.builder().request_body(body).build(), req_option, False
)
assert sent.success and sent.conversation_id, sent.msg

listed = conv.get_conversations(
    GetConversationsRequest.builder().user("user-conv").limit(20).sort_by("-updated_at").build(),
    req_option,
)
assert listed.success and listed.data, listed.msg

messages = conv.get_conversation_messages(
    GetConversationMessagesRequest.builder()
    .conversation_id(sent.conversation_id)
    .user("user-conv")
    .limit(20)
    .build(),
    req_option,
)
assert messages.success and messages.data, messages.msg

variables = conv.get_conversation_variables(
    GetConversationVariablesRequest.builder()
    .conversation_id(sent.conversation_id)
    .user("user-conv")
    .build(),
    req_option,
)
assert variables.success, variables.msg

rename_body = RenameConversationRequestBody.builder().name("Renamed").user("user-conv").build()
renamed = conv.rename_conversation(
    RenameConversationRequest.builder()
    .conversation_id(sent.conversation_id)
    .request_body(rename_body)
    .build(),
    req_option,
)
assert renamed.success and renamed.name == "Renamed", renamed.msg

delete_body = DeleteConversationRequestBody.builder().user("user-conv").build()
deleted = conv.delete_conversation(
    DeleteConversationRequest.builder()
    .conversation_id(sent.conversation_id)
    .request_body(delete_body)
    .build(),
    req_option,
)
assert deleted.success, deleted.msg
print("conversation lifecycle ok")
