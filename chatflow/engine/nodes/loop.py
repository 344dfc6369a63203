"""The loop node: runs its subgraph repeatedly until a break condition or `loop_count`.

Matches Dify's loop: `loop_variables` live at `[loop_id, label]` (constants parsed per
`var_type`, or copied from a selector), nodes inside the loop update them (usually an
assigner), and after each round the loop stops when `break_conditions` (if-else
semantics, combined with `logical_operator`) hold or a `loop-end` node was reached. The
conditions are also checked once before the first round. Each round starts from a fresh
fork of the run's pool, as Dify clears the inner nodes' outputs between rounds; after the
loop, the last round's inner outputs are kept in the run's pool, as Dify's loop runs in
the run's own pool. The node outputs the loop variables plus `loop_round`. As in Dify,
`LoopNext` comes between rounds (index of the round to come), not before the first.
`loop_count` is capped by `limits.loop_max_count` (Dify's LOOP_NODE_MAX_COUNT).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.conditions import Condition, ConditionError, evaluate
from chatflow.engine.events import LoopCompleted, LoopNext, LoopStarted
from chatflow.engine.files import to_json
from chatflow.engine.nodes._container import (
    PassOutcome,
    add_usage,
    run_pass,
    subgraph_runner,
)
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.variables import MISSING, VariablePool
from chatflow.errors import NodeError
from chatflow.providers.base import Usage

TYPE = "loop"


class LoopVariable(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    label: str
    var_type: str = "string"
    value_type: Literal["constant", "variable"] = "constant"
    value: Any = None


class Config(NodeConfig):
    start_node_id: str = ""
    loop_count: int = Field(default=1, ge=1)
    break_conditions: list[Condition] = Field(default_factory=list)
    logical_operator: Literal["and", "or"] = "and"
    loop_variables: list[LoopVariable] = Field(default_factory=list)


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    runner = subgraph_runner(ctx, TYPE)
    count = min(config.loop_count, ctx.services.limits.loop_max_count)
    variables = {var.label: _initial_value(ctx.pool, var) for var in config.loop_variables}
    inputs: dict[str, Any] = {"loop_count": count, **to_json(variables)}
    started = time.time()
    yield LoopStarted(
        execution_id=ctx.execution_id,
        node_id=ctx.node_id,
        title=config.title,
        inputs=inputs,
        started_at=started,
        metadata={"loop_length": count},
    )
    outputs: dict[str, Any] = {}
    usage: Usage | None = None
    error: str | None = None
    rounds = 0
    pool: VariablePool | None = None
    # Dify checks the conditions before the first round too, ignoring evaluation errors;
    # a loop stopped there reports 0 `steps`, any other the configured count.
    stop = _should_break(config, _round_pool(ctx, variables), suppress_errors=True)
    steps = 0 if stop else count
    while not stop and rounds < count:
        pool = _round_pool(ctx, variables)
        scope = replace(ctx.scope, loop_id=ctx.node_id, loop_index=rounds)
        outcome = PassOutcome()
        async for event in run_pass(runner, config.start_node_id, pool, scope, outcome):
            yield event
        rounds += 1
        usage = add_usage(usage, outcome.usage)
        for label in variables:
            variables[label] = pool.get([ctx.node_id, label], None)
        outputs = {**variables, "loop_round": rounds}
        if outcome.error is not None:
            error = outcome.error
            break
        try:
            stop = outcome.reached_loop_end or _should_break(config, pool, suppress_errors=False)
        except ConditionError as exc:
            error = f"loop break condition failed: {exc}"
            break
        if not stop:
            # Dify announces the next round after each round that did not end the loop
            # (after the last of `loop_count` too), never before the first.
            yield LoopNext(
                execution_id=ctx.execution_id,
                node_id=ctx.node_id,
                title=config.title,
                index=rounds,
                started_at=time.time(),
                pre_loop_output=to_json(outputs),
            )
    if pool is not None:
        _keep_last_round(ctx, pool)

    yield LoopCompleted(
        execution_id=ctx.execution_id,
        node_id=ctx.node_id,
        title=config.title,
        inputs=inputs,
        outputs=to_json(outputs),
        status="failed" if error else "succeeded",
        error=error,
        steps=steps,
        started_at=started,
        finished_at=time.time(),
        usage=usage,
    )
    if error is not None:
        raise NodeError(error)
    yield NodeResult(outputs=outputs or dict(variables), inputs=inputs, usage=usage)


def _keep_last_round(ctx: NodeContext, pool: VariablePool) -> None:
    """Put the last round's inner node outputs in the run's pool (not the loop's own
    variables: the runner stores the loop node's outputs)."""
    for node_id, outputs in pool.written_scopes().items():
        if node_id != ctx.node_id:
            ctx.pool.set_outputs(node_id, outputs)


def _round_pool(ctx: NodeContext, variables: dict[str, Any]) -> VariablePool:
    pool = ctx.pool.fork()
    for label, value in variables.items():
        pool.set(ctx.node_id, label, value)
    return pool


def _should_break(config: Config, pool: VariablePool, *, suppress_errors: bool) -> bool:
    if not config.break_conditions:
        return False
    try:
        return evaluate(pool, config.break_conditions, config.logical_operator).final
    except ConditionError:
        if suppress_errors:
            return False
        raise


def _initial_value(pool: VariablePool, variable: LoopVariable) -> Any:
    if variable.value_type == "variable":
        if not isinstance(variable.value, list):
            raise NodeError(f"Invalid value for loop variable {variable.label}")
        value = pool.get([str(step) for step in variable.value])
        if value is MISSING:
            raise NodeError(f"Invalid value for loop variable {variable.label}")
        return value
    return _constant(variable)


def _constant(variable: LoopVariable) -> Any:
    """DSL constants arrive as text ("1", "[]"); parse them per `var_type` like Dify."""
    raw, var_type = variable.value, variable.var_type
    if var_type == "string":
        return "" if raw is None else str(raw)
    if isinstance(raw, str):
        if var_type.startswith("array") and not raw.strip():
            return []
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise NodeError(
                f"Invalid value for loop variable {variable.label}: {variable.value!r}"
            ) from exc
    if raw is None and var_type.startswith("array"):
        return []
    if not _matches(var_type, raw):
        raise NodeError(
            f"Invalid value for loop variable {variable.label}: expected {var_type}, got {raw!r}"
        )
    return raw


def _matches(var_type: str, value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    checks: dict[str, bool] = {
        "number": number,
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "array[string]": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "array[number]": isinstance(value, list)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value),
        "array[object]": isinstance(value, list) and all(isinstance(v, dict) for v in value),
        "array[boolean]": isinstance(value, list) and all(isinstance(v, bool) for v in value),
    }
    return checks.get(var_type, True)
