"""Every setting is documented in the README's Configuration table (datasette's rule)."""

from __future__ import annotations

from pathlib import Path

from chatflow.settings import Settings, env_name, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_in_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [env_name(n) for n in Settings.model_fields if f"`{env_name(n)}`" not in text]
    assert not missing, (
        f"settings missing from README's Configuration section: {missing}; "
        "regenerate it with `make docs`"
    )


def test_readme_table_matches_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    assert settings_table() in text, "README settings table is stale: run `make docs`"


def test_every_setting_has_a_description() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert not undocumented
