"""Column types shared by every model: UTC timestamps, portable JSON and string UUID ids.

SQLite has no time zones and Postgres `timestamp` drops them, so timestamps are stored
as naive UTC and handed back as aware UTC datetimes; callers never see a naive one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB

from chatflow.ids import uuid7


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only clock the store uses)."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh key for a stored row: a UUIDv7 string (Dify's 36-character id format;
    time-ordered, see `chatflow/ids.py`)."""
    return uuid7()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC; naive inputs are taken to be UTC already."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _naive_utc(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # SQLite: straight to SQLAlchemy's text format, in one step instead of two
        # (every message binds half a dozen timestamps).
        if dialect.name == "sqlite":
            return _sqlite_text
        return super().bind_processor(dialect)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _sqlite_text(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text (`2026-01-02 03:04:05.000006`) of naive UTC."""
    if value is not None and value.tzinfo is UTC:  # `utcnow()`'s: drop the "+00:00"
        return value.isoformat(" ", "microseconds")[:-6]
    value = _naive_utc(value)
    return None if value is None else value.isoformat(" ", "microseconds")


# JSONB on Postgres (indexable, compact), JSON text elsewhere.
JSONType: Any = JSON().with_variant(JSONB(), "postgresql")
