"""How uvicorn handles connections, shared by `chatflow serve` and the benchmark servers.

Keep-alive: uvicorn closes a connection that has been idle for `timeout_keep_alive` (5 s
by default). A client that reuses the connection at that moment has its request already in
the server's socket when the server closes it; the kernel then answers with a reset, and
the client sees `ReadError('')` with no response and nothing logged here (the soak's stray
errors). A client only avoids that by dropping idle connections sooner than the server
does, and it measures idleness from when it read the response, which can be seconds after
the server wrote it when either side is short of CPU. A keep-alive well past any client's
or proxy's idle timeout leaves the closing to the client, which cannot race itself.

Event loop: uvicorn picks uvloop when it is installed (`uvicorn[standard]`). uvloop's libuv
accepts one pending connection per pass of the event loop (libuv#3696: it relies on the
next poll for the rest), so while request handling keeps each pass busy, a burst of N new
connections waits up to N passes for its first response: 200 connections behind 20 ms
passes waited up to 4.2 s, where asyncio, which accepts everything pending in one pass,
answered all within 0.11 s (bench/keepalive_resets.py). Clients then time out on new
connections under load. asyncio is the default (our server measured no slower on it:
bench/RESULTS.md, Soak); `CHATFLOW_EVENT_LOOP=uvloop` opts back in.
"""

from __future__ import annotations

from typing import Any

from chatflow.settings import Settings


def connection_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's keep-alive and event-loop options from the settings."""
    return {"timeout_keep_alive": settings.keep_alive_seconds, "loop": settings.event_loop}
