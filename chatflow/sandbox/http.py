"""The server's half of code-node HTTP: a request a job made with `requests` or `httpx`
(see `_network`), sent with the SSRF-guarded client under the same rules as
http-request nodes, answered as the frame the job waits for.

Runs in the server process (unlike the sandbox's underscore modules).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from chatflow.net.ssrf import SSRFBlocked, guarded_client

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_TIMEOUT = 120.0
# The body comes back decoded; these described the encoded one.
_DROPPED = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})


async def send_for_job(ssrf_allow: str, request: dict[str, Any]) -> dict[str, Any]:
    """`{status, reason, url, headers, body}` (body base64) or `{error}`."""
    try:
        method = str(request["method"]).upper()
        url = str(request["url"])
        headers = [(str(k), str(v)) for k, v in request.get("headers") or ()]
        body = base64.b64decode(request.get("body") or "")
        timeout = min(float(request.get("timeout") or 30.0), MAX_TIMEOUT)
    except (KeyError, TypeError, ValueError) as exc:
        return {"error": f"malformed request: {exc}"}
    headers = [(k, v) for k, v in headers if k.lower() not in ("host", "content-length")]
    try:
        async with guarded_client(ssrf_allow, timeout=timeout) as client:
            async with client.stream(method, url, headers=headers, content=body) as response:
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > MAX_RESPONSE_BYTES:
                        return {"error": f"response from {url} is larger than 10 MiB"}
    except SSRFBlocked as exc:
        return {"error": exc.message}
    except httpx.HTTPError as exc:
        return {"error": f"request to {url} failed: {exc}"}
    return {
        "status": response.status_code,
        "reason": response.reason_phrase,
        "url": str(response.url),
        "headers": [(k, v) for k, v in response.headers.items() if k.lower() not in _DROPPED],
        "body": base64.b64encode(bytes(data)).decode(),
    }
