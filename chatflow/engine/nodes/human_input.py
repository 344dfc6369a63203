"""The `human-input` node: pause the run until a person fills in a form.

Dify 1.13+ semantics (`core/workflow/nodes/human_input`, graphon `HumanInputNode`):

- First run: render `form_content` (`{{#node.var#}}` filled in, `{{#$output.name#}}` input
  placeholders kept), resolve variable-backed input defaults, and pause: the node yields
  `HumanInputRequired` and a `paused` result; the runner stops the run with `RunPaused`.
- Resumed with a `FormSubmission`: `human_input_form_filled`, then the node succeeds with
  the submitted values plus `__action_id`, `__action_value` (the button title) and
  `__rendered_content` (placeholders replaced by the values), on the branch named by the
  chosen action's id.
- Resumed with `FormTimeout` (the form expired): `human_input_form_timeout`, then the node
  succeeds with empty action outputs on the `__timeout` branch (the handle Dify's editor
  draws for "Timeout").

Persisting forms, tokens and submissions is the server's job (`services/human_input.py`);
the node only describes the form and turns a decision into outputs.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatflow.engine.events import HumanInputFormFilled, HumanInputFormTimeout, HumanInputRequired
from chatflow.engine.files import to_json
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.template import render
from chatflow.engine.variables import MISSING
from chatflow.errors import NodeError

TYPE = "human-input"

TIMEOUT_HANDLE = "__timeout"
ACTION_ID = "__action_id"
ACTION_VALUE = "__action_value"
RENDERED_CONTENT = "__rendered_content"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OUTPUT_PLACEHOLDER = re.compile(r"\{\{#\$output\.(?P<name>[a-zA-Z_][a-zA-Z0-9_]{0,29})#\}\}")
_SECONDS = {"hour": 3600, "day": 86400}


class ValueSource(BaseModel):
    """An input's default (`default`, or the older `placeholder`): a constant or a variable."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["constant", "const", "variable"] = "constant"
    selector: list[str] = Field(default_factory=list)
    value: Any = ""


class FormInput(BaseModel):
    """One form field. Dify's types: paragraph, text-input, select, file, file-list; other
    keys (`option_source`, file limits, ...) are kept and sent to clients unchanged."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = "paragraph"
    output_variable_name: str
    default: ValueSource | None = None
    placeholder: ValueSource | None = None

    @property
    def source(self) -> ValueSource | None:
        return self.default if self.default is not None else self.placeholder


class UserAction(BaseModel):
    """A button; its `id` is also the node's branch handle, so it must be an identifier."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    title: str = ""
    button_style: str = "default"

    @field_validator("id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(
                f"{value!r} is not a valid identifier: it must start with a letter or "
                "underscore and contain only letters, numbers or underscores"
            )
        return value


class Config(NodeConfig):
    form_content: str = ""
    inputs: list[FormInput] = Field(default_factory=list)
    user_actions: list[UserAction] = Field(default_factory=list)
    timeout: int = 36
    timeout_unit: Literal["hour", "day"] = "hour"
    # webapp / email ...: delivery is the server's concern; kept for the record.
    delivery_methods: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("inputs")
    @classmethod
    def _unique_inputs(cls, inputs: list[FormInput]) -> list[FormInput]:
        names = [item.output_variable_name for item in inputs]
        duplicated = {name for name in names if names.count(name) > 1}
        if duplicated:
            raise ValueError(f"duplicated output_variable_name {sorted(duplicated)[0]!r} in inputs")
        return inputs

    @field_validator("user_actions")
    @classmethod
    def _unique_actions(cls, actions: list[UserAction]) -> list[UserAction]:
        ids = [action.id for action in actions]
        duplicated = {action_id for action_id in ids if ids.count(action_id) > 1}
        if duplicated:
            raise ValueError(f"duplicated user action id {sorted(duplicated)[0]!r}")
        return actions

    @property
    def timeout_seconds(self) -> int:
        return self.timeout * _SECONDS[self.timeout_unit]

    def action(self, action_id: str) -> UserAction | None:
        return next((a for a in self.user_actions if a.id == action_id), None)


@dataclass(frozen=True, slots=True)
class FormSubmission:
    """Resume input: the chosen action and the submitted values (already validated)."""

    action_id: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    # The form as it was shown (rendered at pause time); re-rendered when empty.
    rendered_content: str = ""


@dataclass(frozen=True, slots=True)
class FormTimeout:
    """Resume input: the form expired before anyone submitted it."""

    expiration_time: float
    rendered_content: str = ""


class SubmissionError(ValueError):
    """A submission that does not fit the form (Dify's `invalid_form_data`)."""


def validate_submission(config: Config, action_id: str, inputs: Mapping[str, Any]) -> None:
    """Dify's `validate_human_input_submission`: a known action and every input present;
    select inputs with constant options must pick one of them."""
    if config.action(action_id) is None:
        raise SubmissionError(f"Invalid action: {action_id}")
    names = [item.output_variable_name for item in config.inputs]
    missing = [name for name in names if name not in inputs]
    if missing:
        raise SubmissionError(f"Missing required inputs: {', '.join(missing)}")
    for form_input in config.inputs:
        value = inputs[form_input.output_variable_name]
        if form_input.type in ("paragraph", "text-input", "text_input", "select"):
            if not isinstance(value, str):
                raise SubmissionError(
                    f"Invalid value for {form_input.type} input "
                    f"'{form_input.output_variable_name}': expected string"
                )
        if form_input.type == "select":
            options = (form_input.model_extra or {}).get("option_source") or {}
            allowed = options.get("value") if isinstance(options, Mapping) else None
            if options.get("type") == "constant" and isinstance(allowed, list):
                if value not in allowed:
                    raise SubmissionError(
                        f"Invalid value for select input "
                        f"'{form_input.output_variable_name}': {value}"
                    )


def render_with_outputs(config: Config, content: str, values: Mapping[str, Any]) -> str:
    """Replace `{{#$output.name#}}` placeholders with submitted values (Dify's
    `render_form_content_with_outputs`: files as `[file]` / `[N files]`)."""
    types = {i.output_variable_name: i.type for i in config.inputs}

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        value = values.get(name)
        if value is None:
            return ""
        if types.get(name) == "file":
            return "[file]"
        if types.get(name) == "file-list":
            return f"[{len(value) if isinstance(value, list) else 0} files]"
        if isinstance(value, dict | list):
            return json.dumps(to_json(value, float), ensure_ascii=False)
        return str(value)

    return _OUTPUT_PLACEHOLDER.sub(replace, content)


def _resolved_defaults(ctx: NodeContext, config: Config) -> dict[str, Any]:
    """Values of variable-backed defaults; a missing variable means no default."""
    resolved: dict[str, Any] = {}
    for form_input in config.inputs:
        source = form_input.source
        if source is None or source.type != "variable":
            continue
        value = ctx.pool.get(source.selector)
        if value is not MISSING:
            resolved[form_input.output_variable_name] = to_json(value, float)
    return resolved


def _special(action_id: str, action_value: str, rendered: str) -> dict[str, Any]:
    return {ACTION_ID: action_id, ACTION_VALUE: action_value, RENDERED_CONTENT: rendered}


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    decision = ctx.resume
    title = config.title or ctx.node_id
    if isinstance(decision, FormTimeout):
        yield HumanInputFormTimeout(ctx.node_id, title, decision.expiration_time)
        rendered = decision.rendered_content or render(config.form_content, ctx.pool, "markdown")
        yield NodeResult(outputs=_special("", "", rendered), handle=TIMEOUT_HANDLE)
        return
    if isinstance(decision, FormSubmission):
        try:
            validate_submission(config, decision.action_id, decision.inputs)
        except SubmissionError as exc:
            raise NodeError(str(exc), error_type="HumanInputNodeError") from exc
        action = config.action(decision.action_id)
        assert action is not None  # validated above
        names = {i.output_variable_name for i in config.inputs}
        submitted = {k: v for k, v in decision.inputs.items() if k in names}
        shown = decision.rendered_content or render(config.form_content, ctx.pool, "markdown")
        rendered = render_with_outputs(config, shown, submitted)
        yield HumanInputFormFilled(
            ctx.node_id, title, rendered, action.id, action.title or action.id, submitted
        )
        outputs = {**submitted, **_special(action.id, action.title, rendered)}
        yield NodeResult(outputs=outputs, inputs=submitted, handle=action.id)
        return
    if ctx.scope.iteration_id is not None or ctx.scope.loop_id is not None:
        raise NodeError(
            "a human-input node cannot pause inside an iteration or loop",
            error_type="HumanInputNodeError",
        )
    yield HumanInputRequired(
        execution_id=ctx.execution_id,
        node_id=ctx.node_id,
        title=title,
        form_id=str(uuid.uuid4()),
        form_content=render(config.form_content, ctx.pool, "markdown"),
        inputs=[item.model_dump(mode="json", exclude_none=True) for item in config.inputs],
        actions=[action.model_dump(mode="json") for action in config.user_actions],
        timeout_at=time.time() + config.timeout_seconds,
        form_token=secrets.token_urlsafe(16),
        resolved_default_values=_resolved_defaults(ctx, config),
        display_in_ui=any(
            m.get("type") == "webapp" and m.get("enabled", True) for m in config.delivery_methods
        ),
    )
    yield NodeResult(status="paused")
