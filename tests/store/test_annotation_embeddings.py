"""Annotation embeddings: index state, upsert, per-model loads, cascade and app wipe."""

from __future__ import annotations

import struct

from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store import annotation_embeddings as idx
from chatflow.store import annotations as ann

from .conftest import World


def vec(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


async def test_index_round_trip(session: AsyncSession, world: World) -> None:
    a = await ann.create_annotation(session, app_id=world.app_id, question="Q1", answer="A1")
    b = await ann.create_annotation(session, app_id=world.app_id, question="Q2", answer="A2")
    entries = await idx.index_entries(session, world.app_id)
    assert [(e.annotation_id, e.question, e.text_hash, e.model) for e in entries] == [
        (a.id, "Q1", None, None),
        (b.id, "Q2", None, None),
    ]
    await idx.save_embeddings(
        session,
        app_id=world.app_id,
        model="m1",
        embeddings=[
            idx.NewEmbedding(a.id, "h1", vec(1, 0), 2),
            idx.NewEmbedding("deleted-meanwhile", "h", vec(0, 1), 2),
        ],
    )
    [only] = await idx.index_entries(session, world.app_id, [a.id])
    assert (only.text_hash, only.model) == ("h1", "m1")
    # Upsert replaces; loads are per model.
    await idx.save_embeddings(
        session,
        app_id=world.app_id,
        model="m2",
        embeddings=[idx.NewEmbedding(a.id, "h1b", vec(0.5, 0.5), 2)],
    )
    assert await idx.load_vectors(session, app_id=world.app_id, model="m1") == []
    [stored] = await idx.load_vectors(session, app_id=world.app_id, model="m2")
    assert (stored.annotation_id, stored.dimensions, stored.vector) == (a.id, 2, vec(0.5, 0.5))

    await ann.delete_annotation(session, app_id=world.app_id, annotation_id=a.id)
    assert await idx.load_vectors(session, app_id=world.app_id, model="m2") == []
    await idx.save_embeddings(
        session,
        app_id=world.app_id,
        model="m2",
        embeddings=[idx.NewEmbedding(b.id, "h2", vec(1, 1), 2)],
    )
    await idx.delete_app_embeddings(session, world.app_id)
    assert await idx.load_vectors(session, app_id=world.app_id, model="m2") == []


async def test_unfinished_job_lookup(session: AsyncSession, world: World) -> None:
    assert (
        await ann.unfinished_annotation_job(session, app_id=world.app_id, action="enable") is None
    )
    job = await ann.create_annotation_job(session, app_id=world.app_id, action="enable")
    found = await ann.unfinished_annotation_job(session, app_id=world.app_id, action="enable")
    assert found is not None and found.id == job.id
    assert (
        await ann.unfinished_annotation_job(session, app_id=world.app_id, action="disable") is None
    )
    await ann.set_annotation_job_status(session, job.id, "completed")
    assert (
        await ann.unfinished_annotation_job(session, app_id=world.app_id, action="enable") is None
    )
