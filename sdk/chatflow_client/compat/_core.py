"""The `dify-oapi2`-style plumbing: `Client.builder()`, `RequestOption`, requests, responses.

Requests are plain descriptions (method, `:name` path template, query, body) like the
published SDK's; `execute`/`aexecute` turn them into core `Operation`s and send them with the
core clients, so retries, timeouts and error mapping are the core's. Like `dify-oapi2`,
an API error comes back as a response whose `success` is False (with `code` and `msg`)
rather than as an exception, and streaming yields the raw SSE bytes.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import AsyncIterator, Iterator
from io import BytesIO
from typing import IO, Any, Generic, Literal, Self, TypeVar, cast

import httpx
from pydantic import BaseModel, ConfigDict

from .._async import AsyncClient
from .._base import Operation
from .._errors import APIError
from .._sync import Client as CoreClient

HttpMethod = Literal["GET", "POST", "PUT", "DELETE"]


class RequestOption:
    """Per-call options; the API key travels here, as in `dify-oapi2`."""

    def __init__(self) -> None:
        self.api_key: str | None = None
        self.headers: dict[str, str] = {}

    @staticmethod
    def builder() -> RequestOptionBuilder:
        return RequestOptionBuilder()


class RequestOptionBuilder:
    def __init__(self) -> None:
        self._option = RequestOption()

    def api_key(self, api_key: str) -> Self:
        self._option.api_key = api_key
        return self

    def headers(self, headers: dict[str, str]) -> Self:
        self._option.headers = headers
        return self

    def build(self) -> RequestOption:
        return self._option


UploadContent = bytes | IO[bytes]


class BaseRequest:
    def __init__(self, http_method: HttpMethod, uri: str) -> None:
        self.http_method = http_method
        self.uri = uri
        self.paths: dict[str, str] = {}
        self.queries: dict[str, str | int | float | bool] = {}
        self.body: BaseModel | None = None
        # Multipart uploads: the body's fields then travel as form fields.
        self.files: dict[str, tuple[str, UploadContent]] | None = None

    def path(self) -> str:
        uri = self.uri
        for name, value in self.paths.items():
            uri = uri.replace(f":{name}", value)
        return uri.removeprefix("/v1")


R = TypeVar("R", bound=BaseRequest)


class RequestBuilder(Generic[R]):
    def __init__(self, request: R) -> None:
        self._request = request

    def build(self) -> R:
        return self._request

    def _path(self, name: str, value: str) -> Self:
        self._request.paths[name] = str(value)
        return self

    def _query(self, name: str, value: str | int | float | bool) -> Self:
        self._request.queries[name] = value
        return self

    def _body(self, body: BaseModel) -> Self:
        self._request.body = body
        return self

    def _file(self, name: str, file: UploadContent, file_name: str) -> Self:
        self._request.files = {name: (file_name, file)}
        return self


class RawResponse(BaseModel):
    """The HTTP answer as received (audio bytes for text-to-audio), as in `dify-oapi2`."""

    status_code: int | None = None
    headers: dict[str, str] = {}
    content: bytes | None = None

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


class BaseResponse(BaseModel):
    """Success holds the API's fields (all kept); failure holds Dify's `code` and `msg`."""

    model_config = ConfigDict(extra="allow")

    code: str | None = None
    msg: str | None = None
    raw: RawResponse | None = None

    @property
    def success(self) -> bool:
        return self.code is None


P = TypeVar("P", bound=BaseResponse)


class Config:
    def __init__(self) -> None:
        self.domain: str = "https://api.dify.ai"
        self.timeout: float | None = None
        self.max_retry_count: int = 3
        # Test seam (not in dify-oapi2): an httpx transport for the sync core client.
        self.transport: httpx.BaseTransport | None = None


def _operation(
    request: BaseRequest, option: RequestOption, stream: bool | None
) -> Operation[httpx.Response]:
    model, body = request.body, None
    if model is not None:
        body = model.model_dump(mode="json", exclude_none=True)
        if stream is not None and hasattr(model, "response_mode"):
            # As in dify-oapi2, the `stream` argument decides the response mode.
            body["response_mode"] = "streaming" if stream else "blocking"
    if request.files:
        files = {
            field: (
                name,
                _read(content),
                mimetypes.guess_type(name)[0] or "application/octet-stream",
            )
            for field, (name, content) in request.files.items()
        }
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (body or {}).items()}
        return Operation(
            request.http_method, request.path(), _keep, params=dict(request.queries),
            data=form, files=files, headers=option.headers,
        )  # fmt: skip
    return Operation(
        request.http_method,
        request.path(),
        _keep,
        params=dict(request.queries),
        json=body,
        headers=option.headers,
    )


def _keep(response: httpx.Response) -> httpx.Response:
    return response


def _read(content: UploadContent) -> bytes:
    """Bytes of an upload, read once so a retried attempt sends the same bytes."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, BytesIO):
        return content.getvalue()
    return content.read()


def _parse(cls: type[P], response: httpx.Response) -> P:
    """JSON answers fill the model's fields; any answer is kept whole in `raw`."""
    data: Any = {}
    if response.headers.get("content-type", "").startswith("application/json") and response.content:
        data = response.json()
    if isinstance(data, list):  # dify-oapi2 puts a bare JSON array in `data`
        data = {"data": data}
    raw = RawResponse(
        status_code=response.status_code, headers=dict(response.headers), content=response.content
    )
    return cls.model_validate({**data, "raw": raw})


def _error(cls: type[P], exc: APIError) -> P:
    raw = RawResponse(status_code=exc.status, content=json.dumps(exc.body).encode())
    return cast(P, cls.model_construct(code=exc.code, msg=exc.message, raw=raw))


def _core_kwargs(config: Config, option: RequestOption | None) -> dict[str, Any]:
    if option is None or not option.api_key:
        raise ValueError("RequestOption.api_key is required")
    return {
        "base_url": config.domain.rstrip("/") + "/v1",
        "api_key": option.api_key,
        "timeout": config.timeout,
        "max_retries": config.max_retry_count,
    }


def execute(config: Config, request: BaseRequest, option: RequestOption | None, cls: type[P]) -> P:
    with CoreClient(**_core_kwargs(config, option), transport=config.transport) as client:
        try:
            return _parse(
                cls, client.request(_operation(request, option or RequestOption(), False))
            )
        except APIError as exc:
            return _error(cls, exc)


def execute_stream(
    config: Config, request: BaseRequest, option: RequestOption | None
) -> Iterator[bytes]:
    with CoreClient(**_core_kwargs(config, option), transport=config.transport) as client:
        try:
            response = client.open_stream(_operation(request, option or RequestOption(), True))
        except APIError as exc:
            yield httpx.Response(exc.status, json=exc.body).content
            return
        try:
            yield from response.iter_bytes()
        finally:
            response.close()


async def aexecute(
    config: Config, request: BaseRequest, option: RequestOption | None, cls: type[P]
) -> P:
    async with AsyncClient(**_core_kwargs(config, option)) as client:
        try:
            return _parse(
                cls, await client.request(_operation(request, option or RequestOption(), False))
            )
        except APIError as exc:
            return _error(cls, exc)


async def aexecute_stream(
    config: Config, request: BaseRequest, option: RequestOption | None
) -> AsyncIterator[bytes]:
    async with AsyncClient(**_core_kwargs(config, option)) as client:
        try:
            response = await client.open_stream(
                _operation(request, option or RequestOption(), True)
            )
        except APIError as exc:
            yield httpx.Response(exc.status, json=exc.body).content
            return
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await response.aclose()
