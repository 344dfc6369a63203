"""What the iteration and loop nodes share: running one pass of a subgraph.

A pass runs `ctx.run_subgraph` over a forked pool and re-yields the children's events.
It fails when the subgraph raises or when a direct child (an event stamped with this
pass's scope) finishes `failed`, i.e. with no error strategy that handled it. (The
pass's own start node, `iteration-start` or `loop-start`, runs without node events: see
`PASS_START_TYPES`.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from chatflow.engine.events import ContainerScope, Event, NodeFinished
from chatflow.engine.nodes.base import NodeContext, SubgraphRunner
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError
from chatflow.providers.base import Usage

# Container nodes report their children's usage summed; counting only leaf nodes keeps
# nested containers (whose own NodeFinished carries an aggregate) from counting twice.
_CONTAINER_TYPES = frozenset(("iteration", "loop"))


@dataclass(slots=True)
class PassOutcome:
    """What one pass through a subgraph ended with."""

    error: str | None = None
    usage: Usage | None = None
    reached_loop_end: bool = False


def subgraph_runner(ctx: NodeContext, node_type: str) -> SubgraphRunner:
    if ctx.run_subgraph is None:
        raise NodeError(f"{node_type} node {ctx.node_id} was run without a subgraph runner")
    return ctx.run_subgraph


async def run_pass(
    runner: SubgraphRunner,
    start_node_id: str,
    pool: VariablePool,
    scope: ContainerScope,
    outcome: PassOutcome,
) -> AsyncIterator[Event]:
    """Yield the pass's events, recording failure, usage and loop-end into `outcome`."""
    events = runner(start_node_id, pool, scope)
    ended = False
    try:
        # Only the subgraph raises here: the consumer stops us with cancellation or
        # aclose(), which are BaseExceptions and pass through.
        async for event in events:
            if isinstance(event, NodeFinished):
                _observe(event, scope, outcome)
            yield event
        ended = True
    except Exception as exc:  # a failed child surfaces as the pass's error
        ended = True
        if outcome.error is None:
            outcome.error = str(exc) or type(exc).__name__
    finally:
        # Closing promptly matters when the run is stopped mid-pass (an ended
        # generator has nothing left to close).
        close = None if ended else getattr(events, "aclose", None)
        if close is not None:
            await close()


def _observe(event: NodeFinished, scope: ContainerScope, outcome: PassOutcome) -> None:
    if event.usage is not None and event.node_type not in _CONTAINER_TYPES:
        outcome.usage = event.usage if outcome.usage is None else outcome.usage.plus(event.usage)
    if event.scope != scope:
        return  # a grandchild: its own container decides what its failure means
    if event.status == "failed" and outcome.error is None:
        outcome.error = event.error or f"node {event.node_id} failed"
    elif event.node_type == "loop-end" and event.status == "succeeded":
        outcome.reached_loop_end = True


def add_usage(total: Usage | None, extra: Usage | None) -> Usage | None:
    if extra is None:
        return total
    return extra if total is None else total.plus(extra)
