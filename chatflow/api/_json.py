"""JSON encoding for every response body and SSE frame (orjson, Dify-compatible output).

U+2028/U+2029 are escaped because JavaScript clients that `eval` or embed JSON treat them
as line breaks. Values the engine produces that JSON has no type for (Decimal prices,
files, dataclasses) are converted the way Dify serialises them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response

from chatflow.engine.files import File
from chatflow.providers.base import Usage

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, File | Usage):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    # Never fail a response over one odd value deep in a node's outputs.
    return str(value)


def dumps(value: Any) -> bytes:
    """Serialise to compact UTF-8 JSON with U+2028/U+2029 escaped."""
    data = orjson.dumps(value, default=_default, option=_OPTIONS)
    if b"\xe2\x80" in data:
        data = data.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return data


class JSONResponse(Response):
    """`application/json` response rendered with `dumps`."""

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, None, background)

    def render(self, content: Any) -> bytes:
        return dumps(content)
