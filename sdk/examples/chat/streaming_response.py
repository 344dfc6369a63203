"""Chat README "Streaming Response"."""

import os

from chatflow_client.compat import ChatRequest, ChatRequestBody, Client, RequestOption

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()

req_body = (
    ChatRequestBody.builder()
    .query("Tell me a long story")
    .response_mode("streaming")
    .user("user-123")
    .build()
)

req = ChatRequest.builder().request_body(req_body).build()
response = client.chat.v1.chat.chat(req, req_option, True)

for chunk in response:
    print(chunk, end="", flush=True)
