"""Upload files: metadata only, visible to the uploading user of the app only."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store import files

from .conftest import World


async def test_create_and_get_scoped(session: AsyncSession, world: World) -> None:
    f = await files.create_upload_file(
        session,
        app_id=world.app_id,
        end_user_id=world.alice,
        name="cat.png",
        size=2_500_000_000,  # past 32 bits
        extension="png",
        mime_type="image/png",
        storage_key="uploads/ab/cd",
        hash="0" * 64,
    )
    got = await files.get_upload_file(
        session, app_id=world.app_id, end_user_id=world.alice, file_id=f.id
    )
    assert got is not None
    assert (got.name, got.size, got.extension, got.mime_type) == (
        "cat.png",
        2_500_000_000,
        "png",
        "image/png",
    )
    assert got.created_at.tzinfo is not None
    assert (
        await files.get_upload_file(
            session, app_id=world.app_id, end_user_id=world.bob, file_id=f.id
        )
        is None
    )
    assert (
        await files.get_upload_file(session, app_id="other", end_user_id=world.alice, file_id=f.id)
        is None
    )


async def test_get_many_keeps_order_and_drops_unknown(session: AsyncSession, world: World) -> None:
    made = []
    for name, user in (("a", world.alice), ("b", world.alice), ("c", world.bob)):
        made.append(
            await files.create_upload_file(
                session,
                app_id=world.app_id,
                end_user_id=user,
                name=name,
                size=1,
                extension="txt",
                mime_type="text/plain",
                storage_key=name,
            )
        )
    a, b, c = (m.id for m in made)
    got = await files.get_upload_files(
        session, app_id=world.app_id, end_user_id=world.alice, file_ids=[b, "nope", c, a]
    )
    assert [f.id for f in got] == [b, a]
    assert (
        await files.get_upload_files(
            session, app_id=world.app_id, end_user_id=world.alice, file_ids=[]
        )
        == []
    )
