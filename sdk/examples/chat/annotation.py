"""Chat group's annotation resource (`client.chat.v1.annotation`), with its own names."""

import os

from chatflow_client.compat import (
    Client,
    ConfigureAnnotationReplyRequest,
    ConfigureAnnotationReplyRequestBody,
    CreateAnnotationRequest,
    CreateAnnotationRequestBody,
    DeleteAnnotationRequest,
    GetAnnotationReplyStatusRequest,
    ListAnnotationsRequest,
    RequestOption,
    UpdateAnnotationRequest,
    UpdateAnnotationRequestBody,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()
ann = client.chat.v1.annotation

created = ann.create(
    CreateAnnotationRequest.builder()
    .request_body(CreateAnnotationRequestBody.builder().question("Hours?").answer("9-5").build())
    .build(),
    req_option,
)
assert created.success and created.id, created.msg

updated = ann.update(
    UpdateAnnotationRequest.builder()
    .annotation_id(created.id)
    .request_body(UpdateAnnotationRequestBody.builder().question("Hours?").answer("9-6").build())
    .build(),
    req_option,
)
assert updated.success and updated.answer == "9-6", updated.msg

listed = ann.list(ListAnnotationsRequest.builder().page(1).limit(100).build(), req_option)
assert listed.success and created.id in {a["id"] for a in listed.data or []}, listed.msg

deleted = ann.delete(
    DeleteAnnotationRequest.builder().annotation_id(created.id).build(), req_option
)
assert deleted.success, deleted.msg

job = ann.configure(
    ConfigureAnnotationReplyRequest.builder()
    .action("disable")
    .request_body(ConfigureAnnotationReplyRequestBody.builder().score_threshold(0.9).build())
    .build(),
    req_option,
)
assert job.success and job.job_id, job.msg
status = ann.status(
    GetAnnotationReplyStatusRequest.builder().action("disable").job_id(job.job_id).build(),
    req_option,
)
assert status.success and status.job_status in {"waiting", "running", "completed"}, status.msg
print("chat annotations ok:", status.job_status)
