"""Drive `dify-client` (0.1.x, requests; module `dify_client`) against the live server."""

from __future__ import annotations

import io
import json

from dify_client import ChatClient, DifyClient
from tally import BASE_URL, KEY, USER, Tally

t = Tally("dify-client")
chat = ChatClient(KEY)
chat.base_url = BASE_URL  # the SDK has no base-URL parameter; Dify cloud is hard-coded


def ok(response: object) -> object:
    response.raise_for_status()  # type: ignore[attr-defined]
    return response.json()  # type: ignore[attr-defined]


blocking = t.call(
    "create_chat_message(blocking)",
    lambda: ok(chat.create_chat_message({}, "Hello", USER, response_mode="blocking")),
    lambda r: r["answer"] and r["conversation_id"],
)
conversation_id = blocking["conversation_id"] if blocking else ""
message_id = blocking["message_id"] if blocking else ""


def stream() -> list[dict[str, object]]:
    response = chat.create_chat_message({}, "Hi", USER, response_mode="streaming")
    response.raise_for_status()
    events = []
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data:"):
            events.append(json.loads(line[5:].strip()))
    return events


t.call(
    "create_chat_message(streaming)",
    stream,
    lambda events: (
        events[-1]["event"] in ("message_end", "workflow_finished")
        and any(e["event"] == "message" for e in events)
    ),
)
t.call(
    "create_chat_message(conversation_id, files=[])",
    lambda: ok(chat.create_chat_message({}, "Again", USER, "blocking", conversation_id, [])),
    lambda r: r["conversation_id"] == conversation_id,
)
t.call(
    "get_conversations",
    lambda: ok(chat.get_conversations(USER, last_id=None, limit=5, pinned=None)),
    lambda r: any(c["id"] == conversation_id for c in r["data"]),
)
t.call(
    "get_conversation_messages",
    lambda: ok(chat.get_conversation_messages(USER, conversation_id, None, 10)),
    lambda r: len(r["data"]) == 2,
)
t.call(
    "rename_conversation",
    lambda: ok(chat.rename_conversation(conversation_id, "renamed", USER)),
    lambda r: r["name"] == "renamed",
)
t.call(
    "message_feedback",
    lambda: ok(chat.message_feedback(message_id, "like", USER)),
    lambda r: r == {"result": "success"},
)
t.call(
    "get_application_parameters",
    lambda: ok(DifyClient.get_application_parameters(chat, USER)),
    lambda r: "user_input_form" in r,
)
png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
t.call(
    "file_upload",
    lambda: ok(chat.file_upload(USER, {"file": ("panda.png", io.BytesIO(png), "image/png")})),
    lambda r: r["id"] and r["extension"] == "png",
)
t.report()
