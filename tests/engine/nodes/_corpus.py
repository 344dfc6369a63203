"""Node `data` blocks of one type from every public corpus DSL (shared/dsl/*.yml)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "dsl"


@lru_cache(maxsize=1)
def _all_nodes() -> tuple[tuple[str, dict[str, Any]], ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the corpus is ~1 MB of YAML
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(CORPUS.glob("*.yml")):
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        graph = (document.get("workflow") or {}).get("graph") or {}
        for node in graph.get("nodes") or []:
            found.append((f"{path.stem}:{node.get('id')}", node.get("data") or {}))
    return tuple(found)


def corpus_nodes(node_type: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, data) for name, data in _all_nodes() if data.get("type") == node_type]


def require_corpus() -> None:
    """Skip unless the corpus is beside this checkout (`../shared/dsl`, as in CI); under
    CI its absence fails the test instead."""
    if CORPUS.is_dir():
        return
    if os.environ.get("CI"):
        pytest.fail(f"the DSL corpus is required in CI but {CORPUS} is missing")
    pytest.skip(f"{CORPUS} is not beside this checkout")
