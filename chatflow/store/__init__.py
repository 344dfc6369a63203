"""Persistence: SQLAlchemy models, Alembic migrations and one repository module per entity.

`Database` (db.py) owns the engine and the unit of work; the repository modules
(`apps`, `end_users`, `conversations`, `conversation_variables`, `messages`, `runs`,
`files`, `feedbacks`, `annotations`, `human_input`) are plain async functions over an
`AsyncSession`, used by `chatflow/services`. Nothing there commits: `Database.session()`
does, once.

Which path a write takes (the rule):
- A run's lifecycle (a chat turn's or workflow run's start, its end however it ends, a
  pause, a resumed segment's end, the sweeper failing runs of dead workers) goes through
  `lifecycle.RunStore`, implemented once by
  `turns.TurnStore` on the direct path (`direct.py`, `Database.write`: prebuilt
  statements below SQLAlchemy's execution layer, one transaction per call; the
  sweeper's `fail_runs`, one per run). Every end
  and pause shares the same message, run, node-execution and variable statements.
- Everything else (reads, and writes off the hot path: apps, files, feedback,
  annotations, renames, deletes, form submissions) goes through an ORM session.
- The row a start inserts is built once per table (`messages.new_message_row`,
  `runs.new_run_row`, `conversations.new_conversation_row`); the ORM creators there
  (`create_message`, `create_run`, `create_conversation`) use the same rows and are kept
  for fixtures and tools.
"""

from chatflow.store.db import Database
from chatflow.store.paging import CursorPage, NumberedPage

__all__ = ["CursorPage", "Database", "NumberedPage"]
