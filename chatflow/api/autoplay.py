"""Auto-play on the wire: `tts_message` / `tts_message_end` frames in a chat stream.

As in Dify, when the app's `text_to_speech.autoPlay` is `enabled`, the answer is spoken
while it streams: audio that is ready goes out as `tts_message` frames (base64 MP3) just
before the next regular frame; after the terminal frame the remaining audio follows and
`tts_message_end` (with `audio: ""`) closes the stream.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable

from chatflow.api.sse import frame
from chatflow.engine import events as ev
from chatflow.services.audio import Speaker
from chatflow.services.turn import StreamItem, TurnInfo

Items = AsyncIterator[tuple[int, StreamItem]]


def with_autoplay(
    speaker: Speaker | None,
    info: TurnInfo,
    items: Items,
    encode: Callable[[Items], AsyncIterator[bytes]],
) -> AsyncIterator[bytes]:
    """`encode(items)`, with the answer's speech woven in when `speaker` is given."""
    if speaker is None:
        return encode(items)
    return _interleave(speaker, info, items, encode)


def _tts_frame(info: TurnInfo, event: str, audio: bytes) -> bytes:
    return frame(
        {
            "event": event,
            "conversation_id": info.conversation_id,
            "message_id": info.message_id,
            "created_at": info.created_at,
            "task_id": info.task_id,
            "audio": base64.b64encode(audio).decode("ascii"),
        }
    )


async def _tap(items: Items, speaker: Speaker) -> Items:
    """Pass the items through, handing the answer's text to the speaker."""
    try:
        async for number, item in items:
            if isinstance(item, ev.TextChunk):
                speaker.feed(item.text)
            elif isinstance(item, ev.TextReplace):
                speaker.replace(item.text)
            yield number, item
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


async def _interleave(
    speaker: Speaker,
    info: TurnInfo,
    items: Items,
    encode: Callable[[Items], AsyncIterator[bytes]],
) -> AsyncIterator[bytes]:
    body = encode(_tap(items, speaker))
    try:
        async for chunk in body:
            for audio in speaker.ready():
                yield _tts_frame(info, "tts_message", audio)
            yield chunk
        for audio in await speaker.finish():
            yield _tts_frame(info, "tts_message", audio)
        yield _tts_frame(info, "tts_message_end", b"")
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()
        await speaker.aclose()
