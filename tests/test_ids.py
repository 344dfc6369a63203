"""Random ids (`chatflow/ids.py`): UUID strings in Dify's formats, never repeated, from
a read-ahead pool of `os.urandom` bytes that a forked worker does not share."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable

import pytest

from chatflow.engine._step import execution_id
from chatflow.ids import uuid4, uuid4_hex, uuid7

# Several pools' worth: the pool holds 4096 bytes, 16 (or 10) per id.
MANY = 1_000


def test_uuid4_strings_are_random_version_4_and_unique() -> None:
    made = [uuid4() for _ in range(MANY)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_uuid4_hex_ids_are_random_version_4_and_unique() -> None:
    made = [uuid4_hex() for _ in range(MANY)]
    assert len(set(made)) == len(made)
    for value in made:
        parsed = uuid.UUID(value)
        assert parsed.hex == value and parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_uuid7_strings_are_unique_time_ordered_and_carry_the_time() -> None:
    before = time.time_ns() // 1_000_000
    made = [uuid7() for _ in range(MANY)]
    after = time.time_ns() // 1_000_000
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
        assert before <= parsed.int >> 80 <= after  # the 48-bit Unix time in ms
    stamps = [uuid.UUID(text).int >> 80 for text in made]
    assert stamps == sorted(stamps)


def test_node_execution_ids_are_uuid7() -> None:
    assert uuid.UUID(execution_id()).version == 7


def _random_part(text: str) -> int:
    """An id's bits without its time (uuid7's first 48 bits)."""
    parsed = uuid.UUID(text)
    return parsed.int & ((1 << 80) - 1) if parsed.version == 7 else parsed.int


@pytest.mark.parametrize("make", [uuid4, uuid4_hex, uuid7], ids=["uuid4", "hex", "uuid7"])
def test_a_forked_worker_does_not_reuse_its_parents_random_bytes(
    make: Callable[[], str],
) -> None:
    make()  # the parent now holds bytes read ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id, then out without running anything else
        os.write(write, make().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    # Sharing the pool, the child's first id would be the parent's next one.
    assert _random_part(child) != _random_part(make())
