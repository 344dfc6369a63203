"""uvicorn's event loop, shared by `chatflow serve` and the benchmark servers.

uvicorn picks uvloop when it is installed (`uvicorn[standard]`). uvloop's libuv accepts
one pending connection per pass of the event loop (libuv#3696: it relies on the next poll
for the rest), so while request handling keeps each pass busy, a burst of N new
connections waits up to N passes for its first response: 200 connections behind 20 ms
passes waited up to 4.2 s, where asyncio, which accepts everything pending in one pass,
answered all within 0.11 s (bench/keepalive_resets.py). Clients then time out on new
connections under load. asyncio is the default (our server measured no slower on it:
bench/RESULTS.md, Soak); `CHATFLOW_EVENT_LOOP=uvloop` opts back in.
"""

from __future__ import annotations

from typing import Any

from chatflow.settings import Settings


def event_loop_options(settings: Settings) -> dict[str, Any]:
    return {"loop": settings.event_loop}
