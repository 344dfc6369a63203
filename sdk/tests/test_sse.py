"""SSE framing as Dify sends it: `data:` lines, bare `event: ping`, optional `id:`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chatflow_client import ServerSentEvent, SSEDecoder, aiter_sse, iter_sse


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def test_data_frames_and_ping() -> None:
    wire = 'event: ping\n\ndata: {"event": "message", "answer": "a"}\n\ndata: {"x": 1}\n\n'
    assert list(iter_sse(lines(wire))) == [
        ServerSentEvent(event="ping", data=""),
        ServerSentEvent(data='{"event": "message", "answer": "a"}'),
        ServerSentEvent(data='{"x": 1}'),
    ]


def test_multiline_data_comments_crlf_and_no_space_after_colon() -> None:
    wire = ": comment\r\ndata:first\r\ndata: second\r\n\r\n"
    assert list(iter_sse(lines(wire))) == [ServerSentEvent(data="first\nsecond")]


def test_id_and_retry_lines_are_read_and_id_persists() -> None:
    wire = "id: 5\nretry: 3000\ndata: a\n\ndata: b\n\n"
    first, second = iter_sse(lines(wire))
    assert (first.id, first.retry, first.data) == ("5", 3000, "a")
    assert (second.id, second.retry) == ("5", None)


def test_unfinished_final_frame_is_dropped() -> None:
    # WHATWG: a frame without its blank line at end of stream is not dispatched.
    assert list(iter_sse(["data: 1", "", 'data: {"cut'])) == [ServerSentEvent(data="1")]


def test_blank_lines_alone_dispatch_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.decode("\n") is None
    decoder.flush()
    assert decoder.decode("") is None


async def test_async_decoder_matches_sync() -> None:
    wire = "event: ping\n\ndata: 1\n\n"

    async def source() -> AsyncIterator[str]:
        for line in lines(wire):
            yield line

    assert [e async for e in aiter_sse(source())] == list(iter_sse(lines(wire)))
