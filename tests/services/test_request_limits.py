"""`RequestLimits` at each cap's edge: a value at the cap passes and one past it is
Dify's 400 `invalid_param`; structured inputs are measured as the JSON they are; an app
that takes no files ignores them; the app's `number_limits` applies only when it is a
sane count below the server's ceiling. (Over HTTP: tests/security/test_request_limits.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatflow.errors import InvalidRequest
from chatflow.services.request_limits import RequestLimits, files_allowed
from chatflow.settings import Settings

LIMITS = RequestLimits(
    query_max_chars=10, user_max_chars=5, input_max_chars=12, inputs_max_count=3,
    files_per_message_max=2,
)  # fmt: skip


def _refused(message: str, **request: Any) -> None:
    request.setdefault("inputs", {})
    with pytest.raises(InvalidRequest, match=message) as caught:
        LIMITS.check(**request)
    assert caught.value.status == 400


def test_each_cap_admits_its_edge_and_refuses_past_it() -> None:
    LIMITS.check(query="q" * 10, user="u" * 5, inputs={"a": "x" * 12, "b": 1, "c": None})
    _refused("query is longer than 10", query="q" * 11)
    _refused("user is longer than 5", user="u" * 6)
    _refused("more than 3 values", inputs={"a": 1, "b": 2, "c": 3, "d": 4})
    _refused("a in input form is larger than 12", inputs={"a": "x" * 13})
    LIMITS.check(user=None, inputs={})  # no user given: nothing to check


def test_structured_inputs_are_measured_as_json() -> None:
    LIMITS.check(inputs={"l": ["abcdefgh"]})  # ["abcdefgh"]: 12 characters
    _refused("l in input form", inputs={"l": ["abcdefghi"]})
    _refused("d in input form", inputs={"d": {"k": "abcdef"}})  # {"k": "abcdef"}: 15
    LIMITS.check(inputs={"n": 10**30, "f": 1.5, "b": True})  # numbers are not measured


def test_files_count_only_where_the_app_takes_them() -> None:
    files = [{}, {}, {}]
    _refused("exceeds the limit of 2", inputs={}, files=files)
    _refused("exceeds the limit of 2", inputs={}, files=files, file_rules={"enabled": True})
    LIMITS.check(inputs={}, files=files, file_rules={"enabled": False})
    rules = {"enabled": True, "number_limits": 1}
    _refused("exceeds the limit of 1", inputs={}, files=files[:2], file_rules=rules)


@pytest.mark.parametrize(
    ("rules", "allowed"),
    [
        (None, 10),
        ({}, 10),
        ({"number_limits": 3}, 3),
        ({"number_limits": 0}, 0),
        ({"number_limits": 50}, 10),  # never above the server's ceiling
        ({"number_limits": -1}, 10),
        ({"number_limits": True}, 10),  # a boolean is no count
        ({"number_limits": "3"}, 10),
    ],
)
def test_files_allowed(rules: dict[str, Any] | None, allowed: int) -> None:
    assert files_allowed(10, rules) == allowed


def test_limits_come_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, query_max_chars=7, files_per_message_max=4)
    limits = RequestLimits.from_settings(settings)
    assert (limits.query_max_chars, limits.files_per_message_max) == (7, 4)
    assert limits.user_max_chars == settings.user_max_chars
