"""Resumable SSE streams (DESIGN.md section 5): `id:` lines and `Last-Event-ID` replay.

Only a client that opts in (header `X-Chatflow-Resumable: true` on `POST /chat-messages`
or `/workflows/run`) gets `id:` lines; everyone else gets Dify's exact wire, since some
clients' parsers break on them. A frame's id is `N-K`: frame K (from 0) of stream item N
(one item can make several frames, e.g. `message_end` + `workflow_finished`). Pings
carry no id.

To resume, the client reopens `GET .../{task_id}/events` with `Last-Event-ID: N-K`: the
turn's stream is read again from its first item (the encoder keeps a little state, so
it is rebuilt exactly) and every frame after `N-K` is sent: none lost, none twice. The
stream lives in the runtime (Redis with many workers), so any worker can serve it while
it runs and for `stream_retention_seconds` after it ends.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from chatflow.api.sse import PING, ChatStreamEncoder, encode_stream, frame, with_pings
from chatflow.errors import InvalidRequest
from chatflow.services.turn import StreamItem, TurnEnded

RESUMABLE_HEADER = "X-Chatflow-Resumable"
_EVENT_ID = re.compile(r"^\s*(\d{1,12})-(\d{1,6})\s*$")


def wants_ids(request: Request) -> bool:
    """Did the client opt in to resumable streams?"""
    return request.headers.get(RESUMABLE_HEADER, "").strip().lower() in ("true", "1", "yes")


@dataclass(frozen=True, slots=True, order=True)
class EventId:
    """Where a frame sits in a turn's stream: item number, then frame index within it."""

    item: int
    frame: int

    def __str__(self) -> str:
        return f"{self.item}-{self.frame}"

    @classmethod
    def parse(cls, text: str) -> EventId:
        match = _EVENT_ID.match(text)
        if match is None:
            raise InvalidRequest("Last-Event-ID must look like '12-0', as sent in 'id:' lines.")
        return cls(int(match.group(1)), int(match.group(2)))


def _stream_expired(encoder: ChatStreamEncoder) -> Mapping[str, Any]:
    return {
        "event": "error",
        "task_id": encoder.info.task_id,
        "status": 410,
        "code": "stream_expired",
        "message": "The start of this stream is no longer kept; it cannot be resumed.",
    }


async def encode_resumable(
    items: AsyncIterator[tuple[int, StreamItem]],
    encoder: ChatStreamEncoder,
    *,
    ping_interval: float,
    after: EventId | None = None,
) -> AsyncIterator[bytes]:
    """Like `sse.encode_stream`, with `id: N-K` before each frame and frames up to
    `after` left out. `items` must start at the stream's first item."""
    yield PING
    expected = 1
    async with aclosing(with_pings(items, ping_interval)) as entries:
        async for entry in entries:
            if entry is None:
                yield PING
                continue
            number, item = entry
            if number != expected:  # trimmed (stream_max_events): the state is gone
                yield frame(_stream_expired(encoder))
                return
            expected += 1
            for index, payload in enumerate(encoder.encode(item)):
                event_id = EventId(number, index)
                if after is None or event_id > after:
                    yield f"id: {event_id}\n".encode() + frame(payload)
            if isinstance(item, TurnEnded):
                return


def encode_turn(
    items: AsyncIterator[tuple[int, StreamItem]],
    encoder: ChatStreamEncoder,
    *,
    ping_interval: float,
    with_ids: bool,
) -> AsyncIterator[bytes]:
    """The first response's stream: Dify's wire, plus `id:` lines when opted in."""
    if with_ids:
        return encode_resumable(items, encoder, ping_interval=ping_interval)
    return encode_stream(items, encoder, ping_interval=ping_interval)
