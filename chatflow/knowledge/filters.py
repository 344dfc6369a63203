"""Metadata filtering: which documents a knowledge-retrieval's conditions admit.

Conditions are Dify's (`metadata_filtering_conditions`): `{logical_operator: and|or,
conditions: [{name, comparison_operator, value}]}` over a document's metadata values
(custom fields and, when enabled, the built-in ones). Operators follow Dify's node:
strings `contains`, `not contains`, `start with`, `end with`, `is`, `is not`, `empty`,
`not empty`, `in`, `not in`; numbers `=`, `≠`, `>`, `<`, `≥`, `≤` (and their ASCII
spellings); times `before`, `after` (and the number operators), as Unix seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

OPERATORS = frozenset(
    (
        "contains", "not contains", "start with", "end with", "is", "is not", "empty",
        "not empty", "in", "not in", "=", "≠", "!=", ">", "<", "≥", ">=", "≤", "<=",
        "before", "after",
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    operator: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class MetadataFilter:
    conditions: tuple[Condition, ...]
    logical_operator: str = "and"

    @classmethod
    def from_dify(cls, raw: Mapping[str, Any] | None) -> MetadataFilter | None:
        """Parse Dify's conditions object; None when it has no conditions."""
        if not raw:
            return None
        items = raw.get("conditions") or []
        conditions = tuple(
            Condition(
                name=str(item.get("name", "")),
                operator=str(item.get("comparison_operator", "")),
                value=item.get("value"),
            )
            for item in items
            if isinstance(item, Mapping) and item.get("name")
        )
        if not conditions:
            return None
        logical = str(raw.get("logical_operator") or "and").lower()
        return cls(conditions, "or" if logical == "or" else "and")

    def admits(self, metadata: Mapping[str, Any]) -> bool:
        results = (matches(c, metadata) for c in self.conditions)
        return any(results) if self.logical_operator == "or" else all(results)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            try:
                return datetime.fromisoformat(value.strip()).timestamp()
            except ValueError:
                return None
    return None


def _items(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    return [str(value)]


def matches(condition: Condition, metadata: Mapping[str, Any]) -> bool:
    """Whether one condition holds for a document's metadata values."""
    actual = metadata.get(condition.name)
    op, expected = condition.operator, condition.value
    if op == "empty":
        return actual is None or actual == ""
    if op == "not empty":
        return not (actual is None or actual == "")
    if actual is None:
        # A document without the field matches only negative conditions.
        return op in ("not contains", "is not", "≠", "!=", "not in")
    text = str(actual)
    if op == "contains":
        return str(expected) in text
    if op == "not contains":
        return str(expected) not in text
    if op == "start with":
        return text.startswith(str(expected))
    if op == "end with":
        return text.endswith(str(expected))
    if op == "in":
        return text in _items(expected)
    if op == "not in":
        return text not in _items(expected)
    left, right = _number(actual), _number(expected)
    if op in ("is", "="):
        return (left == right) if left is not None and right is not None else text == str(expected)
    if op in ("is not", "≠", "!="):
        return (left != right) if left is not None and right is not None else text != str(expected)
    if left is None or right is None:
        return False
    if op in (">", "after"):
        return left > right
    if op in ("<", "before"):
        return left < right
    if op in ("≥", ">="):
        return left >= right
    if op in ("≤", "<="):
        return left <= right
    return False
