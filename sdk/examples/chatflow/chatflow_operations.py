"""Chatflow README's chatflow group: send, stop, suggested questions."""

import os

from chatflow_client.compat import (
    Client,
    GetSuggestedQuestionsRequest,
    RequestOption,
    SendChatMessageRequest,
    SendChatMessageRequestBody,
    StopChatMessageRequest,
    StopChatMessageRequestBody,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()

body = SendChatMessageRequestBody.builder().inputs({}).query("Hi").user("user-123").build()
req = SendChatMessageRequest.builder().request_body(body).build()
sent = client.chatflow.v1.chatflow.send(req, req_option, False)
assert sent.success and sent.task_id and sent.id, sent.msg

stop_body = StopChatMessageRequestBody.builder().user("user-123").build()
stop_req = StopChatMessageRequest.builder().task_id(sent.task_id).request_body(stop_body).build()
stopped = client.chatflow.v1.chatflow.stop_chat_message(stop_req, req_option)
assert stopped.success and stopped.result == "success", stopped.msg

sug_req = GetSuggestedQuestionsRequest.builder().message_id(sent.id).user("user-123").build()
suggested = client.chatflow.v1.chatflow.get_suggested_questions(sug_req, req_option)
assert suggested.success, suggested.msg
print("suggested:", suggested.data)
