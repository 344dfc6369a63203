"""The if-else node: pick the first case whose conditions hold.

Two DSL shapes exist. Current Dify writes `cases` (each with `case_id`, `logical_operator`,
`conditions`) and the branch handle is the matching `case_id`, else `"false"`. Old DSLs
write one `logical_operator` + `conditions` pair, whose handles are `"true"`/`"false"`.
The comparison language itself lives in `chatflow.engine.conditions`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from chatflow.engine.conditions import Condition, ConditionError, evaluate
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult
from chatflow.errors import NodeError

TYPE = "if-else"


class Case(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    case_id: str
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[Condition] = []


class Config(NodeConfig):
    cases: list[Case] | None = None
    # Legacy shape (DSLs from before cases existed).
    logical_operator: Literal["and", "or"] | None = "and"
    conditions: list[Condition] | None = None

    def iter_cases(self) -> list[Case]:
        if self.cases is not None:
            return list(self.cases)
        return [
            Case(
                case_id="true",
                logical_operator=self.logical_operator or "and",
                conditions=list(self.conditions or []),
            )
        ]


def run(ctx: NodeContext, config: Config) -> NodeResult:
    """Evaluate cases in order; Dify falls back to the "false" handle."""
    legacy = config.cases is None
    condition_results: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    selected = "false"
    matched = False
    for case in config.iter_cases():
        try:
            result = evaluate(ctx.pool, case.conditions, case.logical_operator)
        except ConditionError as exc:
            raise NodeError(str(exc), node_id=ctx.node_id) from exc
        inputs = result.inputs
        condition_results.append(
            {
                "group": "default" if legacy else case.model_dump(),
                "results": result.results,
                "final_result": result.final,
            }
        )
        if result.final:
            matched = True
            selected = case.case_id
            break
    return NodeResult(
        outputs={"result": matched, "selected_case_id": selected},
        inputs={"conditions": inputs},
        process_data={"condition_results": condition_results},
        handle=selected,
    )
