"""The code node through the real sandbox: Dify's inputs, output validation and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import code, spec_for
from chatflow.engine.nodes.base import CodeExecutor, EngineServices, NodeContext, NodeResult
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError
from chatflow.sandbox import SandboxExecutor


class _NoModels:
    def llm(self, provider: str, model: str) -> Any:
        raise AssertionError("the code node never calls a model")

    def embedder(self) -> Any:
        raise AssertionError("the code node never embeds")


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxExecutor]:
    async with SandboxExecutor(workers=2) as executor:
        yield executor


def _ctx(executor: CodeExecutor | None, limits: EngineLimits | None = None) -> NodeContext:
    pool = VariablePool(system={"query": "hello?"})
    pool.set("start", "n", 4)
    pool.set(
        "start",
        "doc",
        File(type="document", transfer_method="local_file", id="f1", filename="a.pdf"),
    )
    services = EngineServices(models=_NoModels(), limits=limits or EngineLimits(), code=executor)
    return NodeContext("code1", pool, services)


async def _run(
    executor: CodeExecutor | None,
    source: str,
    outputs: dict[str, Any],
    *,
    variables: list[tuple[str, list[str]]] = (),  # type: ignore[assignment]
    language: str = "python3",
    limits: EngineLimits | None = None,
) -> NodeResult:
    config = code.Config.model_validate(
        {
            "type": "code",
            "code_language": language,
            "code": source,
            "variables": [{"variable": v, "value_selector": s} for v, s in variables],
            "outputs": outputs,
        }
    )
    events = [event async for event in code.run(_ctx(executor, limits), config)]
    assert len(events) == 1 and isinstance(events[0], NodeResult)
    return events[0]


def test_registered() -> None:
    spec = spec_for("code")
    assert spec is not None and spec.config is code.Config


async def test_bench_branch_step(sandbox: SandboxExecutor) -> None:
    result = await _run(
        sandbox,
        "def main(arg1: str) -> dict:\n    return {\"result\": arg1 + 'a1'}\n",
        {"result": {"type": "string", "children": None}},
        variables=[("arg1", ["sys", "query"])],
    )
    assert result.outputs == {"result": "hello?a1"}
    assert result.inputs == {"arg1": "hello?"}


async def test_inputs_files_and_missing_values(sandbox: SandboxExecutor) -> None:
    source = (
        "def main(doc, n, gone):\n"
        "    return {'name': doc['filename'], 'kind': doc['dify_model_identity'],\n"
        "            'n': n + 1, 'gone': gone is None, 'extra': 'dropped'}\n"
    )
    result = await _run(
        sandbox,
        source,
        {
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "n": {"type": "number"},
            "gone": {"type": "boolean"},
        },
        variables=[("doc", ["start", "doc"]), ("n", ["start", "n"]), ("gone", ["start", "x"])],
    )
    assert result.outputs == {"name": "a.pdf", "kind": "__dify__file__", "n": 5, "gone": True}


async def test_array_string_limit_from_settings(sandbox: SandboxExecutor) -> None:
    source = (
        'def main(arg1: str) -> dict:\n    return {"items": [f"{arg1}-{i}" for i in range(100)]}\n'
    )
    outputs = {"items": {"type": "array[string]", "children": None}}
    variables = [("arg1", ["sys", "query"])]
    with pytest.raises(NodeError) as caught:
        await _run(sandbox, source, outputs, variables=variables)
    assert (
        str(caught.value) == "The length of output variable `items` must be less than 30 elements."
    )
    assert caught.value.error_type == "OutputValidationError"
    raised = EngineLimits(code_max_string_array_length=100)
    result = await _run(sandbox, source, outputs, variables=variables, limits=raised)
    assert result.outputs["items"][99] == "hello?-99"


async def test_object_children_and_arrays_of_objects(sandbox: SandboxExecutor) -> None:
    source = (
        "def main():\n"
        "    return {'obj': {'a': 1, 'b': {'c': 'x'}}, 'rows': [{'k': 1}, {'k': 2}],\n"
        "            'flags': [True, False], 'nums': [1, 2.5]}\n"
    )
    outputs = {
        "obj": {"type": "object", "children": {"a": {"type": "number"}, "b": {"type": "object"}}},
        "rows": {"type": "array[object]"},
        "flags": {"type": "array[boolean]"},
        "nums": {"type": "array[number]"},
    }
    result = await _run(sandbox, source, outputs)
    assert result.outputs == {
        "obj": {"a": 1, "b": {"c": "x"}},
        "rows": [{"k": 1}, {"k": 2}],
        "flags": [True, False],
        "nums": [1, 2.5],
    }


@pytest.mark.parametrize(
    ("returned", "outputs", "message"),
    [
        ("{}", {"r": {"type": "string"}}, "Output r is missing."),
        ("{'r': 1}", {"r": {"type": "string"}}, "Output variable `r` must be a string"),
        ("{'r': 'x'}", {"r": {"type": "number"}}, "Output variable `r` must be a number"),
        ("{'r': 1}", {"r": {"type": "boolean"}}, "Output variable `r` must be a boolean"),
        ("{'r': [1]}", {"r": {"type": "object"}}, "Output r is not an object, got <class 'list'>"),
        ("{'r': 'x'}", {"r": {"type": "array[string]"}}, "Output r is not an array"),
        (
            "{'r': ['a', 1]}",
            {"r": {"type": "array[string]"}},
            "Output variable `r[1]` must be a string",
        ),
        ("{'r': [1, 'a']}", {"r": {"type": "array[object]"}}, "Output r[0] is not an object"),
        ("{'r': 'x' * 400001}", {"r": {"type": "string"}}, "must be less than 400000 characters"),
        ("{'r': 2 ** 64}", {"r": {"type": "number"}}, "Output variable `r` is out of range"),
        ("{'r': 1 / 3}", {"r": {"type": "number"}}, None),
        (
            "{'r': {'a': {'b': {'c': {'d': {'e': 1}}}}}}",
            {"r": {"type": "object"}},
            "Depth limit 5 reached, object too deep.",
        ),
        ("{'r': {'a': [1, 'x']}}", {"r": {"type": "object"}}, "Output r.a is not a valid array"),
        ("{'r': [0] * 1001}", {"r": {"type": "array[number]"}}, "less than 1000 elements"),
    ],
)
async def test_output_validation(
    sandbox: SandboxExecutor, returned: str, outputs: dict[str, Any], message: str | None
) -> None:
    source = f"def main():\n    return {returned}\n"
    if message is None:  # 1/3 has 16 decimals: within Dify's precision of 20
        assert (await _run(sandbox, source, outputs)).outputs["r"] == pytest.approx(1 / 3)
        return
    with pytest.raises(NodeError) as caught:
        await _run(sandbox, source, outputs)
    assert message in str(caught.value)
    assert caught.value.error_type == "OutputValidationError"


async def test_precision_limit(sandbox: SandboxExecutor) -> None:
    limits = EngineLimits(code_max_precision=3)
    with pytest.raises(NodeError, match="has too high precision, it must be less than 3 digits"):
        await _run(
            sandbox,
            "def main():\n    return {'r': 0.12345}\n",
            {"r": {"type": "number"}},
            limits=limits,
        )


async def test_null_outputs_are_allowed(sandbox: SandboxExecutor) -> None:
    result = await _run(sandbox, "def main():\n    return {'r': None}\n", {"r": {"type": "string"}})
    assert result.outputs == {"r": None}


async def test_javascript(sandbox: SandboxExecutor) -> None:
    result = await _run(
        sandbox,
        "function main({n}) {\n  return {double: n * 2, label: `n=${n}`};\n}\n",
        {"double": {"type": "number"}, "label": {"type": "string"}},
        variables=[("n", ["start", "n"])],
        language="javascript",
    )
    assert result.outputs == {"double": 8, "label": "n=4"}


async def test_sandbox_errors_fail_the_node(sandbox: SandboxExecutor) -> None:
    with pytest.raises(NodeError) as caught:
        await _run(sandbox, "def main():\n    return {'x': open('/etc/passwd').read()}\n", {})
    assert caught.value.error_type == "CodeExecutionError"
    assert "reading '/etc/passwd' is not allowed" in str(caught.value)
    with pytest.raises(NodeError, match=r"ZeroDivisionError: division by zero \(line 2\)"):
        await _run(sandbox, "def main():\n    return {'x': 1 / 0}\n", {})


async def test_timeout_from_limits(sandbox: SandboxExecutor) -> None:
    limits = EngineLimits(code_timeout_seconds=0.5)
    with pytest.raises(NodeError, match=r"code execution timed out after 0\.5s"):
        await _run(sandbox, "def main():\n    while True:\n        pass\n", {}, limits=limits)


async def test_not_configured() -> None:
    with pytest.raises(NodeError, match="code execution is not configured"):
        await _run(None, "def main():\n    return {}\n", {})
