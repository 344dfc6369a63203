"""json_process (parse, insert, replace, delete), text utilities and echarts charts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatflow.tools.base import JsonMessage, ToolError, VariableMessage
from tests.tools.conftest import call, texts

DOC = json.dumps({"user": {"name": "Ann", "tags": ["a", "b"]}, "items": [{"id": 1}, {"id": 2}]})


async def test_parse(tmp_path: Path) -> None:
    async def parse(path: str) -> str:
        return texts(
            await call(tmp_path, "json_process", "parse", {"content": DOC, "json_filter": path})
        )

    assert await parse("$.user.name") == "Ann"
    assert json.loads(await parse("$.user.tags")) == ["a", "b"]
    assert json.loads(await parse("$.items[*].id")) == [1, 2]
    assert await parse("$.items[?(@.id > 1)].id") == "2"
    assert await parse("$.missing") == ""


async def test_insert_replace_delete(tmp_path: Path) -> None:
    inserted = await call(
        tmp_path,
        "json_process",
        "json_insert",
        {"content": DOC, "query": "$.user.tags", "new_value": "c", "index": "0"},
    )
    assert json.loads(texts(inserted))["user"]["tags"] == ["c", "a", "b"]
    created = await call(
        tmp_path,
        "json_process",
        "json_insert",
        {"content": DOC, "query": "$.user.age", "new_value": "30", "create_path": "true"},
    )
    assert json.loads(texts(created))["user"]["age"] == 30
    pattern = await call(
        tmp_path,
        "json_process",
        "json_replace",
        {"content": DOC, "query": "$.user.name", "replace_pattern": "A", "replace_value": "Jo"},
    )
    assert json.loads(texts(pattern))["user"]["name"] == "Jonn"
    key = await call(
        tmp_path,
        "json_process",
        "json_replace",
        {"content": DOC, "query": "$.user.name", "replace_value": "first", "replace_model": "key"},
    )
    assert json.loads(texts(key))["user"] == {"first": "Ann", "tags": ["a", "b"]}
    value = await call(
        tmp_path,
        "json_process",
        "json_replace",
        {"content": DOC, "query": "$.items[0].id", "replace_value": "9", "replace_model": "value"},
    )
    assert json.loads(texts(value))["items"][0] == {"id": 9}
    deleted = await call(
        tmp_path, "json_process", "json_delete", {"content": DOC, "query": "$.items[*]"}
    )
    assert json.loads(texts(deleted))["items"] == []


async def test_json_errors(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="Invalid JSON"):
        await call(tmp_path, "json_process", "parse", {"content": "{nope", "json_filter": "$"})
    with pytest.raises(ToolError, match="Invalid JSONPath"):
        await call(tmp_path, "json_process", "parse", {"content": DOC, "json_filter": "$[[["})
    with pytest.raises(ToolError, match="needs parameter 'content'"):
        await call(tmp_path, "json_process", "parse", {"json_filter": "$"})


async def test_text_utilities(tmp_path: Path) -> None:
    found = await call(
        tmp_path,
        "regex",
        "regex_extract",
        {"content": "a1 b22 c333", "expression": r"[a-z](\d+)"},
    )
    assert texts(found) == "1\n22\n333"
    assert [m.value for m in found if isinstance(m, JsonMessage)] == [
        {"matches": ["1", "22", "333"]}
    ]
    stats = await call(tmp_path, "text", "text_stats", {"content": "one two\nthree"})
    assert next(m.value for m in stats if isinstance(m, JsonMessage)) == {
        "characters": 13,
        "characters_no_spaces": 11,
        "words": 3,
        "lines": 2,
    }
    upper = await call(tmp_path, "text", "case_convert", {"content": "abc", "mode": "upper"})
    assert texts(upper) == "ABC"
    replaced = await call(
        tmp_path, "text", "substring_replace", {"content": "a-b-c", "find": "-", "replace": "+"}
    )
    assert texts(replaced) == "a+b+c"
    parts = await call(tmp_path, "text", "split", {"content": "x,y", "delimiter": ","})
    assert [m for m in parts if isinstance(m, VariableMessage)] == [
        VariableMessage("parts", ["x", "y"])
    ]
    with pytest.raises(ToolError, match="Invalid regular expression"):
        await call(tmp_path, "text", "regex_extract", {"content": "a", "expression": "("})


def _option(text: str) -> dict[str, object]:
    assert text.startswith("\n```echarts\n") and text.endswith("\n```\n"), text
    option: dict[str, object] = json.loads(text.split("\n")[2])
    return option


async def test_charts(tmp_path: Path) -> None:
    line = await call(
        tmp_path, "echarts", "line_chart", {"title": "T", "data": "1;2.5;3", "x_axis": "a;b;c"}
    )
    option = _option(texts(line))
    assert option["xAxis"] == {"type": "category", "data": ["a", "b", "c"]}
    assert option["series"] == [{"type": "line", "data": [1, 2.5, 3]}]
    bar = _option(
        texts(await call(tmp_path, "langgenius/echarts/echarts", "bar_chart", {"data": "4;5"}))
    )
    assert bar["series"] == [{"type": "bar", "data": [4, 5]}]
    pie = _option(
        texts(await call(tmp_path, "chart", "pie_chart", {"data": "1;3", "categories": "甲;乙"}))
    )
    assert pie["series"][0]["data"] == [  # type: ignore[index]
        {"value": 1, "name": "甲"},
        {"value": 3, "name": "乙"},
    ]
    with pytest.raises(ToolError, match="2 labels but data has 3"):
        await call(tmp_path, "echarts", "line_chart", {"data": "1;2;3", "x_axis": "a;b"})
    with pytest.raises(ToolError, match="must be numbers"):
        await call(tmp_path, "echarts", "bar_chart", {"data": "1;x"})
