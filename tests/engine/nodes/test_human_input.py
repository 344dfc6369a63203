"""human-input: DSL config (both input shapes), submission checks, output rendering."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.dsl import graph_from_dicts
from chatflow.engine.nodes import human_input
from chatflow.engine.nodes.human_input import (
    Config,
    SubmissionError,
    render_with_outputs,
    validate_submission,
)
from chatflow.errors import DSLError


def config(**data: Any) -> Config:
    base: dict[str, Any] = {
        "type": "human-input",
        "form_content": "x",
        "user_actions": [{"id": "ok", "title": "OK"}],
    }
    return Config.model_validate({**base, **data})


def load(data: dict[str, Any]) -> None:
    graph_from_dicts(
        [
            {"id": "start", "data": {"type": "start", "title": "s", "variables": []}},
            {"id": "hi", "data": {"type": "human-input", "title": "h", **data}},
        ],
        [{"id": "e", "source": "start", "target": "hi", "sourceHandle": "source"}],
        mode="advanced-chat",
    )


def test_registered_under_dify_type() -> None:
    assert human_input.TYPE == "human-input"
    from chatflow.engine.nodes import spec_for

    spec = spec_for("human-input")
    assert spec is not None and spec.config is Config


def test_defaults_match_dify() -> None:
    cfg = config()
    assert (cfg.timeout, cfg.timeout_unit) == (36, "hour")
    assert cfg.timeout_seconds == 36 * 3600
    assert config(timeout=3, timeout_unit="day").timeout_seconds == 3 * 86400


def test_both_input_shapes_are_accepted() -> None:
    cfg = config(
        inputs=[
            # Dify 1.10-1.12: text-input with a `placeholder` source.
            {
                "type": "text-input",
                "output_variable_name": "a",
                "placeholder": {"type": "constant", "value": "hint"},
            },
            # Dify 1.13+: paragraph with a `default`, select with an option source.
            {
                "type": "paragraph",
                "output_variable_name": "b",
                "default": {"type": "variable", "selector": ["start", "x"]},
            },
            {
                "type": "select",
                "output_variable_name": "c",
                "option_source": {"type": "constant", "value": ["red", "blue"]},
            },
        ]
    )
    assert [i.source.type if i.source else None for i in cfg.inputs] == [
        "constant",
        "variable",
        None,
    ]
    # Unknown keys reach clients unchanged.
    dumped = cfg.inputs[2].model_dump(mode="json", exclude_none=True)
    assert dumped["option_source"] == {"type": "constant", "value": ["red", "blue"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"user_actions": [{"id": "a b", "title": "x"}]}, "not a valid identifier"),
        ({"user_actions": [{"id": "a"}, {"id": "a"}]}, "duplicated user action id"),
        (
            {
                "inputs": [
                    {"type": "paragraph", "output_variable_name": "n"},
                    {"type": "paragraph", "output_variable_name": "n"},
                ]
            },
            "duplicated output_variable_name",
        ),
        ({"timeout_unit": "week"}, "timeout_unit"),
    ],
)
def test_bad_configs_fail_at_import(data: dict[str, Any], message: str) -> None:
    with pytest.raises(DSLError, match=message) as raised:
        load(data)
    assert "hi" in str(raised.value)


def test_submission_checks_follow_dify() -> None:
    cfg = config(
        inputs=[
            {"type": "paragraph", "output_variable_name": "note"},
            {
                "type": "select",
                "output_variable_name": "color",
                "option_source": {"type": "constant", "value": ["red", "blue"]},
            },
        ]
    )
    validate_submission(cfg, "ok", {"note": "n", "color": "red"})
    with pytest.raises(SubmissionError, match="Invalid action: nope"):
        validate_submission(cfg, "nope", {"note": "n", "color": "red"})
    with pytest.raises(SubmissionError, match="Missing required inputs: note, color"):
        validate_submission(cfg, "ok", {})
    with pytest.raises(SubmissionError, match="select input 'color': green"):
        validate_submission(cfg, "ok", {"note": "n", "color": "green"})
    with pytest.raises(SubmissionError, match="expected string"):
        validate_submission(cfg, "ok", {"note": 3, "color": "red"})


def test_output_placeholders_take_the_submitted_values() -> None:
    cfg = config(
        inputs=[
            {"type": "paragraph", "output_variable_name": "note"},
            {"type": "file", "output_variable_name": "doc"},
            {"type": "file-list", "output_variable_name": "docs"},
        ]
    )
    content = "N={{#$output.note#}} D={{#$output.doc#}} L={{#$output.docs#}} M={{#$output.x#}}"
    rendered = render_with_outputs(cfg, content, {"note": "hi", "doc": {}, "docs": [{}, {}]})
    assert rendered == "N=hi D=[file] L=[2 files] M="
