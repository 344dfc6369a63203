"""Conversation-variable repository: the persisted `conversation.*` scope of a conversation.

Values are stored as JSON in their real type; the API layer turns them into strings.
Rows are keyed by the DSL's variable id, which is the same in every conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from chatflow.errors import NotFound
from chatflow.store._dialect import insert_for
from chatflow.store._types import new_id, utcnow
from chatflow.store.models import ConversationVariable
from chatflow.store.paging import CursorPage


@dataclass(frozen=True, slots=True)
class VariableValue:
    """One variable to write: its DSL id, name, type, value and description."""

    variable_id: str
    name: str
    value_type: str
    value: Any
    description: str = ""


def variable_rows(
    conversation_id: str, values: Sequence[VariableValue], now: datetime
) -> list[dict[str, Any]]:
    """The rows `values` are stored as (new ids; `now` as both timestamps)."""
    return [
        {
            "id": new_id(),
            "conversation_id": conversation_id,
            "variable_id": v.variable_id,
            "name": v.name,
            "value_type": v.value_type,
            "value": v.value,
            "description": v.description,
            "created_at": now,
            "updated_at": now,
        }
        for v in values
    ]


def overwrite_on_conflict(
    stmt: sqlite.Insert | postgresql.Insert,
) -> sqlite.Insert | postgresql.Insert:
    """`stmt` (an INSERT of variable rows) overwriting existing rows; an existing row
    keeps its `created_at` (the paging order) and `description`."""
    return stmt.on_conflict_do_update(
        index_elements=["conversation_id", "variable_id"],
        set_={
            "name": stmt.excluded.name,
            "value_type": stmt.excluded.value_type,
            "value": stmt.excluded.value,
            "updated_at": stmt.excluded.updated_at,
        },
    )


async def upsert_conversation_variables(
    session: AsyncSession, conversation_id: str, values: Sequence[VariableValue]
) -> None:
    """Insert or overwrite several variables in one statement (at run start or end).

    An existing row keeps its `created_at` (the paging order) and `description`.
    """
    if not values:
        return
    now = utcnow()
    stmt = insert_for(session, ConversationVariable).values(
        variable_rows(conversation_id, values, now)
    )
    stmt = overwrite_on_conflict(stmt)
    await session.execute(stmt, execution_options={"synchronize_session": False})
    # Rows already loaded in this session would otherwise keep showing the old values;
    # set them as committed state (expiring would force a lazy load, not allowed in async).
    by_id = {v.variable_id: v for v in values}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, ConversationVariable) and obj.conversation_id == conversation_id:
            new = by_id.get(obj.variable_id)
            if new is not None:
                set_committed_value(obj, "value", new.value)
                set_committed_value(obj, "name", new.name)
                set_committed_value(obj, "value_type", new.value_type)
                set_committed_value(obj, "updated_at", now)


async def load_conversation_variables(
    session: AsyncSession, conversation_id: str
) -> list[ConversationVariable]:
    """All variables of a conversation (to fill the engine's `conversation` scope)."""
    rows = await session.scalars(
        select(ConversationVariable)
        .where(ConversationVariable.conversation_id == conversation_id)
        .order_by(ConversationVariable.created_at, ConversationVariable.variable_id)
    )
    return list(rows)


async def get_conversation_variable(
    session: AsyncSession, conversation_id: str, variable_id: str
) -> ConversationVariable | None:
    """One variable by its DSL id, or None."""
    return await session.scalar(
        select(ConversationVariable).where(
            ConversationVariable.conversation_id == conversation_id,
            ConversationVariable.variable_id == variable_id,
        )
    )


async def list_conversation_variables(
    session: AsyncSession,
    conversation_id: str,
    *,
    last_id: str | None = None,
    limit: int = 20,
    variable_name: str | None = None,
) -> CursorPage[ConversationVariable]:
    """`GET /conversations/{id}/variables`: oldest first, `last_id` is a variable id.

    The caller checks first that the conversation belongs to the user.
    """
    column = ConversationVariable.created_at
    query = select(ConversationVariable).where(
        ConversationVariable.conversation_id == conversation_id
    )
    if variable_name:
        query = query.where(ConversationVariable.name == variable_name)
    if last_id:
        last = await get_conversation_variable(session, conversation_id, last_id)
        if last is None:
            raise NotFound("Last variable not exists.")
        after: ColumnElement[bool] = or_(
            column > last.created_at,
            and_(column == last.created_at, ConversationVariable.variable_id > last.variable_id),
        )
        query = query.where(after)
    rows = list(
        await session.scalars(
            query.order_by(column, ConversationVariable.variable_id).limit(limit + 1)
        )
    )
    return CursorPage(items=rows[:limit], limit=limit, has_more=len(rows) > limit)


async def set_conversation_variable(
    session: AsyncSession, conversation_id: str, variable_id: str, value: Any
) -> ConversationVariable | None:
    """`PUT /conversations/{id}/variables/{variable_id}`: new value; None if no such variable."""
    variable = await get_conversation_variable(session, conversation_id, variable_id)
    if variable is None:
        return None
    variable.value = value
    variable.updated_at = utcnow()
    await session.flush()
    return variable
