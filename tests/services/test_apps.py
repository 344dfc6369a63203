"""Importing DSL apps: idempotent by name, keys kept, hashed, given keys registered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatflow.errors import DSLError, NotFound, Unauthorized
from chatflow.providers.fake import FakeRegistry
from chatflow.services import Services
from chatflow.settings import Settings
from chatflow.store.models import ApiKey

EXAMPLE = (Path(__file__).parents[2] / "chatflow" / "examples" / "assistant.yml").read_text()


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(data_dir=tmp_path, model_backend="fake")
    opened = await Services.open(settings, models=FakeRegistry())
    yield opened
    await opened.close()


async def test_import_is_idempotent_by_name_and_keeps_keys(services: Services) -> None:
    first = await services.apps.import_dsl(EXAMPLE)
    assert first.created and first.api_key is not None
    assert first.api_key.startswith("app-") and len(first.api_key) == 28
    changed = EXAMPLE.replace("A friendly general-purpose", "An updated")
    second = await services.apps.import_dsl(changed)
    assert not second.created and second.api_key is None
    assert second.app_id == first.app_id
    assert second.key_prefixes == first.key_prefixes
    app = await services.apps.authenticate(first.api_key)
    assert app.id == first.app_id and app.description.startswith("An updated")
    assert [a.name for a in await services.apps.list_apps()] == ["assistant"]


async def test_keys_are_stored_hashed(services: Services) -> None:
    result = await services.apps.import_dsl(EXAMPLE)
    assert result.api_key is not None
    async with services.db.session() as session:
        key = await session.get(ApiKey, (await _key_ids(services))[0])
    assert key is not None
    assert key.token_hash != result.api_key and len(key.token_hash) == 64
    assert result.api_key not in key.token_hash


async def _key_ids(services: Services) -> list[str]:
    from sqlalchemy import select

    async with services.db.session() as session:
        return list(await session.scalars(select(ApiKey.id)))


async def test_given_key_and_new_keys(services: Services) -> None:
    result = await services.apps.import_dsl(EXAMPLE, api_key="app-chosen-by-automation-1")
    assert result.api_key == "app-chosen-by-automation-1"
    assert (await services.apps.authenticate("app-chosen-by-automation-1")).name == "assistant"
    minted = await services.apps.create_key("assistant")
    assert (await services.apps.authenticate(minted)).id == result.app_id
    with pytest.raises(Unauthorized):
        await services.apps.authenticate("app-unknown")
    with pytest.raises(NotFound):
        await services.apps.create_key("no-such-app")


async def test_invalid_dsl_is_rejected(services: Services) -> None:
    with pytest.raises(DSLError):
        await services.apps.import_dsl("app: [not a mapping")
    assert await services.apps.list_apps() == []
