"""The encoding of a paused run's state: engine values as plain JSON and back.

A paused run's state is plain JSON (see `ScopeRun.snapshot` / `restore`, which own what
is in it, and `runner.py`, which adds the run's id, start and inputs): pool values with
files tagged so they come back as `File`s, usage with exact prices, and the waiting forms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from chatflow.engine.events import HumanInputRequired
from chatflow.engine.files import File
from chatflow.engine.variables import ENVIRONMENT, VariablePool
from chatflow.providers.base import Usage

STATE_VERSION = 1
_FILE_KEY = "__chatflow_file__"
_DICT_KEY = "__chatflow_dict__"  # a user mapping that looks like a tag, kept as data
_USAGE_PRICES = tuple(f.name for f in dataclasses.fields(Usage) if f.type in ("Decimal", Decimal))


def encode(value: Any) -> Any:
    """A pool value as JSON-compatible data (files tagged so they come back as files).

    A plain mapping shaped like a tag (user JSON such as `{"__chatflow_file__": {...}}`)
    is wrapped, so that a resume gives back the same dict and never a forged `File`."""
    if isinstance(value, File):
        return {_FILE_KEY: dataclasses.asdict(value)}
    if isinstance(value, Mapping):
        encoded = {str(k): encode(v) for k, v in value.items()}
        if len(encoded) == 1 and next(iter(encoded)) in (_FILE_KEY, _DICT_KEY):
            return {_DICT_KEY: encoded}
        return encoded
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if _FILE_KEY in value and len(value) == 1:
            return File(**value[_FILE_KEY])
        if _DICT_KEY in value and len(value) == 1:
            return {k: decode(v) for k, v in value[_DICT_KEY].items()}
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def pool_state(pool: VariablePool, node_ids: Sequence[str]) -> dict[str, Any]:
    """Every scope of the pool but `env`, encoded."""
    scopes: dict[str, Any] = {}
    for node_id in node_ids:
        if node_id != ENVIRONMENT:
            outputs = pool.node_outputs(node_id)
            if outputs:
                scopes[node_id] = encode(dict(outputs))
    return scopes


def restore_pool(pool: VariablePool, scopes: Mapping[str, Any]) -> None:
    for node_id, outputs in scopes.items():
        pool.set_outputs(node_id, decode(outputs))


def usage_state(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return encode(dataclasses.asdict(usage))  # type: ignore[no-any-return]


def usage_from_state(data: Mapping[str, Any] | None) -> Usage | None:
    if data is None:
        return None
    values = dict(data)
    for name in _USAGE_PRICES:
        if name in values:
            values[name] = Decimal(str(values[name]))
    return Usage(**values)


def form_state(form: HumanInputRequired) -> dict[str, Any]:
    return encode(dataclasses.asdict(form))  # type: ignore[no-any-return]


def form_from_state(data: Mapping[str, Any]) -> HumanInputRequired:
    return HumanInputRequired(**decode(dict(data)))


def check_version(state: Mapping[str, Any]) -> None:
    version = state.get("version")
    if version != STATE_VERSION:
        raise ValueError(f"unsupported paused-run state version: {version!r}")
