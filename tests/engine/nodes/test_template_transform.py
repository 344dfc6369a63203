"""template-transform: sandboxed Jinja2, Dify's inputs and limits, compiled-template cache."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import _jinja, spec_for, template_transform
from chatflow.engine.nodes.base import node_kind
from chatflow.errors import NodeError


def _data(template: str, **bindings: list[str]) -> dict[str, Any]:
    return {
        "template": template,
        "variables": [
            {"variable": name, "value_selector": selector, "value_type": "string"}
            for name, selector in bindings.items()
        ],
    }


async def test_renders_variables(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"start": {"name": "Ada", "items": ["x", "y"]}}, system={"query": "hi"})
    data = _data(
        "{{ q }} {{ name }}:{% for i in items %} {{ i|upper }}{% endfor %}\n",
        q=["sys", "query"],
        name=["start", "name"],
        items=["start", "items"],
    )
    result, events = await run_node(template_transform, ctx, data)
    assert events == []
    # Like jinja2.Template, the trailing newline is dropped; nothing is HTML-escaped.
    assert result.outputs == {"output": "hi Ada: X Y"}
    assert result.inputs == {"q": "hi", "name": "Ada", "items": ["x", "y"]}


async def test_no_autoescape_and_missing_values(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"start": {"html": "<b>&</b>"}})
    data = _data(
        "{{ html }}|{{ gone }}|{{ undefined_name }}", html=["start", "html"], gone=["x", "y"]
    )
    result, _ = await run_node(template_transform, ctx, data)
    assert result.outputs["output"] == "<b>&</b>|None|"
    assert result.inputs["gone"] is None


async def test_files_become_dicts(make_ctx: Any, run_node: Any, file_factory: Any) -> None:
    ctx = make_ctx(system={"files": [file_factory("a.png")]})
    data = _data("{{ files[0].filename }} {{ files[0].url }}", files=["sys", "files"])
    result, _ = await run_node(template_transform, ctx, data)
    assert result.outputs["output"] == "a.png https://example.com/a.png"


async def test_output_length_limit(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(limits=EngineLimits(template_max_length=10))
    result, _ = await run_node(template_transform, ctx, _data("0123456789"))
    assert result.outputs["output"] == "0123456789"
    with pytest.raises(NodeError, match="Output length exceeds 10 characters"):
        await run_node(template_transform, ctx, _data("{% for i in range(5) %}abc{% endfor %}"))


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ x ", "Template syntax error at line 1"),
        ("{% for %}", "Template syntax error"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ [1].append(2) }}", "Template rendering failed"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "Template rendering failed"),
        ("{{ range(200000)|length }}", "range too big"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "range",
        ),
        ("{{ 'a' * 100000000 }}", "too large"),
        ("{{ 10 ** 10000000 }}", "too large"),
    ],
)
async def test_errors_are_clear_node_errors(
    make_ctx: Any, run_node: Any, template: str, message: str
) -> None:
    with pytest.raises(NodeError, match=message) as error:
        await run_node(template_transform, make_ctx(), _data(template))
    assert error.value.error_type == "TemplateRenderError"


async def test_compiled_templates_are_cached(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(system={"query": "q"})
    data = _data("{{ arg1 }}. cached-template-test", arg1=["sys", "query"])
    await run_node(template_transform, ctx, data)
    hits = _jinja._compile.cache_info().hits
    for _ in range(3):
        result, _ = await run_node(template_transform, ctx, data)
    assert _jinja._compile.cache_info().hits == hits + 3
    assert result.outputs["output"] == "q. cached-template-test"


async def test_chain_of_renders(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(system={"query": "hello?"})
    previous = ["sys", "query"]
    for index in range(1, 51):
        node = f"t{index:02d}"
        result, _ = await run_node(template_transform, ctx, _data("{{ arg1 }}.", arg1=previous))
        ctx.pool.set_outputs(node, result.outputs)
        previous = [node, "output"]
    assert ctx.pool.get(previous) == "hello?" + "." * 50


def test_registered() -> None:
    spec = spec_for("template-transform")
    assert spec is not None and spec.run is template_transform.run


@pytest.mark.parametrize(
    ("template", "inline"),
    [
        ("{{ arg1 }}.", True),
        ("{{ a | upper }} and {{ b }}", True),
        ("{% for i in items %}{{ i }}{% endfor %}", False),
        ("{{ range(3) | list }}", False),
    ],
)
def test_slow_templates_render_on_a_thread_others_inline(template: str, inline: bool) -> None:
    """An expression template is an instant node (no generator, no thread hop); one with
    statements or range() renders on a worker thread, picked once at DSL import."""
    spec = spec_for("template-transform")
    assert spec is not None
    config = template_transform.Config.model_validate(
        {"type": "template-transform", **_data(template)}
    )
    run = spec.run_of(config)
    assert run is (template_transform.render_inline if inline else template_transform.run)
    kind = node_kind(run)
    assert (kind[0] is not None) is inline


async def test_thread_render_gives_the_same_output(make_ctx: Any) -> None:
    ctx = make_ctx(nodes={"start": {"items": ["a", "b"]}})
    slow = template_transform.Config.model_validate(
        {
            "type": "template-transform",
            **_data("{% for i in x %}{{ i }}{% endfor %}", x=["start", "items"]),
        }
    )
    fast = template_transform.Config.model_validate(
        {"type": "template-transform", **_data("{{ x | join('') }}", x=["start", "items"])}
    )
    threaded = [item async for item in template_transform.run(ctx, slow)]
    assert (
        threaded[-1].outputs
        == template_transform.render_inline(ctx, fast).outputs
        == {"output": "ab"}
    )
