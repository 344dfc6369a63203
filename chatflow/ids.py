"""Random ids as UUID strings, from one read-ahead pool of `os.urandom` bytes.

Every id that reaches a client (task, message, conversation, run, node execution,
request) must stay unpredictable (a task id lets its owner stop a run), so the random
bits come from `os.urandom`, as `uuid.uuid4()`'s do. Reading them for many ids at once
saves a system call and `uuid.UUID`'s object per id (~2.5 µs each on the chat path); a
forked worker drops the bytes its parent read ahead, so two workers never share ids.

Keys of stored rows (messages, conversations, runs, node executions, ...) are UUIDv7, as
Dify's newer tables' are: 74 random bits after a millisecond timestamp, which puts each
insert at the end of the key's index (random UUID4 keys dirtied a random index page per
row and per index: 9% of a blocking chat's CPU on SQLite). Task and request ids stay
UUID4.
"""

from __future__ import annotations

import os
import time

_POOL_BYTES = 4096
# Version and RFC 4122 variant bits of a UUID, as a 128-bit integer.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
_UUID7_SET = (0x7000 << 64) | (0x8000 << 48)

_pool = b""
_at = 0


def _drop_pool() -> None:
    global _pool, _at
    _pool, _at = b"", 0


os.register_at_fork(after_in_child=_drop_pool)


def _random_bits(size: int) -> int:
    """`size` fresh random bytes from the pool, as an integer."""
    global _pool, _at
    if _at + size > len(_pool):
        _pool, _at = os.urandom(_POOL_BYTES), 0
    start = _at
    _at += size
    return int.from_bytes(_pool[start:_at])


def _dashed(bits: int) -> str:
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def uuid4() -> str:
    """A new `str(uuid.uuid4())`: Dify's id format."""
    return _dashed(_random_bits(16) & _UUID_CLEAR | _UUID4_SET)


def uuid4_hex() -> str:
    """A new `uuid.uuid4().hex` (32 hex digits, no dashes)."""
    return f"{_random_bits(16) & _UUID_CLEAR | _UUID4_SET:032x}"


def uuid7() -> str:
    """A new UUID version 7 (RFC 9562) string: 48 bits of Unix time in ms, then 74
    random bits. Time-ordered ids append to the end of a primary-key index instead of
    dirtying a random page."""
    bits = (time.time_ns() // 1_000_000) << 80 | _random_bits(10)
    return _dashed(bits & _UUID_CLEAR | _UUID7_SET)
