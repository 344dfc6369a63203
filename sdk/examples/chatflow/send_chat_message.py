"""Chatflow README "Basic Chatflow Message" (streaming), plus its blocking twin."""

import os

from chatflow_client.compat import (
    Client,
    RequestOption,
    SendChatMessageRequest,
    SendChatMessageRequestBody,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()

req_body = (
    SendChatMessageRequestBody.builder()
    .inputs({})
    .query("Hello, how can you help me?")
    .response_mode("streaming")
    .user("user-123")
    .build()
)

req = SendChatMessageRequest.builder().request_body(req_body).build()
response = client.chatflow.v1.chatflow.send_chat_message(req, req_option, True)

for chunk in response:
    print(chunk, end="", flush=True)

blocking = client.chatflow.v1.chatflow.send_chat_message(req, req_option, False)
assert blocking.success, blocking.msg
print("\nanswer:", blocking.answer)
