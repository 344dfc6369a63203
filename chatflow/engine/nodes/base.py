"""The contract every node module follows.

A node module in `chatflow/engine/nodes/` defines:

    TYPE = "if-else"                       # the DSL `data.type` string(s) it handles
    class Config(NodeConfig): ...          # typed, frozen config, validated at DSL import
    async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]: ...

`run` yields `StreamChunk`s for outputs that stream (LLM text) and ends with exactly one
`NodeResult`. Container nodes may also yield engine `Event`s of their children. A node
fails by raising `NodeError` (or any exception); the runner applies `error_strategy` and
`retry_config` around it, so nodes never implement those themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.events import ContainerScope, Event, NodeStatus
from chatflow.engine.variables import VariablePool
from chatflow.providers.base import ModelRegistry, Usage

if TYPE_CHECKING:
    from chatflow.engine.limits import EngineLimits
    from chatflow.tools.base import ToolDescriptor


class RetryConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    retry_enabled: bool = False
    max_retries: int = 0
    retry_interval: int = 0  # milliseconds, as in Dify


class DefaultValue(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    type: str = "string"
    value: Any = None


class NodeConfig(BaseModel):
    """Fields every DSL node `data` block may carry. Unknown UI fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    type: str = ""
    title: str = ""
    desc: str = ""
    error_strategy: Literal["fail-branch", "default-value"] | None = None
    default_value: list[DefaultValue] = Field(default_factory=list)
    retry_config: RetryConfig = Field(default_factory=RetryConfig)
    # Container membership, set on nodes inside an iteration or loop.
    isInIteration: bool = False
    isInLoop: bool = False
    iteration_id: str | None = None
    loop_id: str | None = None


TOP_LEVEL = ContainerScope()  # the scope of nodes outside any iteration or loop


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A delta of a streaming output, e.g. `(llm_id, "text")` while the model writes."""

    selector: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class NodeResult:
    outputs: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    process_data: Mapping[str, Any] = field(default_factory=dict)
    # Branch handle for branching nodes; None means the default "source" handle.
    handle: str | None = None
    usage: Usage | None = None
    status: NodeStatus = "succeeded"


NodeEvent = StreamChunk | NodeResult | Event


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of the conversation, for LLM memory."""

    query: str
    answer: str
    files: tuple[Any, ...] = ()


class CodeExecutor(Protocol):
    """Runs user code out of process (see `chatflow/sandbox`)."""

    # `timeout` is enforced by the sandbox, which kills the worker, not by asyncio.
    async def run(
        self,
        language: str,
        code: str,
        inputs: Mapping[str, Any],
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ToolCaller:
    """Who a tool call runs for (from `sys.*`): tools store their files under it."""

    app_id: str = ""
    user_id: str = ""
    conversation_id: str = ""


class ToolRuntime(Protocol):
    """Built-in, plugin, OpenAPI and MCP tools (`chatflow.tools.runtime`)."""

    # A plain `def` returning an iterator, so an `async def ... yield` implementation
    # matches (an `async def` here would type it as a coroutine returning an iterator).
    # Messages: str (text), File, {"variable": name, "value": v}, or JSON-like values.
    # An unknown or unconfigured provider raises with the setting or command that fixes it.
    def invoke(
        self,
        provider: str,
        tool: str,
        parameters: Mapping[str, Any],
        *,
        caller: ToolCaller | None = None,
    ) -> AsyncIterator[Any]: ...

    async def describe(self, provider: str, tool: str) -> ToolDescriptor:
        """Name, description and parameters (`json_schema()` is what a model is offered)."""
        ...


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """A dataset a knowledge-retrieval node may search, as the host resolved it.

    `ref` is the id as the DSL wrote it (often the exporting workspace's id); `id` the
    host's dataset it maps to. `metadata_fields` are (name, type) pairs for automatic
    metadata filtering.
    """

    ref: str
    id: str
    name: str
    description: str = ""
    metadata_fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RetrievalRequest:
    """A knowledge-retrieval node's search, with Dify's options already resolved.

    `mode` "single" searches `datasets` (one, routed) with each dataset's own retrieval
    settings; "multiple" searches all of them and merges, with the node's `top_k`,
    `score_threshold`, and reranking (`reranking_mode` "weighted_score" with `weights`,
    or "reranking_model" with `reranking_model` = (provider, model)). `metadata_filter`
    is Dify's conditions object (`{logical_operator, conditions: [...]}`) with values
    already rendered, or None.
    """

    datasets: tuple[DatasetInfo, ...]
    query: str
    mode: Literal["single", "multiple"] = "multiple"
    top_k: int | None = None
    score_threshold: float | None = None
    reranking_enable: bool = False
    reranking_mode: str = "reranking_model"
    reranking_model: tuple[str, str] | None = None
    weights: Mapping[str, Any] | None = None
    metadata_filter: Mapping[str, Any] | None = None


class KnowledgeBase(Protocol):
    """The host's datasets. `resolve` maps the DSL's dataset references for an app and
    fails (a `NodeError` whose message says how to map them) when one is unmapped."""

    async def resolve(self, app_id: str, refs: Sequence[str]) -> list[DatasetInfo]: ...

    async def retrieve(self, request: RetrievalRequest) -> list[dict[str, Any]]: ...


SubgraphRunner = Callable[
    [str, VariablePool, ContainerScope], AsyncIterator[Event]
]  # (start_node_id, pool, scope) -> events of one pass through a container's subgraph


@dataclass(slots=True)
class EngineServices:
    """What the host application gives the engine. Everything is optional but models."""

    models: ModelRegistry
    limits: EngineLimits
    code: CodeExecutor | None = None
    tools: ToolRuntime | None = None
    knowledge: KnowledgeBase | None = None
    # Loads files' text/bytes by upload id (document-extractor, vision); set by the server.
    file_reader: Callable[[Any], Awaitable[bytes]] | None = None
    # Stores bytes a node produced (http-request binary responses) and returns the File
    # value for them: (content, filename, mime_type) -> File; set by the server.
    file_saver: Callable[[bytes, str, str], Awaitable[Any]] | None = None
    # Operator allow-list for the SSRF guard (`Settings.ssrf_allow`): hosts and CIDRs.
    ssrf_allow: str = ""


@dataclass(slots=True)
class NodeContext:
    """Everything a node may read while it runs."""

    node_id: str
    pool: VariablePool
    services: EngineServices
    history: Sequence[Turn] = ()
    scope: ContainerScope = TOP_LEVEL
    # Set by the runner for container nodes (iteration, loop) to run their subgraph.
    run_subgraph: SubgraphRunner | None = None
    app_mode: str = "advanced-chat"
    # The runner's id for this node execution; container nodes stamp it on their
    # Iteration*/Loop* events so the wire layer can tie them to the node's events.
    execution_id: str = ""
    # What a paused node resumes with (a human-input form submission or timeout); set
    # by the runner only when it re-runs a node `run_graph(resume_from=...)` paused at.
    resume: Any = None
