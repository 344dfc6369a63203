"""`Client`: the synchronous client. It only sends; everything else lives in `_base.py`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ._base import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, BaseClient, Operation
from ._errors import error_from_response, transport_error
from ._resources.annotations import Annotations
from ._resources.app import App
from ._resources.audio import Audio
from ._resources.chat import Chat
from ._resources.conversations import Conversations
from ._resources.end_users import EndUsers
from ._resources.feedbacks import Feedbacks
from ._resources.files import Files
from ._resources.knowledge import Knowledge
from ._resources.messages import Messages
from ._resources.workflows import Workflows

T = TypeVar("T")


class Client(BaseClient):
    """Synchronous client for one app (one API key).

    >>> client = Client("http://localhost:5001/v1", "app-...")
    >>> client.chat.send("Hi", user="u1").answer
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            base_url, api_key, timeout=timeout, max_retries=max_retries,
            backoff=backoff, headers=headers,
        )  # fmt: skip
        self._http = http_client or httpx.Client(transport=transport, timeout=self.timeout)
        self.chat = Chat(self)
        self.messages = Messages(self)
        self.conversations = Conversations(self)
        self.files = Files(self)
        self.feedbacks = Feedbacks(self)
        self.annotations = Annotations(self)
        self.audio = Audio(self)
        self.app = App(self)
        self.workflows = Workflows(self)
        self.end_users = EndUsers(self)
        self.knowledge = Knowledge(self)  # with a `dataset-...` key

    def request(self, op: Operation[T]) -> T:
        """Send `op` (with retries where safe) and parse its answer."""
        response = self._send(op, stream=False)
        try:
            return op.parse(response)
        finally:
            response.close()

    def open_stream(self, op: Operation[Any]) -> httpx.Response:
        """Send `op` and return the open streaming response (caller closes it)."""
        return self._send(op, stream=True)

    def _send(self, op: Operation[Any], *, stream: bool) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.send(self.build_request(op, stream=stream), stream=stream)
            except httpx.TransportError as exc:
                if not self.should_retry(op, attempt, error=exc):
                    raise transport_error(exc) from exc
                time.sleep(self.retry_delay(attempt))
                attempt += 1
                continue
            if response.is_success:
                return response
            retry = self.should_retry(op, attempt, response=response)
            response.read()
            response.close()
            if not retry:
                raise error_from_response(response)
            time.sleep(self.retry_delay(attempt, response))
            attempt += 1

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
