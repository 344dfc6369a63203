"""Page shapes returned by list queries: Dify uses cursor pages and numbered pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Far past any real data, and small enough that `(page - 1) * limit` (limit <= 100) stays
# a 64-bit OFFSET on SQLite and Postgres and a 64-bit JSON integer when echoed back.
MAX_PAGE = 2**31 - 1


def clamp_page(page: int) -> int:
    """A requested page number as the 1-based page to query."""
    return min(max(page, 1), MAX_PAGE)


@dataclass(frozen=True, slots=True)
class CursorPage(Generic[T]):
    """A `last_id`/`first_id` page: `has_more` says whether another page follows."""

    items: Sequence[T]
    limit: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class NumberedPage(Generic[T]):
    """A `page`/`limit` page (1-based) with the total count of matching rows."""

    items: Sequence[T]
    page: int
    limit: int
    total: int

    @property
    def has_more(self) -> bool:
        """Dify's rule: more rows exist beyond this page."""
        return self.page * self.limit < self.total
