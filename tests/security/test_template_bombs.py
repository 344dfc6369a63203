"""Template-transform bombs: every size-amplifying Jinja operation is refused before it
allocates, and a slow render runs off the event loop."""

from __future__ import annotations

import asyncio

import pytest

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import spec_for, template_transform
from chatflow.engine.nodes._jinja import TemplateRenderError, render
from chatflow.engine.nodes.base import EngineServices, NodeContext
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError

BOMBS = [
    '{{ "x"|replace("", "y" * 1000000) }}',
    '{{ ("ab" * 100000)|replace("a", "b" * 1000) }}',
    '{{ "x".replace("", "y" * 1000000) }}',
    '{{ "x".center(10 ** 9) }}',
    '{{ "x"|center(999999999) }}',
    '{{ "x".ljust(999999999) }}',
    '{{ "x".rjust(999999999) }}',
    '{{ "x".zfill(999999999) }}',
    '{{ "a\tb".expandtabs(10 ** 8) }}',
    '{{ "x"|indent(999999999, true) }}',
    '{{ (["y" * 1000000] * 1000)|join }}',
    '{{ "".join(["y" * 1000000] * 1000) }}',
    '{{ "%999999999s" % "a" }}',
    '{{ "%*s" % (999999999, "a") }}',
    '{{ "%999999999s"|format("a") }}',
    '{{ "{:>999999999}".format("a") }}',
    '{{ "{0:{1}}".format("a", 999999999) }}',
    '{{ "{a:{w}}".format_map({"a": "x", "w": 999999999}) }}',
    '{{ "x" * 10 ** 9 }}',
    "{% for i in range(10 ** 9) %}{% endfor %}",
]


@pytest.mark.parametrize("template", BOMBS)
def test_bombs_are_refused(template: str) -> None:
    with pytest.raises(TemplateRenderError):
        render(template, {})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{ "a-b"|replace("-", "+") }}', "a+b"),
        ('{{ "ab"|center(6) }}', "  ab  "),
        ('{{ "%5s|%-3d" % ("ab", 7) }}', "   ab|7  "),
        ('{{ "{}-{:>3}".format("a", "b") }}', "a-  b"),
        ('{{ "{0:{1}}".format("a", 3) }}', "a  "),
        ('{{ [1, 2]|join(",") }}', "1,2"),
        ('{{ "a\nb"|indent(2, true) }}', "  a\n  b"),
        ('{{ "%s=%d"|format("a", 3) }}', "a=3"),
    ],
)
def test_ordinary_templates_still_render(template: str, expected: str) -> None:
    assert render(template, {}) == expected


async def test_a_slow_render_does_not_stall_the_event_loop() -> None:
    template = "{% for i in range(90000) %}{% for j in range(10) %}{% endfor %}{% endfor %}ok"
    config = spec_for("template-transform").config.model_validate(
        {"type": "template-transform", "template": template, "variables": []}
    )
    services = EngineServices(models=None, limits=EngineLimits())  # type: ignore[arg-type]
    ctx = NodeContext("t", VariablePool(), services)

    async def run() -> object:
        return [event async for event in template_transform.run(ctx, config)][-1]

    task = asyncio.create_task(run())
    ticks = 0
    while not task.done():
        await asyncio.sleep(0.005)
        ticks += 1
    try:
        result = task.result()
    except NodeError:  # the range budget may stop it: still, the loop ticked meanwhile
        result = None
    assert ticks > 3
    assert result is None or getattr(result, "outputs", {}).get("output") == "ok"
