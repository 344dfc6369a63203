"""Chatflow group's feedback resource: rate an answer, then list the app's feedbacks."""

import os

from chatflow_client.compat import (
    Client,
    GetFeedbacksRequest,
    RequestOption,
    SendChatMessageRequest,
    SendChatMessageRequestBody,
    SubmitFeedbackRequest,
    SubmitFeedbackRequestBody,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()

body = SendChatMessageRequestBody.builder().inputs({}).query("Hi").user("user-fb").build()
sent = client.chatflow.v1.chatflow.send(
    SendChatMessageRequest.builder().request_body(body).build(), req_option, False
)
assert sent.success and sent.id, sent.msg

rating = SubmitFeedbackRequestBody.builder().rating("like").user("user-fb").content("Nice").build()
submitted = client.chatflow.v1.feedback.submit(
    SubmitFeedbackRequest.builder().message_id(sent.id).request_body(rating).build(), req_option
)
assert submitted.success and submitted.result == "success", submitted.msg

listed = client.chatflow.v1.feedback.list(
    GetFeedbacksRequest.builder().page(1).limit(100).build(), req_option
)
assert listed.success and listed.data is not None, listed.msg
assert sent.id in {f["message_id"] for f in listed.data}
print("feedbacks:", len(listed.data))
