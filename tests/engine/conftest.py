"""Graph builders and a scriptable probe node for engine tests.

Graphs are written the way a DSL file writes them (node dicts with `data`, edges with
`sourceHandle`) and go through the real loader, so tests exercise the same path as an
imported app. `Probe` is a node type whose behaviour each node's `data` scripts: delay,
streamed chunks, failures, branch handle.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pydantic import Field

from chatflow.dsl import graph_from_dicts
from chatflow.engine.events import Event
from chatflow.engine.graph import Graph
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import REGISTRY, NodeSpec
from chatflow.engine.nodes.base import (
    EngineServices,
    NodeConfig,
    NodeContext,
    NodeEvent,
    NodeResult,
    StreamChunk,
)
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError
from chatflow.providers.fake import FakeLLM, FakeRegistry


class ProbeConfig(NodeConfig):
    delay: float = 0.0  # seconds before the result (split between chunks when streaming)
    chunks: list[str] = Field(default_factory=list)  # streamed as (node_id, "text")
    fail_times: int = 0  # fail this many attempts first; -1 fails every attempt
    handle: str | None = None
    value: Any = None  # output `value`


class Probe:
    """Records what ran, in order, and how many attempts each node took."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.attempts: dict[str, int] = {}
        self.spec = NodeSpec("probe", ProbeConfig, self.run)
        # The same probe as an instant node (`delay` and `chunks` do not apply).
        self.instant_spec = NodeSpec("probe-instant", ProbeConfig, self.run_now)

    async def run(self, ctx: NodeContext, config: ProbeConfig) -> AsyncIterator[NodeEvent]:
        node_id = ctx.node_id
        self.log.append(("start", node_id))
        attempt = self.attempts[node_id] = self.attempts.get(node_id, 0) + 1
        step = config.delay / (len(config.chunks) + 1)
        for chunk in config.chunks:
            await asyncio.sleep(step)
            yield StreamChunk((node_id, "text"), chunk)
        await asyncio.sleep(step if config.chunks else config.delay)
        if config.fail_times < 0 or attempt <= config.fail_times:
            self.log.append(("fail", node_id))
            raise NodeError(f"{node_id} failed on attempt {attempt}", error_type="ProbeError")
        self.log.append(("end", node_id))
        yield NodeResult(
            outputs={"text": "".join(config.chunks), "value": config.value},
            handle=config.handle,
        )

    def run_now(self, ctx: NodeContext, config: ProbeConfig) -> NodeResult:
        node_id = ctx.node_id
        self.log.append(("start", node_id))
        attempt = self.attempts[node_id] = self.attempts.get(node_id, 0) + 1
        if config.fail_times < 0 or attempt <= config.fail_times:
            self.log.append(("fail", node_id))
            raise NodeError(f"{node_id} failed on attempt {attempt}", error_type="ProbeError")
        self.log.append(("end", node_id))
        return NodeResult(outputs={"text": "", "value": config.value}, handle=config.handle)

    def order(self, kind: str) -> list[str]:
        return [node_id for what, node_id in self.log if what == kind]


def node(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "data": {"type": node_type, "title": node_id, **data}}


def edge(source: str, target: str, handle: str = "source") -> dict[str, Any]:
    return {
        "id": f"{source}-{handle}-{target}",
        "source": source,
        "target": target,
        "sourceHandle": handle,
    }


def chain(*node_ids: str) -> list[dict[str, Any]]:
    return [edge(a, b) for a, b in itertools.pairwise(node_ids)]


def build(
    *,
    nodes: Sequence[Mapping[str, Any]],
    edges: Sequence[Mapping[str, Any]],
    probe: Probe | None = None,
    mode: str = "advanced-chat",
) -> Graph:
    registry = dict(REGISTRY)
    if probe is not None:
        registry["probe"] = probe.spec
        registry["probe-instant"] = probe.instant_spec
    return graph_from_dicts(nodes, edges, mode=mode, registry=registry)


def services(*, llm: FakeLLM | None = None, **limits: Any) -> EngineServices:
    return EngineServices(models=FakeRegistry(llm), limits=EngineLimits(**limits))


async def collect(
    graph: Graph,
    *,
    query: str = "hello?",
    inputs: Mapping[str, Any] | None = None,
    engine: EngineServices | None = None,
    conversation: Mapping[str, Any] | None = None,
) -> list[Event]:
    pool = VariablePool(system={"query": query, "files": []}, conversation=conversation)
    return [
        event
        async for event in run_graph(
            graph, pool=pool, services=engine or services(), inputs=inputs or {}
        )
    ]
