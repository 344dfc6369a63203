"""Caps on what one request may ask of the server, and on how many runs an app may have
going at once. Each is a setting (`chatflow/settings.py`); a request over a cap is refused
before anything is recorded or run, with Dify's 400 `invalid_param`, or 429
`too_many_requests` for the run limit (Dify's wording for its own `APP_MAX_ACTIVE_REQUESTS`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatflow.errors import ChatflowError, InvalidRequest
from chatflow.services.turn import TurnHandle
from chatflow.settings import Settings


class TooManyRequests(ChatflowError):
    code = "too_many_requests"
    status = 429


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


@dataclass(slots=True)
class ActiveRuns:
    """How many runs each app has going in this process; `limit` 0 means no limit.

    Counted per worker process: with several workers the app-wide ceiling is `limit`
    times the number of workers."""

    limit: int
    _counts: dict[str, int] = field(default_factory=dict)

    def acquire(self, app_id: str) -> Callable[[], None]:
        """Count one more run of `app_id` (429 at the limit); returns its release."""
        count = self._counts.get(app_id, 0)
        if self.limit and count >= self.limit:
            raise TooManyRequests("Too many requests. Please try again later.")
        self._counts[app_id] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._counts.get(app_id, 1) - 1
            if left > 0:
                self._counts[app_id] = left
            else:
                self._counts.pop(app_id, None)

        return release

    def active(self, app_id: str) -> int:
        return self._counts.get(app_id, 0)


async def gated(
    active_runs: ActiveRuns, app_id: str, starting: Callable[[], Awaitable[TurnHandle]]
) -> TurnHandle:
    """Start a run under the app's active-run limit; the slot frees when the run ends
    (or at once, when starting fails)."""
    release = active_runs.acquire(app_id)
    try:
        handle = await starting()
    except BaseException:
        release()
        raise
    handle.task.add_done_callback(lambda _: release())
    return handle
