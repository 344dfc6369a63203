"""Operator tool mappings: DSL references sent to tools that run here.

Two sources, later wins: the `tools_map` setting (a JSON object, or a path to a JSON or
YAML file) and `data_dir/tool_mappings.json`, which `chatflow tools map` writes.
Keys and values are `PROVIDER` or `PROVIDER:TOOL`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from chatflow.settings import Settings
from chatflow.tools.base import ToolError
from chatflow.tools.registry import ToolRef

FILE_NAME = "tool_mappings.json"


def _as_mapping(data: object, where: str) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ToolError(f"{where}: tool mappings must be an object of strings")
    return dict(data)


def _from_setting(value: str) -> dict[str, str]:
    text = value.strip()
    if text.startswith("{"):
        try:
            return _as_mapping(json.loads(text), "CHATFLOW_TOOLS_MAP")
        except json.JSONDecodeError as error:
            raise ToolError(f"CHATFLOW_TOOLS_MAP is not valid JSON: {error}") from error
    path = Path(text)
    if not path.is_file():
        raise ToolError(f"CHATFLOW_TOOLS_MAP: no such file {text}")
    return _as_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def persisted_path(settings: Settings) -> Path:
    return settings.data_dir / FILE_NAME


def load(settings: Settings) -> dict[str, str]:
    mappings = _from_setting(settings.tools_map) if settings.tools_map else {}
    path = persisted_path(settings)
    if path.is_file():
        mappings.update(_as_mapping(json.loads(path.read_text(encoding="utf-8")), str(path)))
    return mappings


def save(settings: Settings, source: str, target: str) -> dict[str, str]:
    """Persist one mapping (validated) and return every persisted mapping."""
    key, value = str(ToolRef.parse(source)), str(ToolRef.parse(target))
    path = persisted_path(settings)
    current = (
        _as_mapping(json.loads(path.read_text(encoding="utf-8")), str(path))
        if path.is_file()
        else {}
    )
    current[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temp, path)
    return current
