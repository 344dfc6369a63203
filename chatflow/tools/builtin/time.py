"""The `time` provider (Dify's `time` / `langgenius/time/time`): current time in a timezone,
timezone conversion, weekday of a date, and timestamp <-> local time.

Outputs are text, formatted as Dify's time plugin formats them.
"""

from __future__ import annotations

import calendar
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chatflow.tools.base import TextMessage, ToolContext, ToolDescriptor, ToolError, ToolParameter

if TYPE_CHECKING:
    from chatflow.settings import Settings

from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

ID = "time"
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"
# Dify's localtime/timestamp tools assume this zone when none is given.
DEFAULT_ZONE = "Asia/Shanghai"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ToolError(f"Invalid timezone: {name}") from error


async def current_time(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    fmt = text_param(params, "format") or "%Y-%m-%d %H:%M:%S %Z"
    tz = zone(text_param(params, "timezone", "UTC"))
    now = datetime.now(tz)
    yield TextMessage(now.isoformat() if fmt.lower() == "iso" else now.strftime(fmt))


async def timezone_conversion(
    params: Mapping[str, Any], ctx: ToolContext
) -> AsyncIterator[TextMessage]:
    text = required_text(params, "current_time")
    source = zone(text_param(params, "current_timezone", "UTC"))
    target = zone(required_text(params, "target_timezone"))
    try:
        local = datetime.strptime(text, LOCAL_FORMAT).replace(tzinfo=source)
    except ValueError as error:
        raise ToolError(f"Invalid time {text!r}: expected YYYY-MM-DD HH:MM:SS") from error
    yield TextMessage(local.astimezone(target).strftime(LOCAL_FORMAT))


async def weekday(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    try:
        year, month, day = (int(params.get(name) or 0) for name in ("year", "month", "day"))
        date = datetime(year, month, day)
    except (TypeError, ValueError):
        yield TextMessage("Invalid date.")
        return
    name = calendar.day_name[date.weekday()]
    yield TextMessage(f"{calendar.month_name[month]} {day}, {year} is {name}.")


async def localtime_to_timestamp(
    params: Mapping[str, Any], ctx: ToolContext
) -> AsyncIterator[TextMessage]:
    text = required_text(params, "localtime")
    tz = zone(text_param(params, "timezone") or DEFAULT_ZONE)
    try:
        local = datetime.strptime(text, LOCAL_FORMAT).replace(tzinfo=tz)
    except ValueError as error:
        raise ToolError(f"Invalid localtime {text!r}: expected YYYY-MM-DD HH:MM:SS") from error
    yield TextMessage(str(int(local.timestamp())))


async def timestamp_to_localtime(
    params: Mapping[str, Any], ctx: ToolContext
) -> AsyncIterator[TextMessage]:
    raw = params.get("timestamp")
    try:
        stamp = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ToolError(f"Invalid timestamp: {raw!r}") from error
    tz = zone(text_param(params, "timezone") or DEFAULT_ZONE)
    yield TextMessage(datetime.fromtimestamp(stamp, UTC).astimezone(tz).strftime(LOCAL_FORMAT))


def _tz(name: str = "timezone", default: str = "UTC", form: str = "llm") -> ToolParameter:
    return ToolParameter(
        name,
        "string",
        "Timezone",
        "IANA timezone, e.g. Asia/Shanghai",
        default=default,
        form="form" if form == "form" else "llm",
    )


def _descriptor(name: str, description: str, *params: ToolParameter) -> ToolDescriptor:
    return ToolDescriptor(ID, name, name.replace("_", " ").title(), description, params)


def provider(settings: Settings) -> BuiltinProvider:
    tools = [
        FunctionTool(
            _descriptor(
                "current_time",
                "The current time in a timezone.",
                ToolParameter(
                    "format",
                    "string",
                    "Format",
                    "strftime format or 'iso'",
                    default="%Y-%m-%d %H:%M:%S %Z",
                    form="form",
                ),
                _tz(form="form"),
            ),
            current_time,
        ),
        FunctionTool(
            _descriptor(
                "timezone_conversion",
                "Convert a local time (YYYY-MM-DD HH:MM:SS) from one timezone to another.",
                ToolParameter(
                    "current_time", "string", "Time", "YYYY-MM-DD HH:MM:SS", required=True
                ),
                _tz("current_timezone"),
                _tz("target_timezone"),
            ),
            timezone_conversion,
        ),
        FunctionTool(
            _descriptor(
                "weekday",
                "The day of the week of a date.",
                ToolParameter("year", "number", "Year", required=True),
                ToolParameter("month", "number", "Month", required=True),
                ToolParameter("day", "number", "Day", required=True),
            ),
            weekday,
        ),
        FunctionTool(
            _descriptor(
                "localtime_to_timestamp",
                "Unix timestamp of a local time (YYYY-MM-DD HH:MM:SS) in a timezone.",
                ToolParameter(
                    "localtime", "string", "Local time", "YYYY-MM-DD HH:MM:SS", required=True
                ),
                _tz(default=DEFAULT_ZONE),
            ),
            localtime_to_timestamp,
        ),
        FunctionTool(
            _descriptor(
                "timestamp_to_localtime",
                "Local time (YYYY-MM-DD HH:MM:SS) of a Unix timestamp in a timezone.",
                ToolParameter("timestamp", "number", "Timestamp", required=True),
                _tz(default=DEFAULT_ZONE),
            ),
            timestamp_to_localtime,
        ),
    ]
    return BuiltinProvider(ID, ("langgenius/time/time", "langgenius/time"), "Time", tools)
