"""Upload-file repository: metadata of files sent to `/files/upload`; bytes live elsewhere."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._types import new_id, utcnow
from chatflow.store.models import UploadFile


async def create_upload_file(
    session: AsyncSession,
    *,
    app_id: str,
    end_user_id: str | None,
    name: str,
    size: int,
    extension: str,
    mime_type: str,
    storage_key: str,
    hash: str | None = None,
    source_url: str | None = None,
    file_id: str | None = None,
) -> UploadFile:
    """Record an uploaded (or fetched remote) file after its bytes are stored."""
    upload = UploadFile(
        id=file_id or new_id(),
        app_id=app_id,
        end_user_id=end_user_id,
        name=name,
        size=size,
        extension=extension,
        mime_type=mime_type,
        storage_key=storage_key,
        hash=hash,
        source_url=source_url,
        created_at=utcnow(),
    )
    session.add(upload)
    await session.flush()
    return upload


async def get_upload_file(
    session: AsyncSession, *, app_id: str, end_user_id: str, file_id: str
) -> UploadFile | None:
    """The user's file with this id, or None (another user's file is not found)."""
    return await session.scalar(
        select(UploadFile).where(
            UploadFile.id == file_id,
            UploadFile.app_id == app_id,
            UploadFile.end_user_id == end_user_id,
        )
    )


async def get_upload_files(
    session: AsyncSession, *, app_id: str, end_user_id: str, file_ids: Sequence[str]
) -> list[UploadFile]:
    """The user's files among `file_ids`, in the order asked; unknown ids are left out."""
    if not file_ids:
        return []
    rows = await session.scalars(
        select(UploadFile).where(
            UploadFile.id.in_(list(file_ids)),
            UploadFile.app_id == app_id,
            UploadFile.end_user_id == end_user_id,
        )
    )
    found = {f.id: f for f in rows}
    return [found[i] for i in file_ids if i in found]
