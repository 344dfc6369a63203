"""`chatflow dataset-key`, `chatflow kb` and `app import --dataset`, on a temp data dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatflow.cli import cli

runner = CliRunner()

APP = """
app:
  mode: advanced-chat
  name: policy-bot
kind: app
version: 0.1.5
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: kr
      data:
        type: knowledge-retrieval
        title: Policies
        query_variable_selector: [sys, query]
        dataset_ids: [EXPORTED+ID/abc==, other-exported-id]
        retrieval_mode: multiple
        multiple_retrieval_config: {top_k: 2, reranking_enable: false}
    - id: answer
      data: {type: answer, title: Answer, answer: '{{#kr.result#}}'}
    edges:
    - {id: e1, source: start, target: kr}
    - {id: e2, source: kr, target: answer}
"""


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATFLOW_MODEL_BACKEND", "fake")
    monkeypatch.setenv("CHATFLOW_EMBEDDING_BACKEND", "hashing")


def _run(*args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_dataset_keys(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    minted = _run("dataset-key", "create", *data).strip()
    assert minted.startswith("dataset-") and len(minted) == 32
    assert _run("dataset-key", "create", "--api-key", "dataset-my-fixed-key", *data).strip() == (
        "dataset-my-fixed-key"
    )
    refused = runner.invoke(cli, ["dataset-key", "create", "--api-key", "app-nope", *data])
    assert refused.exit_code != 0


def test_kb_create_add_list_search(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nAnnual leave is 25 days.", encoding="utf-8")
    (docs / "phones.csv").write_text("name,phone\nAda,555-0100\n", encoding="utf-8")
    (docs / "empty.txt").write_text("   ", encoding="utf-8")
    assert "created handbook" in _run("kb", "create", "handbook", *data)
    added = runner.invoke(
        cli,
        ["kb", "add", "handbook", str(docs / "leave.md"), str(docs / "phones.csv"),
         "--metadata", "type=hr", *data],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "leave.md: indexed" in added.output and "phones.csv: indexed" in added.output
    failed = runner.invoke(cli, ["kb", "add", "handbook", str(docs / "empty.txt"), *data])
    assert failed.exit_code == 1 and "No text found" in failed.output
    unsupported = runner.invoke(cli, ["kb", "add", "handbook", str(tmp_path / "x.exe"), *data])
    assert unsupported.exit_code != 0
    listed = _run("kb", "list", *data)
    assert "handbook" in listed and "documents=3" in listed
    found = _run("kb", "search", "handbook", "annual leave days", "--top-k", "1", *data)
    assert found.startswith("1. score=") and "leave.md" in found and "25 days" in found
    assert "2. score" not in found
    # Chunks that share nothing with the query (score 0) are not listed.
    wide = _run("kb", "search", "handbook", "annual leave days", "--top-k", "4", *data)
    assert "leave.md" in wide and "phones.csv" not in wide and "score=0.000" not in wide
    assert "more scored 0.000: not shown" in wide
    assert _run("kb", "search", "handbook", "xylophone", *data).strip() == "no matching chunks"


def test_import_maps_and_reports_datasets(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    dsl = tmp_path / "policy-bot.yml"
    dsl.write_text(APP, encoding="utf-8")
    _run("kb", "create", "policies", *data)
    first = _run("app", "import", str(dsl), *data)
    assert "created policy-bot" in first
    for ref in ("EXPORTED+ID/abc==", "other-exported-id"):
        assert f"unmapped dataset {ref!r}" in first
        assert f"chatflow app import {dsl} --dataset '{ref}'=DATASET" in first
    mapped = _run("app", "import", str(dsl), "--dataset", "EXPORTED+ID/abc===policies", *data)
    assert "EXPORTED+ID/abc==" not in mapped and "other-exported-id" in mapped
    wrong = runner.invoke(cli, ["app", "import", str(dsl), "--dataset", "x=missing", *data])
    assert wrong.exit_code == 1 and "missing" in wrong.output
    bad = runner.invoke(cli, ["app", "import", str(dsl), "--dataset", "no-equals", *data])
    assert bad.exit_code != 0


def test_map_dataset_grants_a_dataset_after_import(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    dsl = tmp_path / "policy-bot.yml"
    dsl.write_text(APP, encoding="utf-8")
    _run("kb", "create", "policies", *data)
    _run("kb", "create", "policies-2", *data)
    _run("app", "import", str(dsl), *data)
    # A dataset named like a reference is not taken for it: only a mapping grants it.
    shown = _run("app", "map-dataset", "policy-bot", *data)
    assert "no datasets mapped" in shown
    assert "chatflow app map-dataset policy-bot 'other-exported-id'=DATASET" in shown
    mapped = _run(
        "app", "map-dataset", "policy-bot", "EXPORTED+ID/abc===policies",
        "other-exported-id=policies-2", "search-tool-kb=policies", *data,
    )  # fmt: skip
    assert "'EXPORTED+ID/abc==' -> " in mapped and "'search-tool-kb' -> " in mapped
    assert "unmapped" not in mapped
    wrong = runner.invoke(cli, ["app", "map-dataset", "policy-bot", "x=missing", *data])
    assert wrong.exit_code == 1 and "missing" in wrong.output
    unknown_app = runner.invoke(cli, ["app", "map-dataset", "no-such-app", *data])
    assert unknown_app.exit_code == 1 and "no-such-app" in unknown_app.output
