"""Run one SDK's README examples as written, with this server's base URL and key.

Usage: python readme.py <metadata file>. Each ```python block runs in its own namespace
after a prelude that points the SDK at the server (`https://api.dify.ai/v1` and
hard-coded base URLs are rewritten, `your_api_key` becomes the key) and a few
placeholders are given real values (a conversation id, an image file). Blocks for APIs
this server does not serve (completion apps, knowledge bases) are counted as skipped.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import sys
import tempfile
from pathlib import Path

import httpx
from tally import BASE_URL, SPEECH_KEY, Tally

# The speech app: an advanced-chat app with speech-to-text and text-to-speech enabled, so
# the audio examples have something to talk to.
KEY = SPEECH_KEY

UNSERVED = ("CompletionClient", "KnowledgeBaseClient", "WorkflowClient", "AsyncClient")

text = Path(sys.argv[1]).read_text(encoding="utf-8")
blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
sdk = re.search(r"^Name: (.+)$", text, flags=re.M).group(1)  # type: ignore[union-attr]
t = Tally(sdk + " README")

conversation = httpx.post(
    BASE_URL + "/chat-messages",
    headers={"Authorization": f"Bearer {KEY}"},
    json={"inputs": {}, "query": "hi", "user": "user_id", "response_mode": "blocking"},
).json()["conversation_id"]
work = Path(tempfile.mkdtemp())
image = work / "panda.jpeg"
image.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
speech = httpx.post(
    BASE_URL + "/text-to-audio",
    headers={"Authorization": f"Bearer {KEY}"},
    json={"text": "Hello world", "user": "user_id"},
)
(work / "sample.wav").write_bytes(speech.content)

import dify_client  # noqa: E402  (the SDK under test, first on sys.path)


def _point_at_server(cls: type) -> None:
    """Make every client the README builds talk to this server."""
    original = cls.__init__
    takes_base_url = "base_url" in inspect.signature(original).parameters

    def patched(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if takes_base_url and len(args) < 2:
            kwargs.setdefault("base_url", BASE_URL)
        original(self, *args, **kwargs)
        if not takes_base_url:
            self.base_url = BASE_URL  # dify-client hard-codes Dify cloud in __init__

    cls.__init__ = patched  # type: ignore[misc]


for value in vars(dify_client).values():
    if (
        isinstance(value, type)
        and value.__name__.endswith("Client")
        and value.__module__.startswith("dify_client")
    ):
        if not hasattr(value, "model_fields"):  # pydantic clients take `api_base` as written
            _point_at_server(value)

namespace: dict[str, object] = {"__name__": "__main__"}
for index, block in enumerate(blocks):
    name = f"example {index + 1}"
    if any(word in block for word in UNSERVED) or "client." not in block.lower():
        print(f"skipped {name}: not a chat-app example", file=sys.stderr)
        continue
    code = (
        block.replace("https://api.dify.ai/v1", BASE_URL)
        .replace('"your_api_key"', repr(KEY))
        .replace('"your-api-key"', repr(KEY))
        .replace('conversation_id="conversation_id"', f"conversation_id={conversation!r}")
        .replace('"your_image_file_path"', repr(str(image)))
        .replace('"your_image_url"', '"https://example.com/panda.png"')
        .replace('"sample.wav"', repr(str(work / "sample.wav")))
        .replace('"speech.mp3"', repr(str(work / "speech.mp3")))
    )
    with contextlib.redirect_stdout(io.StringIO()):
        # One namespace for all blocks: later README blocks use names the first defines.
        t.call(name, lambda code=code, name=name: exec(compile(code, name, "exec"), namespace))
t.report()
