"""Chatflow group's file resource: upload a document, then ask about it in a chat message."""

import os
from io import BytesIO

from chatflow_client.compat import (
    ChatFile,
    Client,
    RequestOption,
    SendChatMessageRequest,
    SendChatMessageRequestBody,
    UploadFileBody,
    UploadFileRequest,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()

upload = (
    UploadFileRequest.builder()
    .file(BytesIO(b"The meeting is at 10am in room 4."), "notes.txt")
    .request_body(UploadFileBody.builder().user("user-123").build())
    .build()
)
uploaded = client.chatflow.v1.file.upload(upload, req_option)
assert uploaded.success and uploaded.id and uploaded.size == 33, uploaded.msg
print("uploaded", uploaded.name, uploaded.mime_type, uploaded.size)

file = ChatFile.builder().type("document").transfer_method("local_file")
body = (
    SendChatMessageRequestBody.builder()
    .inputs({})
    .query("When is the meeting?")
    .files([file.upload_file_id(uploaded.id).build()])
    .user("user-123")
    .build()
)
answer = client.chatflow.v1.chatflow.send(
    SendChatMessageRequest.builder().request_body(body).build(), req_option, False
)
assert answer.success and answer.answer, answer.msg
print(answer.answer)
