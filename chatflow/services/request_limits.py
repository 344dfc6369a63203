"""Caps on what one request may ask of the server. Each is a setting
(`chatflow/settings.py`); a request over a cap is refused before anything is recorded or
run, with Dify's 400 `invalid_param`. (How many runs may go at once: `run_slots.py`.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatflow.errors import InvalidRequest
from chatflow.settings import Settings


@dataclass(frozen=True, slots=True)
class RequestLimits:
    query_max_chars: int = 100_000
    user_max_chars: int = 255
    input_max_chars: int = 100_000
    inputs_max_count: int = 100
    files_per_message_max: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        return cls(
            query_max_chars=settings.query_max_chars,
            user_max_chars=settings.user_max_chars,
            input_max_chars=settings.input_max_chars,
            inputs_max_count=settings.inputs_max_count,
            files_per_message_max=settings.files_per_message_max,
        )

    def check(
        self,
        *,
        query: str = "",
        user: str | None = None,
        inputs: Mapping[str, Any],
        files: Sequence[Any] = (),
        file_rules: Mapping[str, Any] | None = None,
    ) -> None:
        """Refuse a request over any cap; `file_rules` is the app's `file_upload`."""
        if len(query) > self.query_max_chars:
            raise InvalidRequest(f"query is longer than {self.query_max_chars} characters")
        if user is not None and len(user) > self.user_max_chars:
            raise InvalidRequest(f"user is longer than {self.user_max_chars} characters")
        if len(inputs) > self.inputs_max_count:
            raise InvalidRequest(f"inputs has more than {self.inputs_max_count} values")
        for name, value in inputs.items():
            if _size(value) > self.input_max_chars:
                raise InvalidRequest(
                    f"{name} in input form is larger than {self.input_max_chars} characters"
                )
        # An app that takes no files ignores them, as Dify does (the body limit bounds them).
        if file_rules is not None and not file_rules.get("enabled"):
            return
        allowed = files_allowed(self.files_per_message_max, file_rules)
        if len(files) > allowed:
            raise InvalidRequest(f"Number of files exceeds the limit of {allowed}")


def files_allowed(ceiling: int, rules: Mapping[str, Any] | None) -> int:
    """The app's `number_limits` when it sets one, never above the server's ceiling."""
    limit = (rules or {}).get("number_limits")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        return min(limit, ceiling)
    return ceiling


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict | list):
        return len(json.dumps(value, ensure_ascii=False, default=str))
    return 0
