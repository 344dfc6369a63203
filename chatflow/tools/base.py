"""The tool contract: what a tool is, what it yields, and what it may use while it runs.

Every tool provider (built-in modules in `chatflow/tools/builtin/`, OpenAPI and MCP
providers) implements `ToolProvider`; each of its tools implements `Tool`. A tool's
`invoke` is an async generator of `ToolMessage`s, the same kinds Dify's tools yield
(text, link, image, blob, json, variable). The registry (`chatflow/tools/registry.py`)
resolves Dify's provider ids to providers, and the tool runtime turns the messages into
what the engine's tool node outputs (`text`, `files`, `json`, variables).

    class Now:
        descriptor = ToolDescriptor(provider="time", name="current_time", ...)

        async def invoke(self, parameters, ctx):
            yield TextMessage(datetime.now().isoformat())
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import httpx

from chatflow.errors import ChatflowError

if TYPE_CHECKING:
    from chatflow.settings import Settings

ParameterType = Literal[
    "string",
    "number",
    "integer",
    "boolean",
    "select",
    "file",
    "files",
    "object",
    "array",
    "secret-input",
]
ParameterForm = Literal["llm", "form"]


class ToolError(ChatflowError):
    """A tool call that failed: bad parameters, a missing setting, a remote error.

    The tool node fails with its message (so error strategies and retries apply).
    """

    code = "tool_error"
    status = 400


class ToolNotConfigured(ToolError):
    """A provider that needs a setting (URL, key, database) the operator has not set."""


@dataclass(frozen=True, slots=True)
class ToolParameter:
    """One parameter as Dify declares it in a tool's YAML."""

    name: str
    type: ParameterType = "string"
    label: str = ""
    description: str = ""
    required: bool = False
    default: Any = None
    options: tuple[str, ...] = ()
    # "llm": the model (agent) or a node binding fills it; "form": set in the node config.
    form: ParameterForm = "llm"


_JSON_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "secret-input": {"type": "string"},
    "select": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "object": {"type": "object"},
    "array": {"type": "array"},
    # Files are passed to a model as their URL or id, as Dify's agent does.
    "file": {"type": "string"},
    "files": {"type": "array", "items": {"type": "string"}},
}


@dataclass(frozen=True, slots=True)
class ToolDescriptor:
    """What a tool is called and which parameters it takes."""

    provider: str  # canonical provider id, e.g. "time"
    name: str  # tool name within the provider, e.g. "current_time"
    label: str = ""
    description: str = ""
    parameters: tuple[ToolParameter, ...] = ()

    def parameter(self, name: str) -> ToolParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of the llm-form parameters: what an agent offers a model."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for parameter in self.parameters:
            if parameter.form != "llm":
                continue
            schema = dict(_JSON_TYPES.get(parameter.type, {"type": "string"}))
            if parameter.description or parameter.label:
                schema["description"] = parameter.description or parameter.label
            if parameter.options:
                schema["enum"] = list(parameter.options)
            properties[parameter.name] = schema
            if parameter.required:
                required.append(parameter.name)
        return {"type": "object", "properties": properties, "required": required}


# Messages a tool yields (Dify's ToolInvokeMessage kinds).


@dataclass(frozen=True, slots=True)
class TextMessage:
    text: str


@dataclass(frozen=True, slots=True)
class LinkMessage:
    url: str


@dataclass(frozen=True, slots=True)
class ImageMessage:
    """An image at a URL; the runtime fetches it (SSRF-guarded) and stores it as a file."""

    url: str


@dataclass(frozen=True, slots=True)
class BlobMessage:
    """Bytes the tool made (a chart, a document); stored as a tool file."""

    data: bytes
    filename: str
    mime_type: str


@dataclass(frozen=True, slots=True)
class JsonMessage:
    value: Any


@dataclass(frozen=True, slots=True)
class VariableMessage:
    """Sets the tool node's output `name` (Dify's variable message)."""

    name: str
    value: Any


ToolMessage = TextMessage | LinkMessage | ImageMessage | BlobMessage | JsonMessage | VariableMessage

HttpFactory = Callable[[], httpx.AsyncClient]


@dataclass(slots=True)
class ToolContext:
    """What a running tool may use. Built by the runtime for every call."""

    app_id: str = ""
    user_id: str = ""
    conversation_id: str = ""
    settings: Settings | None = None
    # Returns a new SSRF-guarded client (`chatflow.net.ssrf.guarded_client` with the
    # operator's allow-list); the tool closes it (`async with ctx.http() as client`).
    http_factory: HttpFactory | None = None
    # Extra services a provider may need (e.g. "speech"), set by the host.
    services: Mapping[str, Any] = field(default_factory=dict)

    def http(self) -> httpx.AsyncClient:
        if self.http_factory is not None:
            return self.http_factory()
        from chatflow.net.ssrf import guarded_client

        allow = self.settings.ssrf_allow if self.settings is not None else ""
        return guarded_client(allow)


@runtime_checkable
class Tool(Protocol):
    descriptor: ToolDescriptor

    # A plain `def` returning an iterator, so an `async def ... yield` implementation
    # matches the protocol.
    def invoke(
        self, parameters: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[ToolMessage]: ...


@runtime_checkable
class ToolProvider(Protocol):
    id: str  # canonical id, e.g. "time"
    aliases: tuple[str, ...]  # other ids Dify writes, e.g. "langgenius/time/time"
    label: str

    async def tools(self) -> Sequence[Tool]: ...

    def missing_configuration(self) -> str | None:
        """None when usable; else which setting(s) to set, e.g. "CHATFLOW_TAVILY_API_KEY"."""
        ...
