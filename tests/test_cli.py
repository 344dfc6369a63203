"""The `chatflow` command: import, list, key and a terminal chat, on a temp data dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatflow.cli import EXAMPLE_APP, cli

runner = CliRunner()


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATFLOW_MODEL_BACKEND", "fake")
    monkeypatch.setenv("CHATFLOW_FAKE_TOKENS", "Hi from the fake model")


def test_import_list_and_key(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    created = runner.invoke(cli, ["app", "import", str(EXAMPLE_APP), *data])
    assert created.exit_code == 0, created.output
    assert created.output.startswith("created assistant")
    key = created.output.split("key=")[1].split()[0]
    assert key.startswith("app-") and len(key) == 28

    again = runner.invoke(cli, ["app", "import", str(EXAMPLE_APP), *data])
    assert again.output.startswith("updated assistant")
    assert key not in again.output and key[:8] in again.output
    assert "chatflow app key assistant" in again.output

    listed = runner.invoke(cli, ["app", "list", *data])
    assert "assistant" in listed.output and "mode=advanced-chat" in listed.output

    minted = runner.invoke(cli, ["app", "key", "assistant", *data])
    assert minted.exit_code == 0 and minted.output.strip().startswith("app-")
    assert minted.output.strip() != key


def test_import_with_a_given_key(tmp_path: Path) -> None:
    result = runner.invoke(
        cli,
        [
            "app",
            "import",
            str(EXAMPLE_APP),
            "--api-key",
            "app-fixed-key",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0 and "key=app-fixed-key" in result.output


def test_chat_streams_answers_in_the_terminal(tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["chat", str(EXAMPLE_APP), "--data-dir", str(tmp_path)], input="hello\nagain\n"
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Hello! I'm your assistant.")
    assert result.output.count("Hi from the fake model") == 2


def test_unknown_app_fails(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["app", "key", "missing", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "App not found: missing" in result.output


def test_app_site_publishes_withdraws_and_sets_a_passcode(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    runner.invoke(cli, ["app", "import", str(EXAMPLE_APP), *data])
    shown = runner.invoke(cli, ["app", "site", "assistant", *data])
    assert shown.exit_code == 0, shown.output
    url = shown.output.strip()
    assert url.startswith("http://127.0.0.1:5001/chat/") and "app-" not in url
    code = url.rsplit("/", 1)[1]

    off = runner.invoke(cli, ["app", "site", "assistant", "--disable", *data])
    assert off.output.startswith("site off") and code in off.output
    on = runner.invoke(cli, ["app", "site", "assistant", "--enable", "--passcode", "s3", *data])
    assert on.output.strip() == f"{url}  (passcode required)"  # the same code again
    plain = runner.invoke(cli, ["app", "site", "assistant", "--no-passcode", *data])
    assert plain.output.strip() == url
    missing = runner.invoke(cli, ["app", "site", "nope", *data])
    assert missing.exit_code == 1 and "App not found" in missing.output
