"""time: current time with timezone and format, conversion, weekday, timestamps."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chatflow.tools.base import ToolError
from tests.tools.conftest import call, texts


async def test_current_time_in_a_timezone_and_format(tmp_path: Path) -> None:
    params = {"timezone": "Asia/Shanghai", "format": "%Y-%m-%d %H:%M:%S %z"}
    text = texts(await call(tmp_path, "time", "current_time", params))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800", text), text
    shown = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
    assert abs((datetime.now(ZoneInfo("UTC")) - shown).total_seconds()) < 5


async def test_marketplace_id_and_defaults(tmp_path: Path) -> None:
    text = texts(await call(tmp_path, "langgenius/time/time", "current_time", {}))
    assert text.endswith(" UTC")


async def test_iso_format(tmp_path: Path) -> None:
    text = texts(await call(tmp_path, "time", "current_time", {"format": "iso"}))
    assert datetime.fromisoformat(text).tzinfo is not None


async def test_bad_timezone_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="Invalid timezone: Mars/Base"):
        await call(tmp_path, "time", "current_time", {"timezone": "Mars/Base"})


async def test_timezone_conversion(tmp_path: Path) -> None:
    params = {
        "current_time": "2024-01-01 12:00:00",
        "current_timezone": "Asia/Shanghai",
        "target_timezone": "America/New_York",
    }
    assert texts(await call(tmp_path, "time", "timezone_conversion", params)) == (
        "2023-12-31 23:00:00"
    )


async def test_weekday(tmp_path: Path) -> None:
    # Strings as a `mixed` binding would give them are converted to numbers.
    params = {"year": "2024", "month": "2", "day": "29"}
    text = texts(await call(tmp_path, "time", "weekday", params))
    assert text == "February 29, 2024 is Thursday."
    bad = {"year": 2023, "month": 2, "day": 30}
    assert texts(await call(tmp_path, "time", "weekday", bad)) == "Invalid date."


async def test_timestamp_round_trip(tmp_path: Path) -> None:
    local = {"localtime": "2024-05-01 08:30:00", "timezone": "Europe/Paris"}
    stamp = texts(await call(tmp_path, "time", "localtime_to_timestamp", local))
    assert stamp == "1714545000"
    back = {"timestamp": stamp, "timezone": "Europe/Paris"}
    assert texts(await call(tmp_path, "time", "timestamp_to_localtime", back)) == (
        "2024-05-01 08:30:00"
    )
    # Dify's default zone for these two tools is Asia/Shanghai.
    shanghai = texts(await call(tmp_path, "time", "timestamp_to_localtime", {"timestamp": 0}))
    assert shanghai == "1970-01-01 08:00:00"
