"""Build an http-request node's request from its config, the way Dify does.

Headers and params come as Dify's `key:value` lines (older DSL) or as a list of
`{key, value}` items; every key and value may hold `{{#node.var#}}` references. Bodies:
none, form-data (text and file items), x-www-form-urlencoded, raw-text, json, binary.
Authorization: no-auth, or api-key as basic, bearer or a custom header.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.files import File
from chatflow.engine.template import render
from chatflow.engine.variables import MISSING, VariablePool

FileReader = Callable[[Any], Awaitable[bytes]]


class RequestError(ValueError):
    """The request cannot be built (bad JSON body, missing file...)."""


class KeyValue(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str = ""
    value: str = ""


class BodyItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str = ""
    type: Literal["text", "file"] = "text"
    value: str = ""
    file: list[str] = Field(default_factory=list)


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["none", "form-data", "x-www-form-urlencoded", "raw-text", "json", "binary"] = (
        "none"
    )
    data: list[BodyItem] | str = Field(default_factory=list)

    def items(self) -> list[BodyItem]:
        # Old DSL exports keep raw-text/json bodies as a plain string.
        return [BodyItem(value=self.data)] if isinstance(self.data, str) else self.data


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["basic", "bearer", "custom"] = "bearer"
    api_key: str = ""
    header: str = ""


class Authorization(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["no-auth", "api-key"] = "no-auth"
    config: AuthConfig | None = None


@dataclass(slots=True)
class Prepared:
    """Everything `httpx.AsyncClient.request` needs, rendered from the pool."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | str | None = None
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str | None, bytes, str | None]]] | None = None

    def set_default_header(self, name: str, value: str) -> None:
        if not any(key.lower() == name.lower() for key, _ in self.headers):
            self.headers.append((name, value))


def key_values(raw: str | Sequence[KeyValue] | None, pool: VariablePool) -> list[tuple[str, str]]:
    """Dify's `key:value` lines (split on the first colon) or list items, rendered."""
    if not raw:
        return []
    if isinstance(raw, str):
        pairs = []
        for line in raw.splitlines():
            if not line.strip():
                continue
            key, _, value = line.partition(":")
            pairs.append((key, value))
    else:
        pairs = [(item.key, item.value) for item in raw]
    rendered = [(render(k, pool).strip(), render(v, pool).strip()) for k, v in pairs]
    return [(k, v) for k, v in rendered if k]


def authorize(prepared: Prepared, auth: Authorization, pool: VariablePool) -> None:
    if auth.type == "no-auth" or auth.config is None:
        return
    key = render(auth.config.api_key, pool)
    if auth.config.type == "bearer":
        prepared.headers.append(("Authorization", f"Bearer {key}"))
    elif auth.config.type == "basic":
        # Dify takes `user:password` (encoded here) or an already encoded credential.
        credential = base64.b64encode(key.encode()).decode() if ":" in key else key
        prepared.headers.append(("Authorization", f"Basic {credential}"))
    else:
        prepared.headers.append((auth.config.header or "Authorization", key))


async def body(
    prepared: Prepared, spec: Body, pool: VariablePool, reader: FileReader | None
) -> None:
    items = spec.items()
    if spec.type == "none":
        return
    if spec.type == "json":
        text = render(items[0].value, pool) if items else ""
        if text.strip():
            try:
                json.loads(text, strict=False)
            except ValueError as exc:
                raise RequestError(f"Failed to parse JSON: {text}") from exc
        prepared.content = text.encode()
        prepared.set_default_header("Content-Type", "application/json")
    elif spec.type == "raw-text":
        prepared.content = (render(items[0].value, pool) if items else "").encode()
        prepared.set_default_header("Content-Type", "text/plain")
    elif spec.type == "x-www-form-urlencoded":
        prepared.data = {
            render(i.key, pool): render(i.value, pool) for i in items if i.key and i.type == "text"
        }
    elif spec.type == "binary":
        files = _files(pool, items[0].file) if items else []
        if not files:
            raise RequestError("binary body needs a file variable")
        prepared.content = await _read(files[0], reader)
        prepared.set_default_header(
            "Content-Type", files[0].mime_type or "application/octet-stream"
        )
    elif spec.type == "form-data":
        # Text items go as filename-less parts so the body is multipart even without files.
        parts: list[tuple[str, tuple[str | None, bytes, str | None]]] = []
        for item in items:
            if not item.key:
                continue
            name = render(item.key, pool)
            if item.type == "text":
                parts.append((name, (None, render(item.value, pool).encode(), None)))
                continue
            for file in _files(pool, item.file):
                content = await _read(file, reader)
                mime = file.mime_type or "application/octet-stream"
                parts.append((name, (file.filename or "file", content, mime)))
        prepared.files = parts


def _files(pool: VariablePool, selector: Sequence[str]) -> list[File]:
    if not selector:
        return []
    value = pool.get(selector)
    if value is MISSING or value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, File)]


async def _read(file: File, reader: FileReader | None) -> bytes:
    if reader is None:
        raise RequestError("sending files needs a file store, which is not configured")
    return await reader(file)
