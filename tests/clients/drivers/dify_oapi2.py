"""Drive `dify-oapi2` (module `dify_oapi`): every chatflow, conversation and annotation
method of `client.chatflow.v1`, plus its file, feedback, application and tts resources."""

from __future__ import annotations

import io
from typing import Any

from dify_oapi.api.chatflow.v1.model import (
    annotation_reply_settings_request as ars,
)
from dify_oapi.api.chatflow.v1.model import (
    annotation_reply_settings_request_body as arsb,
)
from dify_oapi.api.chatflow.v1.model import (
    annotation_reply_status_request as arst,
)
from dify_oapi.api.chatflow.v1.model import (
    create_annotation_request as ca,
)
from dify_oapi.api.chatflow.v1.model import (
    create_annotation_request_body as cab,
)
from dify_oapi.api.chatflow.v1.model import (
    delete_annotation_request as da,
)
from dify_oapi.api.chatflow.v1.model import (
    delete_conversation_request as dc,
)
from dify_oapi.api.chatflow.v1.model import (
    delete_conversation_request_body as dcb,
)
from dify_oapi.api.chatflow.v1.model import (
    get_annotations_request as ga,
)
from dify_oapi.api.chatflow.v1.model import (
    get_conversation_messages_request as gcm,
)
from dify_oapi.api.chatflow.v1.model import (
    get_conversation_variables_request as gcv,
)
from dify_oapi.api.chatflow.v1.model import (
    get_conversations_request as gc,
)
from dify_oapi.api.chatflow.v1.model import (
    get_suggested_questions_request as gsq,
)
from dify_oapi.api.chatflow.v1.model import (
    rename_conversation_request as rc,
)
from dify_oapi.api.chatflow.v1.model import (
    rename_conversation_request_body as rcb,
)
from dify_oapi.api.chatflow.v1.model import (
    send_chat_message_request as scm,
)
from dify_oapi.api.chatflow.v1.model import (
    send_chat_message_request_body as scmb,
)
from dify_oapi.api.chatflow.v1.model import (
    stop_chat_message_request as sc,
)
from dify_oapi.api.chatflow.v1.model import (
    stop_chat_message_request_body as scb,
)
from dify_oapi.api.chatflow.v1.model import (
    update_annotation_request as ua,
)
from dify_oapi.api.chatflow.v1.model import (
    update_annotation_request_body as uab,
)
from dify_oapi.api.dify.v1.model import (
    audio_to_text_request as att,
)
from dify_oapi.api.dify.v1.model import (
    audio_to_text_request_body as attb,
)
from dify_oapi.api.dify.v1.model import (
    get_feedbacks_request as gf,
)
from dify_oapi.api.dify.v1.model import (
    get_info_request as gi,
)
from dify_oapi.api.dify.v1.model import (
    get_meta_request as gm,
)
from dify_oapi.api.dify.v1.model import (
    get_parameters_request as gp,
)
from dify_oapi.api.dify.v1.model import (
    get_site_request as gs,
)
from dify_oapi.api.dify.v1.model import (
    submit_feedback_request as sf,
)
from dify_oapi.api.dify.v1.model import (
    submit_feedback_request_body as sfb,
)
from dify_oapi.api.dify.v1.model import (
    text_to_audio_request as tta,
)
from dify_oapi.api.dify.v1.model import (
    text_to_audio_request_body as ttab,
)
from dify_oapi.api.dify.v1.model import (
    upload_file_body as ufb,
)
from dify_oapi.api.dify.v1.model import (
    upload_file_request as uf,
)
from dify_oapi.client import Client
from dify_oapi.core.model.request_option import RequestOption
from tally import KEY, ROOT, SPEECH_KEY, USER, Tally

t = Tally("dify-oapi2")
client = Client.builder().domain(ROOT).build()
option = RequestOption.builder().api_key(KEY).build()
speech_option = RequestOption.builder().api_key(SPEECH_KEY).build()
v1 = client.chatflow.v1


def ok(response: Any) -> Any:
    assert response.success, f"{response.code}: {response.msg}"
    return response


def send(query: str, stream: bool, conversation_id: str | None = None) -> Any:
    body = scmb.SendChatMessageRequestBody.builder().inputs({}).query(query).user(USER)
    body = body.response_mode("streaming" if stream else "blocking")
    if conversation_id:
        body = body.conversation_id(conversation_id)
    request = scm.SendChatMessageRequest.builder().request_body(body.build()).build()
    result = v1.chatflow.send(request, option, stream)
    return b"".join(result) if stream else ok(result)


first = t.call("chatflow.send(blocking)", lambda: send("Hello", False), lambda r: r.answer)
cid = first.conversation_id if first else ""
mid = first.id if first else ""  # the SDK models the blocking answer as a message
streamed = t.call(
    "chatflow.send(streaming)",
    lambda: send("Hi", True, cid),
    lambda raw: b'"event":"message_end"' in raw or b'"event": "message_end"' in raw,
)
t.call(
    "chatflow.stop",
    lambda: ok(
        v1.chatflow.stop(
            sc.StopChatMessageRequest.builder()
            .task_id("unknown-task")
            .request_body(scb.StopChatMessageRequestBody.builder().user(USER).build())
            .build(),
            option,
        )
    ),
    lambda r: r.result == "success",
)
t.call(
    "chatflow.suggested",
    lambda: ok(
        v1.chatflow.suggested(
            gsq.GetSuggestedQuestionsRequest.builder().message_id(mid).user(USER).build(), option
        )
    ),
    lambda r: r.result == "success",
)
t.call(
    "conversation.list",
    lambda: ok(
        v1.conversation.list(
            gc.GetConversationsRequest.builder()
            .user(USER)
            .limit(20)
            .sort_by("-updated_at")
            .build(),
            option,
        )
    ),
    lambda r: any(c.id == cid for c in r.data),
)
t.call(
    "conversation.messages",
    lambda: ok(
        v1.conversation.messages(
            gcm.GetConversationMessagesRequest.builder()
            .conversation_id(cid)
            .user(USER)
            .limit(20)
            .build(),
            option,
        )
    ),
    lambda r: len(r.data) == 2,
)
t.call(
    "conversation.variables",
    lambda: ok(
        v1.conversation.variables(
            gcv.GetConversationVariablesRequest.builder().conversation_id(cid).user(USER).build(),
            option,
        )
    ),
)
t.call(
    "conversation.rename",
    lambda: ok(
        v1.conversation.rename(
            rc.RenameConversationRequest.builder()
            .conversation_id(cid)
            .request_body(
                rcb.RenameConversationRequestBody.builder()
                .name("renamed")
                .auto_generate(False)
                .user(USER)
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.name == "renamed",
)
created = t.call(
    "annotation.create",
    lambda: ok(
        v1.annotation.create(
            ca.CreateAnnotationRequest.builder()
            .request_body(
                cab.CreateAnnotationRequestBody.builder()
                .question("What is tea?")
                .answer("A drink.")
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.id,
)
aid = created.id if created else "x"
t.call(
    "annotation.list",
    lambda: ok(
        v1.annotation.list(ga.GetAnnotationsRequest.builder().page(1).limit(20).build(), option)
    ),
    lambda r: r.total >= 1,
)
t.call(
    "annotation.update",
    lambda: ok(
        v1.annotation.update(
            ua.UpdateAnnotationRequest.builder()
            .annotation_id(aid)
            .request_body(
                uab.UpdateAnnotationRequestBody.builder()
                .question("What is tea?")
                .answer("Leaves.")
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.answer == "Leaves.",
)
job = t.call(
    "annotation.reply_settings",
    lambda: ok(
        v1.annotation.reply_settings(
            ars.AnnotationReplySettingsRequest.builder()
            .action("enable")
            .request_body(
                arsb.AnnotationReplySettingsRequestBody.builder()
                .embedding_provider_name("local")
                .embedding_model_name("all-minilm-l6-v2")
                .score_threshold(0.9)
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.job_id,
)
t.call(
    "annotation.reply_status",
    lambda: ok(
        v1.annotation.reply_status(
            arst.AnnotationReplyStatusRequest.builder()
            .action("enable")
            .job_id(job.job_id if job else "x")
            .build(),
            option,
        )
    ),
    lambda r: r.job_status in ("waiting", "running", "completed", "failed"),
)
t.call(
    "annotation.delete",
    lambda: ok(
        v1.annotation.delete(
            da.DeleteAnnotationRequest.builder().annotation_id(aid).build(), option
        )
    ),
)
png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
t.call(
    "file.upload",
    lambda: ok(
        v1.file.upload(
            uf.UploadFileRequest.builder()
            .file(io.BytesIO(png), "panda.png")
            .request_body(ufb.UploadFileBody.builder().user(USER).build())
            .build(),
            option,
        )
    ),
    lambda r: r.id,
)
t.call(
    "feedback.submit",
    lambda: ok(
        v1.feedback.submit(
            sf.SubmitFeedbackRequest.builder()
            .message_id(mid)
            .request_body(
                sfb.SubmitFeedbackRequestBody.builder()
                .rating("like")
                .user(USER)
                .content(None)
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.result == "success",
)
t.call(
    "feedback.list",
    lambda: ok(
        v1.feedback.list(gf.GetFeedbacksRequest.builder().page(1).limit(101).build(), option)
    ),
    lambda r: len(r.data) >= 1,
)
t.call(
    "application.get",
    lambda: ok(v1.application.get(gi.GetInfoRequest.builder().user(USER).build(), option)),
    lambda r: r.name,
)
t.call(
    "application.parameters",
    lambda: ok(
        v1.application.parameters(gp.GetParametersRequest.builder().user(USER).build(), option)
    ),
)
t.call(
    "application.meta",
    lambda: ok(v1.application.meta(gm.GetMetaRequest.builder().user(USER).build(), option)),
)
t.call(
    "application.site",
    lambda: ok(v1.application.site(gs.GetSiteRequest.builder().build(), option)),
    lambda r: r.title,
)
audio = t.call(
    "tts.from_text",
    lambda: ok(
        v1.tts.from_text(
            tta.TextToAudioRequest.builder()
            .request_body(
                ttab.TextToAudioRequestBody.builder().text("Hello world").user(USER).build()
            )
            .build(),
            speech_option,
        )
    ),
    lambda r: r.raw is not None and len(r.raw.content) > 100,
)
t.call(
    "tts.to_text",
    lambda: ok(
        v1.tts.to_text(
            att.AudioToTextRequest.builder()
            .file(io.BytesIO(audio.raw.content if audio and audio.raw else b""), "speech.mp3")
            .request_body(attb.AudioToTextRequestBody.builder().user(USER).build())
            .build(),
            speech_option,
        )
    ),
)
t.call(
    "conversation.delete",
    lambda: ok(
        v1.conversation.delete(
            dc.DeleteConversationRequest.builder()
            .conversation_id(cid)
            .request_body(dcb.DeleteConversationRequestBody.builder().user(USER).build())
            .build(),
            option,
        )
    ),
)
t.report()
