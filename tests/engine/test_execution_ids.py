"""Node execution ids: UUID version 7 strings, as Dify's `uuidv7()` makes them."""

from __future__ import annotations

import os
import time
import uuid

from chatflow.engine import _step
from chatflow.engine._step import execution_id


def test_execution_ids_are_unique_time_ordered_uuid7_strings() -> None:
    before = time.time_ns() // 1_000_000
    made = [execution_id() for _ in range(1_000)]  # several batches of random tails
    after = time.time_ns() // 1_000_000
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
        assert before <= parsed.int >> 80 <= after  # the 48-bit Unix time in ms
    stamps = [uuid.UUID(text).int >> 80 for text in made]
    assert stamps == sorted(stamps)


def test_a_forked_child_does_not_reuse_the_random_bits_its_parent_read_ahead() -> None:
    execution_id()
    assert _step._tails
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, b"1" if _step._tails else b"0")
        os._exit(0)
    os.close(write)
    kept = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert kept == b"0"
