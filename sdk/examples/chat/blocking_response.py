"""Chat README "Basic Chat Message" (blocking)."""

import os

from chatflow_client.compat import ChatRequest, ChatRequestBody, Client, RequestOption

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()

req_body = (
    ChatRequestBody.builder()
    .inputs({})
    .query("Hello, how are you?")
    .response_mode("blocking")
    .user("user-123")
    .build()
)

req = ChatRequest.builder().request_body(req_body).build()
response = client.chat.v1.chat.chat(req, req_option, False)
print(response.answer)
assert response.success and response.answer, response.msg
