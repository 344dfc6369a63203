"""Conversations and messages of one end user: paging, renaming, deleting, variables,
and suggested follow-up questions.

Every method takes the app and the request's `user` string; another user's ids are
simply not found (Dify's 404), never shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from chatflow.engine.nodes.base import Turn
from chatflow.errors import InvalidRequest, NotFound
from chatflow.providers.base import ModelRegistry
from chatflow.services.apps import LoadedApp
from chatflow.services.generation import generate_name, suggest_questions
from chatflow.store import CursorPage, Database
from chatflow.store import conversation_variables as variables_repo
from chatflow.store import conversations as conversations_repo
from chatflow.store import end_users as end_users_repo
from chatflow.store import feedbacks as feedbacks_repo
from chatflow.store import messages as messages_repo
from chatflow.store import runs as runs_repo
from chatflow.store.models import Conversation, ConversationVariable, Message, NodeExecution

_NO_CONVERSATION = "Conversation Not Exists."
# Dify feeds the last few exchanges to the suggestion prompt.
_SUGGEST_TURNS = 3


@dataclass(frozen=True, slots=True)
class MessagePage:
    """A `/messages` page with each message's feedback rating (by message id)."""

    page: CursorPage[Message]
    ratings: dict[str, str]


def _limit(limit: int) -> int:
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be between 1 and 100")
    return limit


class ConversationService:
    def __init__(self, db: Database, models: ModelRegistry) -> None:
        self._db = db
        self._models = models

    async def _end_user_id(self, app: LoadedApp, user: str | None) -> str | None:
        async with self._db.session() as session:
            end_user = await end_users_repo.find_end_user(session, app.id, user)
        return end_user.id if end_user else None

    async def page(
        self,
        app: LoadedApp,
        user: str | None,
        *,
        last_id: str | None,
        limit: int,
        sort_by: str,
    ) -> CursorPage[Conversation]:
        limit = _limit(limit)
        if sort_by not in conversations_repo.SORT_KEYS:
            raise InvalidRequest(
                f"sort_by must be one of {', '.join(conversations_repo.SORT_KEYS)}"
            )
        end_user_id = await self._end_user_id(app, user)
        if end_user_id is None:
            if last_id:
                raise NotFound("Last Conversation Not Exists.")
            return CursorPage(items=[], limit=limit, has_more=False)
        async with self._db.session() as session:
            return await conversations_repo.list_conversations(
                session,
                app_id=app.id,
                end_user_id=end_user_id,
                last_id=last_id,
                limit=limit,
                sort_by=sort_by,
            )

    async def get(self, app: LoadedApp, user: str | None, conversation_id: str) -> Conversation:
        end_user_id = await self._end_user_id(app, user)
        if end_user_id is not None:
            async with self._db.session() as session:
                conversation = await conversations_repo.get_conversation(
                    session, app_id=app.id, end_user_id=end_user_id, conversation_id=conversation_id
                )
            if conversation is not None:
                return conversation
        raise NotFound(_NO_CONVERSATION)

    async def rename(
        self,
        app: LoadedApp,
        user: str | None,
        conversation_id: str,
        *,
        name: str | None,
        auto_generate: bool,
    ) -> Conversation:
        """Set the name, or (auto_generate) let the model name it from the first query."""
        conversation = await self.get(app, user, conversation_id)
        if auto_generate:
            async with self._db.session() as session:
                # Dify names a conversation after its first query.
                query = await session.scalar(
                    select(Message.query)
                    .where(Message.conversation_id == conversation.id)
                    .order_by(Message.created_at, Message.id)
                    .limit(1)
                )
            if not query:
                raise InvalidRequest("The conversation has no message to name it from.")
            name = await generate_name(self._models, app.graph, query)
        elif not name or not name.strip():
            raise InvalidRequest("name is required when auto_generate is false")
        async with self._db.session() as session:
            renamed = await conversations_repo.rename_conversation(
                session,
                app_id=app.id,
                end_user_id=conversation.end_user_id,
                conversation_id=conversation.id,
                name=name.strip(),
            )
        if renamed is None:
            raise NotFound(_NO_CONVERSATION)
        return renamed

    async def delete(self, app: LoadedApp, user: str | None, conversation_id: str) -> None:
        conversation = await self.get(app, user, conversation_id)
        async with self._db.session() as session:
            await conversations_repo.delete_conversation(
                session,
                app_id=app.id,
                end_user_id=conversation.end_user_id,
                conversation_id=conversation.id,
            )

    async def variables(
        self,
        app: LoadedApp,
        user: str | None,
        conversation_id: str,
        *,
        last_id: str | None,
        limit: int,
        variable_name: str | None,
    ) -> CursorPage[ConversationVariable]:
        limit = _limit(limit)
        conversation = await self.get(app, user, conversation_id)
        async with self._db.session() as session:
            return await variables_repo.list_conversation_variables(
                session,
                conversation.id,
                last_id=last_id,
                limit=limit,
                variable_name=variable_name,
            )

    async def messages(
        self,
        app: LoadedApp,
        user: str | None,
        conversation_id: str,
        *,
        first_id: str | None,
        limit: int,
    ) -> MessagePage:
        limit = _limit(limit)
        conversation = await self.get(app, user, conversation_id)
        async with self._db.session() as session:
            page = await messages_repo.list_messages(
                session,
                app_id=app.id,
                end_user_id=conversation.end_user_id,
                conversation_id=conversation.id,
                first_id=first_id,
                limit=limit,
            )
            feedbacks = await feedbacks_repo.feedbacks_for_messages(
                session, [m.id for m in page.items]
            )
        return MessagePage(page=page, ratings={k: f.rating for k, f in feedbacks.items()})

    async def trace(self, app: LoadedApp, user: str | None, message_id: str) -> list[NodeExecution]:
        """The node executions of the run that answered the user's own message."""
        end_user_id = await self._end_user_id(app, user)
        message = None
        if end_user_id is not None:
            async with self._db.session() as session:
                message = await messages_repo.get_message(
                    session, app_id=app.id, end_user_id=end_user_id, message_id=message_id
                )
        if message is None:
            raise NotFound("Message Not Exists.")
        if message.workflow_run_id is None:
            return []
        async with self._db.session() as session:
            return await runs_repo.list_node_executions(session, message.workflow_run_id)

    async def suggested(self, app: LoadedApp, user: str | None, message_id: str) -> list[str]:
        """Dify's "next suggested questions" for a message, from the model."""
        end_user_id = await self._end_user_id(app, user)
        message = None
        if end_user_id is not None:
            async with self._db.session() as session:
                message = await messages_repo.get_message(
                    session, app_id=app.id, end_user_id=end_user_id, message_id=message_id
                )
        if message is None:
            raise NotFound("Message Not Exists.")
        if not app.dsl.features.suggested_questions_after_answer.get("enabled"):
            raise InvalidRequest("Suggested Questions Is Disabled.", code="bad_request")
        async with self._db.session() as session:
            earlier = await messages_repo.history(
                session, message.conversation_id, _SUGGEST_TURNS - 1, before_message_id=message.id
            )
        turns = [Turn(query=h.query, answer=h.answer) for h in earlier]
        turns.append(Turn(query=message.query, answer=message.answer))
        return await suggest_questions(self._models, app.graph, turns)
