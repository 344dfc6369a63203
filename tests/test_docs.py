"""Every setting is documented in the README's Configuration table (datasette's rule)."""

from __future__ import annotations

from pathlib import Path

from chatflow.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"CHATFLOW_{field.upper()}"


def test_every_setting_is_documented_in_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [env_name(name) for name in Settings.model_fields if f"`{env_name(name)}`" not in text]
    assert not missing, f"settings missing from README's Configuration section: {missing}"


def test_every_setting_has_a_description() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert not undocumented
