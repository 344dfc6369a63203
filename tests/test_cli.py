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


def test_version() -> None:
    from chatflow import __version__

    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"chatflow-server {__version__}"


def test_settings_shows_the_values_in_effect_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATFLOW_PORT", "6123")
    monkeypatch.setenv("CHATFLOW_OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("CHATFLOW_REDIS_URL", "redis://user:hunter2@127.0.0.1:6379/3")
    result = runner.invoke(cli, ["settings"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "* CHATFLOW_PORT=6123" in lines
    assert "* CHATFLOW_OPENAI_API_KEY=***" in lines
    assert "* CHATFLOW_REDIS_URL=redis://user:***@127.0.0.1:6379/3" in lines
    assert "  CHATFLOW_PING_INTERVAL=10.0" in lines  # a default, unmarked
    assert "sk-very-secret" not in result.output and "hunter2" not in result.output


def test_settings_defaults_prints_the_readme_table() -> None:
    from chatflow.settings import settings_table

    result = runner.invoke(cli, ["settings", "--defaults"])
    assert result.exit_code == 0 and result.output.strip() == settings_table()


def test_serve_refuses_several_workers_without_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHATFLOW_REDIS_URL", raising=False)
    result = runner.invoke(cli, ["serve", "--workers", "2", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--workers 2 needs Redis (CHATFLOW_REDIS_URL)" in result.output
    assert not (tmp_path / "chatflow.db").exists()  # refused before touching anything


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
