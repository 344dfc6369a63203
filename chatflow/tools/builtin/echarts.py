"""The `echarts` provider (Dify's chart tools, `langgenius/echarts/echarts`): line, bar
and pie charts as an ECharts option in an ```` ```echarts ```` block, which Dify's chat
renders as a chart.

Data and axis labels are `;`-separated, as in Dify's tools.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from chatflow.tools.base import TextMessage, ToolContext, ToolDescriptor, ToolError, ToolParameter
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

if TYPE_CHECKING:
    from chatflow.settings import Settings

ID = "echarts"


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.replace("；", ";").split(";") if item.strip()]


def _numbers(text: str) -> list[int | float]:
    values: list[int | float] = []
    for item in _items(text):
        try:
            number = float(item)
        except ValueError as error:
            raise ToolError(f"data must be numbers separated by ';', got {item!r}") from error
        values.append(int(number) if number.is_integer() and "." not in item else number)
    return values


def block(option: Mapping[str, Any]) -> str:
    """The fenced block Dify's chat renders as a chart."""
    return f"\n```echarts\n{json.dumps(option, ensure_ascii=False)}\n```\n"


def axis_option(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    data = _numbers(required_text(params, "data"))
    axis = _items(text_param(params, "x_axis"))
    if axis and len(axis) != len(data):
        raise ToolError(f"x_axis has {len(axis)} labels but data has {len(data)} values")
    return {
        "title": {"text": text_param(params, "title")},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": axis or [str(i + 1) for i in range(len(data))]},
        "yAxis": {"type": "value"},
        "series": [{"type": kind, "data": data}],
    }


def pie_option(params: Mapping[str, Any]) -> dict[str, Any]:
    data = _numbers(required_text(params, "data"))
    categories = _items(text_param(params, "categories"))
    if categories and len(categories) != len(data):
        raise ToolError(f"categories has {len(categories)} names but data has {len(data)}")
    names = categories or [str(i + 1) for i in range(len(data))]
    return {
        "title": {"text": text_param(params, "title"), "left": "center"},
        "tooltip": {"trigger": "item"},
        "legend": {"orient": "vertical", "left": "left"},
        "series": [
            {
                "type": "pie",
                "radius": "50%",
                "data": [{"value": v, "name": n} for v, n in zip(data, names, strict=True)],
            }
        ],
    }


async def line_chart(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    yield TextMessage(block(axis_option("line", params)))


async def bar_chart(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    yield TextMessage(block(axis_option("bar", params)))


async def pie_chart(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    yield TextMessage(block(pie_option(params)))


def provider(settings: Settings) -> BuiltinProvider:
    title = ToolParameter("title", "string", "Title")
    data = ToolParameter("data", "string", "Data", "Numbers separated by ';'", required=True)
    x_axis = ToolParameter("x_axis", "string", "X axis", "Labels separated by ';'")
    categories = ToolParameter("categories", "string", "Categories", "Names separated by ';'")

    def tool(name: str, description: str, *params: ToolParameter) -> ToolDescriptor:
        return ToolDescriptor(ID, name, name.replace("_", " ").title(), description, params)

    tools = [
        FunctionTool(tool("line_chart", "A line chart.", title, data, x_axis), line_chart),
        FunctionTool(tool("bar_chart", "A bar chart.", title, data, x_axis), bar_chart),
        FunctionTool(tool("pie_chart", "A pie chart.", title, data, categories), pie_chart),
    ]
    return BuiltinProvider(ID, ("chart", "langgenius/echarts/echarts"), "ECharts", tools)
