"""Persistence: SQLAlchemy models, Alembic migrations and one repository module per entity.

`Database` (db.py) owns the engine and the unit of work; the repository modules
(`apps`, `end_users`, `conversations`, `conversation_variables`, `messages`, `runs`,
`files`, `feedbacks`, `annotations`) are plain async functions over an `AsyncSession`,
used by `chatflow/services`. Nothing here commits: `Database.session()` does, once.
"""

from chatflow.store.db import Database
from chatflow.store.paging import CursorPage, NumberedPage

__all__ = ["CursorPage", "Database", "NumberedPage"]
