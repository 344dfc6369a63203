"""Client-visible ids: random version 4 UUIDs, never repeated, not shared with a fork."""

from __future__ import annotations

import os
import uuid

from chatflow.services import ids
from chatflow.services.ids import random_id


def test_ids_are_random_uuid4_strings_and_unique() -> None:
    made = [random_id() for _ in range(1_000)]  # several batches
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_a_forked_child_does_not_reuse_the_ids_its_parent_read_ahead() -> None:
    random_id()  # the parent now holds ids read ahead
    assert ids._ready
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it kept the parent's ids, then leave
        os.write(write, b"1" if ids._ready else b"0")
        os._exit(0)
    os.close(write)
    kept = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert kept == b"0"
