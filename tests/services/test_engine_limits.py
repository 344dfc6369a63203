"""Every code-output limit is a setting, with Dify's default, wired into `EngineLimits`."""

from __future__ import annotations

from dataclasses import fields

import pytest

from chatflow.engine.limits import EngineLimits
from chatflow.services.container import engine_limits
from chatflow.settings import Settings

WIRED = [f.name for f in fields(EngineLimits) if f.name.startswith("code_")] + [
    "template_max_length"
]
# Dify's defaults (api/configs/feature: CodeExecutionSandboxConfig, WorkflowConfig).
DIFY = {
    "code_max_string_length": 400_000,
    "code_max_string_array_length": 30,
    "code_max_object_array_length": 30,
    "code_max_number_array_length": 1000,
    "code_max_depth": 5,
    "code_max_number": 9_223_372_036_854_775_807,
    "code_min_number": -9_223_372_036_854_775_807,
    "code_max_precision": 20,
    "template_max_length": 400_000,
}


def test_defaults_are_difys() -> None:
    limits = engine_limits(Settings())
    for name, value in DIFY.items():
        assert getattr(limits, name) == value == getattr(EngineLimits(), name), name


@pytest.mark.parametrize("name", WIRED)
def test_each_limit_comes_from_its_setting(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    default = getattr(EngineLimits(), name)
    changed = default + 7 if default < 0 else default - 7
    monkeypatch.setenv(f"CHATFLOW_{name.upper()}", str(changed))
    assert getattr(engine_limits(Settings()), name) == changed
