"""How stored `inputs` look on the wire. (Checking inputs against the start node's form
is the start node's `coerce_inputs`, which the chat service calls before a run.)"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def wire_inputs(inputs: Mapping[str, Any] | None) -> dict[str, str]:
    """Inputs as the API returns them: `{str: str}` (some SDKs declare exactly that)."""
    out: dict[str, str] = {}
    for key, value in (inputs or {}).items():
        if value is None:
            out[key] = ""
        elif isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, int | float):
            out[key] = str(value)
        else:
            out[key] = json.dumps(value, ensure_ascii=False, default=str)
    return out
