"""The services around a finished turn, over in-memory SQLite: conversations (rename,
delete, scoping), conversation variables, feedback and end users."""

from __future__ import annotations

import pytest

from chatflow.errors import InvalidRequest, NotFound
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.chat import ChatRequest
from chatflow.services.turn import TurnHandle

from .conftest import ECHO, load


async def _turn(services: Services, app: LoadedApp, user: str = "ann") -> TurnHandle:
    handle = await services.chat.start(app, ChatRequest(query="q", user=user, streaming=False))
    await handle.wait()
    return handle


async def test_rename_and_delete_only_the_users_own(services: Services, echo: LoadedApp) -> None:
    conversation_id = (await _turn(services, echo)).info.conversation_id
    conversations = services.conversations
    with pytest.raises(NotFound):
        await conversations.rename(echo, "bob", conversation_id, name="x", auto_generate=False)
    with pytest.raises(InvalidRequest):
        await conversations.rename(echo, "ann", conversation_id, name=" ", auto_generate=False)
    renamed = await conversations.rename(
        echo, "ann", conversation_id, name=" Trip ", auto_generate=False
    )
    assert renamed.name == "Trip"
    with pytest.raises(NotFound):
        await conversations.delete(echo, "bob", conversation_id)
    await conversations.delete(echo, "ann", conversation_id)
    with pytest.raises(NotFound):
        await conversations.get(echo, "ann", conversation_id)


async def test_a_conversation_variable_is_set_with_its_type_checked(
    services: Services, echo: LoadedApp
) -> None:
    conversation_id = (await _turn(services, echo)).info.conversation_id
    variables = services.conversation_variables
    updated = await variables.update(echo, "ann", conversation_id, "v-count", 7)
    assert (updated.name, updated.value) == ("count", 7)
    with pytest.raises(InvalidRequest):
        await variables.update(echo, "ann", conversation_id, "v-count", "seven")
    with pytest.raises(NotFound):
        await variables.update(echo, "ann", conversation_id, "v-nope", 1)
    with pytest.raises(NotFound):
        await variables.update(echo, "bob", conversation_id, "v-count", 1)
    # The next turn reads the stored value.
    again = ChatRequest(query="q", user="ann", conversation_id=conversation_id, streaming=False)
    end = await (await services.chat.start(echo, again)).wait()
    assert end.answer == "echo q #8"


async def test_feedback_on_the_users_own_message(services: Services, echo: LoadedApp) -> None:
    message_id = (await _turn(services, echo)).info.message_id
    feedbacks = services.feedbacks
    with pytest.raises(NotFound):
        await feedbacks.rate(echo, "bob", message_id, rating="like", content=None)
    with pytest.raises(InvalidRequest):
        await feedbacks.rate(echo, "ann", message_id, rating="love", content=None)
    await feedbacks.rate(echo, "ann", message_id, rating="like", content="nice")
    [feedback] = await feedbacks.page(echo, page=1, limit=500)
    assert (feedback.message_id, feedback.rating, feedback.content) == (message_id, "like", "nice")
    await feedbacks.rate(echo, "ann", message_id, rating=None, content=None)  # revoked
    assert await feedbacks.page(echo, page=1, limit=20) == []


async def test_end_users_are_found_by_id_within_their_app(
    services: Services, echo: LoadedApp
) -> None:
    end_user_id = (await _turn(services, echo)).info.end_user_id
    found = await services.end_users.get(echo, end_user_id)
    assert found.session_id == "ann"
    with pytest.raises(NotFound) as caught:
        await services.end_users.get(echo, "00000000-0000-0000-0000-000000000000")
    assert caught.value.code == "end_user_not_found"


async def test_feedback_needs_a_user_and_pages_are_clamped(
    services: Services, echo: LoadedApp
) -> None:
    feedbacks = services.feedbacks
    first = (await _turn(services, echo)).info.message_id
    second = (await _turn(services, echo)).info.message_id
    for user in (None, ""):
        with pytest.raises(InvalidRequest, match="user"):
            await feedbacks.rate(echo, user, first, rating="like", content=None)
    with pytest.raises(NotFound):  # an unknown user has no messages
        await feedbacks.rate(echo, "carol", first, rating="like", content=None)
    await feedbacks.rate(echo, "ann", first, rating="like", content=None)
    await feedbacks.rate(echo, "ann", second, rating="dislike", content="wrong")
    await feedbacks.rate(echo, "ann", first, rating="dislike", content=None)  # changed, not added
    assert len(await feedbacks.page(echo, page=1, limit=20)) == 2
    assert len(await feedbacks.page(echo, page=0, limit=0)) == 1  # page 1, limit 1
    assert len(await feedbacks.page(echo, page=2, limit=1)) == 1
    assert await feedbacks.page(echo, page=3, limit=1) == []
    ratings = {f.message_id: f.rating for f in await feedbacks.page(echo, page=1, limit=20)}
    assert ratings == {first: "dislike", second: "dislike"}
    other = await load(services, ECHO.replace("name: echo", "name: other"))
    assert await feedbacks.page(other, page=1, limit=20) == []
    with pytest.raises(NotFound):  # the message is not the other app's
        await feedbacks.rate(other, "ann", first, rating="like", content=None)
