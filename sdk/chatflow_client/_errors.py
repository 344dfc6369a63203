"""Typed errors raised by the client; every API error carries Dify's `code`, `status`, message.

ChatflowClientError
├── TransportError              the request never got an HTTP answer (wraps httpx)
│   └── TimeoutError            connect/read/write/pool timeout
└── APIError (status, code, message, body)
    ├── BadRequestError         400 (invalid_param, file_too_large, ... by `code`)
    ├── AuthenticationError     401 unauthorized
    ├── PermissionDeniedError   403
    ├── NotFoundError           404 not_found / conversation_not_exists ...
    ├── PayloadTooLargeError    413 file_too_large
    ├── UnsupportedMediaError   415 unsupported_file_type
    ├── RateLimitError          429
    ├── ServerError             5xx
    └── StreamError             an `error` event inside an SSE stream (HTTP status was 200)
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class ChatflowClientError(Exception):
    """Base of every error this package raises."""


class TransportError(ChatflowClientError):
    """No HTTP response arrived: connection refused, reset, DNS failure ..."""


class TimeoutError(TransportError):
    """A connect, read, write or pool timeout expired."""


class APIError(ChatflowClientError):
    """The server answered with Dify's error envelope `{"code", "message", "status"}`."""

    def __init__(self, message: str, *, status: int, code: str, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.body = body

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


class BadRequestError(APIError):
    """400: Dify's `invalid_param`, `app_unavailable`, `provider_not_initialize`, ..."""


class AuthenticationError(APIError):
    """401: missing or invalid API key."""


class PermissionDeniedError(APIError):
    """403: e.g. annotation or site access forbidden for this app."""


class NotFoundError(APIError):
    """404: unknown id, or an id that belongs to another `user`."""


class PayloadTooLargeError(APIError):
    """413: `file_too_large`."""


class UnsupportedMediaError(APIError):
    """415: `unsupported_file_type`."""


class RateLimitError(APIError):
    """429: the app's rate limit was hit."""


class ServerError(APIError):
    """5xx: the server failed."""


class StreamError(APIError):
    """An `error` event arrived in a stream; Dify sends it after a failed `workflow_finished`."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaError,
    429: RateLimitError,
}


def error_class(status: int) -> type[APIError]:
    """The APIError subclass for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


def error_from_response(response: httpx.Response) -> APIError:
    """Map a non-2xx response (already read) to a typed error.

    Dify always answers `{"code", "message", "status"}`; a body that is not that envelope
    (a proxy's HTML page, say) still yields an error, with the HTTP reason as the code.
    """
    body: Any = None
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = response.text
    code = response.reason_phrase.lower().replace(" ", "_") or "http_error"
    message = response.text or response.reason_phrase
    if isinstance(body, dict):
        code = str(body.get("code") or code)
        message = str(body.get("message") or message)
    status = response.status_code
    return error_class(status)(message, status=status, code=code, body=body)


def transport_error(exc: httpx.TransportError) -> TransportError:
    """Wrap an httpx transport failure, keeping timeouts distinguishable."""
    if isinstance(exc, httpx.TimeoutException):
        return TimeoutError(str(exc) or type(exc).__name__)
    return TransportError(str(exc) or type(exc).__name__)
