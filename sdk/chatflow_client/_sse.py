"""Server-sent-event framing: lines in, `ServerSentEvent`s out (no I/O, no JSON).

Dify frames every event as `data: {json}\\n\\n` with the event name inside the JSON, and sends
keep-alives as a bare `event: ping\\n\\n`. Resumable streams add `id:` lines. The decoder follows
the WHATWG rules (multi-line `data:` joined by newlines, comments ignored, one optional
space after the colon) so it also reads any conforming server.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched SSE frame."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental decoder: feed one line at a time, get an event at each blank line."""

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None
        self._seen_field = False

    def decode(self, line: str) -> ServerSentEvent | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        self._seen_field = True
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def flush(self) -> None:
        """End of stream: drop an unfinished frame, as WHATWG says (it may be cut short,
        e.g. by a dropped connection, and a resumed stream sends it again whole)."""
        self._event, self._data, self._retry, self._seen_field = None, [], None, False

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._seen_field:
            return None
        sse = ServerSentEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._id,
            retry=self._retry,
        )
        self._event, self._data, self._retry, self._seen_field = None, [], None, False
        # The last event id persists across frames, as in the browser EventSource.
        return sse


def iter_sse(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    """Decode SSE frames from an iterable of text lines."""
    decoder = SSEDecoder()
    for line in lines:
        sse = decoder.decode(line)
        if sse is not None:
            yield sse
    decoder.flush()


async def aiter_sse(lines: AsyncIterable[str]) -> AsyncIterator[ServerSentEvent]:
    """Decode SSE frames from an async iterable of text lines."""
    decoder = SSEDecoder()
    async for line in lines:
        sse = decoder.decode(line)
        if sse is not None:
            yield sse
    decoder.flush()
