"""maths / calculator: an AST evaluator, never eval; hostile expressions are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.tools.base import ToolError
from chatflow.tools.builtin.maths import evaluate
from tests.tools.conftest import call, texts


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(2 + 3) * sqrt(16) / 2", 10),
        ("2 ^ 10", 1024),
        ("-3 ** 2", -9),
        ("7 // 2 + 7 % 2", 4),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("round(pi, 2)", 3.14),
        ("2 < 3 < 4", 1),
        ("6 × 7 ÷ 2", 21),
    ],
)
def test_values(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected)


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('id')",
        "().__class__.__bases__",
        "open('/etc/passwd')",
        "x + 1",
        "9 ** 9 ** 9",
        "factorial(100000)",
        "'a' * 3",
        "lambda: 1",
        "[1, 2]",
        "1 / 0",
        "-" * 100 + "1",
        "(" * 300 + "1" + ")" * 300,
        "1 +",
    ],
)
def test_refused(expression: str) -> None:
    with pytest.raises(ToolError):
        evaluate(expression)


async def test_tool_by_both_ids(tmp_path: Path) -> None:
    for provider in ("maths", "calculator", "langgenius/maths/maths"):
        messages = await call(tmp_path, provider, "eval_expression", {"expression": "10/4"})
        assert texts(messages) == "2.5"
    messages = await call(tmp_path, "maths", "eval_expression", {"expression": "10/5"})
    assert texts(messages) == "2"
