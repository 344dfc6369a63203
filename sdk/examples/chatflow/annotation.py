"""Chatflow README's annotation group: create, list, update, delete, reply settings/status."""

import os

from chatflow_client.compat import (
    AnnotationReplySettingsRequest,
    AnnotationReplySettingsRequestBody,
    AnnotationReplyStatusRequest,
    Client,
    CreateAnnotationRequest,
    CreateAnnotationRequestBody,
    DeleteAnnotationRequest,
    GetAnnotationsRequest,
    RequestOption,
    UpdateAnnotationRequest,
    UpdateAnnotationRequestBody,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()
ann = client.chatflow.v1.annotation

body = CreateAnnotationRequestBody.builder().question("Q?").answer("A.").build()
created = ann.create_annotation(
    CreateAnnotationRequest.builder().request_body(body).build(), req_option
)
assert created.success and created.id, created.msg

listed = ann.get_annotations(GetAnnotationsRequest.builder().page(1).limit(20).build(), req_option)
assert listed.success and created.id in {a["id"] for a in listed.data or []}, listed.msg

new_body = UpdateAnnotationRequestBody.builder().question("Q2?").answer("A2.").build()
updated = ann.update_annotation(
    UpdateAnnotationRequest.builder().annotation_id(created.id).request_body(new_body).build(),
    req_option,
)
assert updated.success and updated.answer == "A2.", updated.msg

deleted = ann.delete_annotation(
    DeleteAnnotationRequest.builder().annotation_id(created.id).build(), req_option
)
assert deleted.success, deleted.msg

settings_body = (
    AnnotationReplySettingsRequestBody.builder()
    .embedding_provider_name("openai")
    .embedding_model_name("text-embedding-3-small")
    .score_threshold(0.8)
    .build()
)
job = ann.annotation_reply_settings(
    AnnotationReplySettingsRequest.builder().action("enable").request_body(settings_body).build(),
    req_option,
)
assert job.success and job.job_id, job.msg
status = ann.annotation_reply_status(
    AnnotationReplyStatusRequest.builder().action("enable").job_id(job.job_id).build(), req_option
)
assert status.success and status.job_status in {"waiting", "running", "completed", "failed"}
print("annotations ok:", status.job_status)
