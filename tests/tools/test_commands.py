"""`chatflow tools list|map` and import's missing-tool list, on a temp data dir."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from chatflow.cli import cli

runner = CliRunner()


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATFLOW_MODEL_BACKEND", "fake")
    monkeypatch.delenv("CHATFLOW_TOOLS_MAP", raising=False)
    monkeypatch.delenv("CHATFLOW_TOOLS_SQL_URL", raising=False)


def _tool(node_id: str, provider: str, tool: str) -> dict[str, object]:
    return {
        "id": node_id,
        "data": {
            "type": "tool",
            "title": node_id,
            "provider_id": provider,
            "provider_type": "builtin",
            "tool_name": tool,
            "tool_parameters": {},
            "tool_configurations": {},
        },
    }


def _app(tmp_path: Path) -> Path:
    nodes = [
        {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
        _tool("parse", "langgenius/mineru/mineru", "parse-file"),
        _tool("now", "langgenius/time/time", "current_time"),
        _tool("sql", "hjlarry/database/database", "sql_execute"),
        {"id": "answer", "data": {"type": "answer", "title": "A", "answer": "{{#now.text#}}"}},
    ]
    order = ["start", "parse", "now", "sql", "answer"]
    edges = [
        {"id": f"e{i}", "source": a, "target": b, "sourceHandle": "source"}
        for i, (a, b) in enumerate(itertools.pairwise(order))
    ]
    dsl = {
        "app": {"name": "toolsy", "mode": "advanced-chat"},
        "kind": "app",
        "version": "0.3.0",
        "workflow": {"graph": {"nodes": nodes, "edges": edges}},
    }
    path = tmp_path / "toolsy.yml"
    path.write_text(yaml.safe_dump(dsl), encoding="utf-8")
    return path


def test_list_shows_ids_and_configuration(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["tools", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(
        line.startswith("time:current_time  [configured]  also: langgenius/time/time")
        for line in lines
    )
    assert "database:sql_execute  [needs CHATFLOW_TOOLS_SQL_URL]" in result.output
    assert "md_exporter:md_to_pptx  [configured]" in result.output


def test_import_lists_missing_tools_and_map_fixes_them(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    app = _app(tmp_path)
    imported = runner.invoke(cli, ["app", "import", str(app), *data])
    assert imported.exit_code == 0, imported.output
    assert imported.output.startswith("created toolsy")
    assert (
        "missing builtin tool langgenius/mineru/mineru/parse-file (node 'parse'): "
        "tool provider 'langgenius/mineru/mineru' is not configured: no provider here answers "
        "to it; map it to a tool that `chatflow tools list` shows with: "
        "chatflow tools map 'langgenius/mineru/mineru:parse-file' PROVIDER:TOOL"
    ) in imported.output
    assert "needs configuration: set CHATFLOW_TOOLS_SQL_URL" in imported.output
    assert "current_time" not in imported.output  # `time` is built in

    bad = runner.invoke(cli, ["tools", "map", "langgenius/mineru/mineru", "nope:x", *data])
    assert bad.exit_code == 1 and "no tool provider 'nope' here" in bad.output
    mapped = runner.invoke(
        cli,
        ["tools", "map", "langgenius/mineru/mineru:parse-file", "md_exporter:md_to_html", *data],
    )
    assert mapped.exit_code == 0, mapped.output
    assert (tmp_path / "tool_mappings.json").is_file()
    listed = runner.invoke(cli, ["tools", "list", *data])
    assert "mapped: langgenius/mineru/mineru:parse-file -> md_exporter:md_to_html" in listed.output
    again = runner.invoke(cli, ["app", "import", str(app), *data])
    assert "mineru" not in again.output and "CHATFLOW_TOOLS_SQL_URL" in again.output


def test_mappings_from_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "tools.yml"
    config.write_text("langgenius/mineru/mineru: md_exporter\n", encoding="utf-8")
    monkeypatch.setenv("CHATFLOW_TOOLS_MAP", str(config))
    monkeypatch.setenv("CHATFLOW_TOOLS_SQL_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = runner.invoke(cli, ["app", "import", str(_app(tmp_path)), "--data-dir", str(tmp_path)])
    # The provider maps; its tool name `parse-file` is not one of md_exporter's.
    assert "'parse-file' is not a tool of provider 'md_exporter'" in result.output
    assert "CHATFLOW_TOOLS_SQL_URL" not in result.output
    monkeypatch.setenv("CHATFLOW_TOOLS_MAP", '{"langgenius/mineru/mineru": ')
    broken = runner.invoke(cli, ["tools", "list", "--data-dir", str(tmp_path)])
    assert broken.exit_code == 1 and "CHATFLOW_TOOLS_MAP is not valid JSON" in broken.output
