"""The project's error hierarchy; `api/errors.py` turns each into Dify's envelope.

ChatflowError (code, status, message)
├── InvalidRequest      400 invalid_param (and other 400 codes)
├── Unauthorized        401 unauthorized
├── NotFound            404 not_found / conversation_not_exists ...
├── DSLError            400 invalid_param: a DSL file that cannot be imported
├── ProviderError       400 provider_not_initialize / completion_request_error
└── NodeError           a node failed while running (engine-internal, carries node_id)
"""

from __future__ import annotations


class ChatflowError(Exception):
    """Base error: carries Dify's error `code`, an HTTP `status` and a message."""

    code: str = "internal_server_error"
    status: int = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class InvalidRequest(ChatflowError):
    code = "invalid_param"
    status = 400


class Unauthorized(ChatflowError):
    code = "unauthorized"
    status = 401


class NotFound(ChatflowError):
    code = "not_found"
    status = 404


class TooManyRequests(ChatflowError):
    code = "too_many_requests"
    status = 429


class DSLError(ChatflowError):
    """A DSL file that cannot be imported; the message names the node id and field."""

    code = "invalid_param"
    status = 400


class ProviderError(ChatflowError):
    """A model provider is missing, misconfigured or failed."""

    code = "completion_request_error"
    status = 400


class NodeError(ChatflowError):
    """A node failed while running. The engine turns it into a failed node event."""

    code = "node_error"
    status = 400

    def __init__(self, message: str, *, node_id: str | None = None, error_type: str = "NodeError"):
        super().__init__(message)
        self.node_id = node_id
        self.error_type = error_type
