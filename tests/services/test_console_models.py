"""`model_backends`: the console's read-only view of the model settings. Keys show only
as set / not set, URLs lose their user:password and query, a broken model map is
reported instead of failing the page, and every row names the variable that changes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatflow.providers.embedded import MODEL_QUEUE
from chatflow.services.console_models import model_backends
from chatflow.settings import Settings


def _rows(view: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(g["id"], r["label"]): r for g in view["groups"] for r in g["rows"]}


def test_keys_are_never_shown_and_urls_lose_their_credentials(tmp_path: Path) -> None:
    model_map = {
        "gpt-*": {"backend": "openai", "model": "m", "base_url": "https://u:pw@map.example/v1",
                  "api_key": "sk-map"},
        "local": {"backend": "embedded"},
    }  # fmt: skip
    settings = Settings(
        data_dir=tmp_path,
        model_backend="openai",
        openai_base_url="https://user:hunter2@api.example:8443/v1?token=abc",
        openai_api_key="sk-very-secret",
        model_map=json.dumps(model_map),
        model_queue_max=7,
    )
    view = model_backends(settings, "loaded")
    text = json.dumps(view)
    for secret in ("sk-very-secret", "hunter2", "sk-map", "token=abc", ":pw@"):
        assert secret not in text
    rows = _rows(view)
    assert rows[("openai", "Base URL")] == {
        "label": "Base URL",
        "value": "https://api.example:8443/v1",
        "setting": "CHATFLOW_OPENAI_BASE_URL",
    }
    assert rows[("openai", "API key")]["value"] == "set"
    assert rows[("default", "Backend for every DSL model")]["value"] == "openai"
    assert rows[("embedding", "Base URL")]["value"] is None  # unset: nothing, not ""
    entries = {e["pattern"]: e for e in view["model_map"]["entries"]}
    assert entries["gpt-*"]["base_url"] == "https://map.example/v1"
    assert (entries["gpt-*"]["api_key"], entries["local"]["api_key"]) == ("set", "not set")
    assert view["model_map"]["error"] is None
    assert view["queue"] == {
        "waiting": MODEL_QUEUE.waiting,
        "generating": MODEL_QUEUE.generating,
        "max": 7,
        "setting": "CHATFLOW_MODEL_QUEUE_MAX",
    }
    assert next(g for g in view["groups"] if g["id"] == "embedded")["status"] == "loaded"


def test_a_broken_model_map_is_reported_not_raised(tmp_path: Path) -> None:
    for broken, words in (
        ("{not json", "not valid JSON"),
        (json.dumps({"x": {"model": "m"}}), "needs a 'backend'"),
        (json.dumps({"x": {"backend": "openai", "apikey": "k"}}), "unknown keys"),
    ):
        view = model_backends(Settings(data_dir=tmp_path, model_map=broken), None)
        assert view["model_map"]["entries"] == []
        assert words in view["model_map"]["error"]
    quiet = model_backends(Settings(data_dir=tmp_path), None)
    embedded = next(g for g in quiet["groups"] if g["id"] == "embedded")
    assert embedded["status"].startswith("not loaded here")
    assert _rows(quiet)[("openai", "API key")]["value"] == "not set"
    assert all(row["setting"].startswith("CHATFLOW_") for row in _rows(quiet).values())
