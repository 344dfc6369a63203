"""Drive an agent-chat app with `dify-client` (0.1.x): stream a turn, print its events,
then read the message back with its agent thoughts. Prints `EVENTS <json>` and
`MESSAGES <json>` lines for the test to check."""

from __future__ import annotations

import json
import os

from dify_client import ChatClient

chat = ChatClient(os.environ["CHATFLOW_AGENT_KEY"])
chat.base_url = os.environ["CHATFLOW_BASE_URL"]  # the SDK hard-codes Dify cloud
response = chat.create_chat_message({}, "What time is it?", "agent-user", "streaming")
response.raise_for_status()
events = [
    json.loads(line[5:].strip())
    for line in response.iter_lines(decode_unicode=True)
    if line.startswith("data:")
]
print("EVENTS " + json.dumps(events, ensure_ascii=False))
conversation_id = events[-1]["conversation_id"]
messages = chat.get_conversation_messages("agent-user", conversation_id, None, 10)
messages.raise_for_status()
print("MESSAGES " + json.dumps(messages.json(), ensure_ascii=False))
