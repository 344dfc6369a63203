"""uvicorn's keep-alive setting, shared by `chatflow serve` and the benchmark servers.

uvicorn closes a connection that has been idle for `timeout_keep_alive` (5 s by default).
A client that reuses the connection at that moment has its request already in the
server's socket when the server closes it; the kernel then answers with a reset, and the
client sees `ReadError('')` with no response and nothing logged here (the soak's stray
errors). A client only avoids that by dropping idle connections sooner than the server
does, and it measures idleness from when it read the response, which can be seconds after
the server wrote it when either side is short of CPU. A keep-alive well past any client's
or proxy's idle timeout leaves the closing to the client, which cannot race itself.
"""

from __future__ import annotations

from typing import Any

from chatflow.settings import Settings


def keep_alive_options(settings: Settings) -> dict[str, Any]:
    return {"timeout_keep_alive": settings.keep_alive_seconds}
