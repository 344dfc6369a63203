"""Reads the trained context length from a GGUF file's header, without loading the model.

A GGUF file starts with `GGUF`, a version, the tensor and key-value counts, then the
key-value metadata: `general.architecture` names the architecture and
`<architecture>.context_length` is the context the model was trained with (SmolLM2:
8192). Only the header is read, and reading stops as soon as both keys are known
(they come before the large tokenizer arrays in every file llama.cpp writes).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

_MAGIC = b"GGUF"
# GGUF value types -> struct formats of the fixed-size ones (little-endian).
_FIXED = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q"}
_FIXED.update({11: "<q", 12: "<d"})
_STRING, _ARRAY = 8, 9
_MAX_KEYS = 100_000  # a header claiming more is not a GGUF we can trust


class GGUFError(ValueError):
    """The file is not a readable GGUF model."""


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise GGUFError("truncated GGUF header")
    return data


def _unpack(stream: BinaryIO, fmt: str) -> int | float | bool:
    value: int | float | bool = struct.unpack(fmt, _read(stream, struct.calcsize(fmt)))[0]
    return value


def _string(stream: BinaryIO) -> str:
    length = int(_unpack(stream, "<Q"))
    return _read(stream, length).decode("utf-8", errors="replace")


def _value(stream: BinaryIO, kind: int) -> object:
    """The value of `kind`; arrays are skipped (returned as None)."""
    if kind in _FIXED:
        return _unpack(stream, _FIXED[kind])
    if kind == _STRING:
        return _string(stream)
    if kind == _ARRAY:
        item_kind = int(_unpack(stream, "<I"))
        count = int(_unpack(stream, "<Q"))
        if item_kind in _FIXED:
            stream.seek(count * struct.calcsize(_FIXED[item_kind]), 1)
        else:
            for _ in range(count):
                _value(stream, item_kind)
        return None
    raise GGUFError(f"unknown GGUF value type {kind}")


def trained_context_length(path: str | Path) -> int | None:
    """`<arch>.context_length` of the GGUF at `path`, or None when it has none."""
    with open(path, "rb") as stream:
        if stream.read(4) != _MAGIC:
            raise GGUFError(f"{path} is not a GGUF file")
        version = int(_unpack(stream, "<I"))
        if version < 2:
            raise GGUFError(f"GGUF version {version} is not supported")
        _unpack(stream, "<Q")  # tensor count
        keys = int(_unpack(stream, "<Q"))
        if keys > _MAX_KEYS:
            raise GGUFError("GGUF header has too many keys")
        architecture: str | None = None
        lengths: dict[str, int] = {}
        for _ in range(keys):
            key = _string(stream)
            value = _value(stream, int(_unpack(stream, "<I")))
            if key == "general.architecture" and isinstance(value, str):
                architecture = value
            elif key.endswith(".context_length") and isinstance(value, int):
                lengths[key.rsplit(".", 1)[0]] = value
            if architecture is not None and architecture in lengths:
                return lengths[architecture]
        return lengths.get(architecture or "")
