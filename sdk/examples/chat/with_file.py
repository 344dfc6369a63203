"""Chat README "With File Upload" (a remote image URL), sent in blocking mode."""

import os

from chatflow_client.compat import ChatFile, ChatRequest, ChatRequestBody, Client, RequestOption

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()

req_file = (
    ChatFile.builder()
    .type("image")
    .transfer_method("remote_url")
    .url("https://example.com/image.jpg")
    .build()
)

req_body = (
    ChatRequestBody.builder()
    .query("What do you see in this image?")
    .files([req_file])
    .response_mode("blocking")
    .user("user-123")
    .build()
)

response = client.chat.v1.chat.chat(
    ChatRequest.builder().request_body(req_body).build(), req_option, False
)
assert response.success and response.answer, response.msg
print(response.answer)
