"""Drive `dify-python-sdk` (httpx; module `dify_client`): chat, conversations, annotations,
files, feedback, app info, audio and workflows."""

from __future__ import annotations

import io
import json
from typing import Any

from dify_client import ChatClient, DifyClient, WorkflowClient
from tally import BASE_URL, KEY, SPEECH_KEY, USER, WORKFLOW_KEY, Tally

t = Tally("dify-python-sdk")
chat = ChatClient(KEY, base_url=BASE_URL)
speech = DifyClient(SPEECH_KEY, base_url=BASE_URL)
workflow = WorkflowClient(WORKFLOW_KEY, base_url=BASE_URL)


def ok(response: Any) -> Any:
    response.raise_for_status()
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return response.content


def events(response: Any) -> list[dict[str, Any]]:
    response.raise_for_status()
    return [json.loads(ln[5:]) for ln in response.iter_lines() if ln.startswith("data:")]


first = t.call(
    "create_chat_message(blocking)",
    lambda: ok(chat.create_chat_message({}, "Hello", USER)),
    lambda r: r["answer"],
)
cid, mid = (first or {}).get("conversation_id", ""), (first or {}).get("message_id", "")
streamed = t.call(
    "create_chat_message(streaming)",
    lambda: events(chat.create_chat_message({}, "Hi", USER, "streaming", cid)),
    lambda evs: evs[-1]["event"] in ("message_end", "workflow_finished"),
)
t.call(
    "stop_message",
    lambda: ok(chat.stop_message((streamed or [{}])[0].get("task_id", "x"), USER)),
    lambda r: r == {"result": "success"},
)
t.call(
    "get_suggested", lambda: ok(chat.get_suggested(mid, USER)), lambda r: r["result"] == "success"
)
t.call(
    "get_conversations",
    lambda: ok(chat.get_conversations(USER)),
    lambda r: any(c["id"] == cid for c in r["data"]),
)
t.call(
    "get_conversation_messages",
    lambda: ok(chat.get_conversation_messages(USER, cid)),
    lambda r: len(r["data"]) == 2,
)
t.call(
    "rename_conversation",
    lambda: ok(chat.rename_conversation(cid, "renamed", False, USER)),
    lambda r: r["name"] == "renamed",
)
t.call(
    "rename_conversation(auto)",
    lambda: ok(chat.rename_conversation(cid, "ignored", True, USER)),
    lambda r: r["name"],
)
t.call(
    "get_conversation_variables",
    lambda: ok(chat.get_conversation_variables(cid, USER)),
    lambda r: "data" in r,
)
t.call(
    "list_conversation_variables_with_pagination",
    lambda: ok(chat.list_conversation_variables_with_pagination(cid, USER)),
    lambda r: "data" in r,
)
t.call(
    "message_feedback",
    lambda: ok(chat.message_feedback(mid, "like", USER)),
    lambda r: r == {"result": "success"},
)
t.call(
    "get_application_parameters",
    lambda: ok(chat.get_application_parameters(USER)),
    lambda r: "user_input_form" in r,
)
t.call("get_meta", lambda: ok(chat.get_meta(USER)), lambda r: "tool_icons" in r)
t.call("get_app_info", lambda: ok(chat.get_app_info()), lambda r: r["mode"] == "advanced-chat")
t.call("get_app_site_info", lambda: ok(chat.get_app_site_info()), lambda r: "title" in r)
png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
upload = t.call(
    "file_upload",
    lambda: ok(chat.file_upload(USER, {"file": ("panda.png", io.BytesIO(png), "image/png")})),
    lambda r: r["id"],
)
t.call(
    "get_file_preview",
    lambda: ok(chat.get_file_preview((upload or {}).get("id", "x"))),
    lambda body: body == png,
)
created = t.call(
    "create_annotation",
    lambda: ok(chat.create_annotation("What is tea?", "A drink.")),
    lambda r: r["id"],
)
aid = (created or {}).get("id", "x")
t.call(
    "create_annotation_with_response",
    lambda: ok(chat.create_annotation_with_response("What is coffee?", "Also a drink.")),
    lambda r: r["id"],
)
t.call("list_annotations", lambda: ok(chat.list_annotations()), lambda r: r["total"] >= 2)
t.call(
    "list_annotations_with_pagination",
    lambda: ok(chat.list_annotations_with_pagination(1, 1, "tea")),
    lambda r: r["limit"] == 1,
)
t.call(
    "update_annotation",
    lambda: ok(chat.update_annotation(aid, "What is tea?", "Leaves.")),
    lambda r: r["answer"] == "Leaves.",
)
t.call(
    "update_annotation_with_response",
    lambda: ok(chat.update_annotation_with_response(aid, "What is tea?", "Hot leaves.")),
    lambda r: r["answer"] == "Hot leaves.",
)
job = t.call(
    "annotation_reply_action",
    lambda: ok(chat.annotation_reply_action("enable", 0.9, "local", "all-minilm-l6-v2")),
    lambda r: r["job_id"] and r["job_status"] in ("waiting", "running", "completed", "failed"),
)
t.call(
    "get_annotation_reply_status",
    lambda: ok(chat.get_annotation_reply_status("enable", (job or {}).get("job_id", "x"))),
    lambda r: r["job_status"] in ("waiting", "running", "completed", "failed"),
)
t.call(
    "get_annotation_reply_job_status",
    lambda: ok(chat.get_annotation_reply_job_status("enable", (job or {}).get("job_id", "x"))),
    lambda r: r["job_status"] in ("waiting", "running", "completed", "failed"),
)
t.call("delete_annotation", lambda: ok(chat.delete_annotation(aid)))
audio = t.call(
    "text_to_audio",
    lambda: ok(speech.text_to_audio("Hello world", USER)),
    lambda b: isinstance(b, bytes) and len(b) > 100,
)
t.call(
    "audio_to_text",
    lambda: ok(
        ChatClient(SPEECH_KEY, base_url=BASE_URL).audio_to_text(
            ("speech.mp3", io.BytesIO(audio or b""), "audio/mpeg"), USER
        )
    ),
    lambda r: isinstance(r["text"], str),
)
run = t.call(
    "workflow.run(blocking)",
    lambda: ok(workflow.run({"topic": "tea"}, "blocking", USER)),
    lambda r: r["data"]["status"] == "succeeded",
)
t.call(
    "workflow.run(streaming)",
    lambda: events(workflow.run({"topic": "tea"}, "streaming", USER)),
    lambda evs: evs[-1]["event"] == "workflow_finished",
)
t.call(
    "workflow.stop",
    lambda: ok(workflow.stop("unknown-task", USER)),
    lambda r: r == {"result": "success"},
)
t.call(
    "workflow.get_result",
    lambda: ok(workflow.get_result((run or {}).get("workflow_run_id", "x"))),
    lambda r: r["status"] == "succeeded" and isinstance(r["outputs"], str),
)
t.call(
    "workflow.get_workflow_logs",
    lambda: ok(workflow.get_workflow_logs()),
    lambda r: r["total"] >= 1,
)
t.call("delete_conversation", lambda: chat.delete_conversation(cid, USER).raise_for_status())
t.report()
