"""Reading the trained context length from GGUF headers."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from chatflow.providers.embedded import default_model_path
from chatflow.providers.gguf import GGUFError, trained_context_length


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _gguf(*pairs: bytes) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(pairs)) + b"".join(pairs)


def test_the_shipped_smollm2_was_trained_with_8192_tokens() -> None:
    assert trained_context_length(default_model_path()) == 8192


def test_reads_the_architectures_key_past_arrays(tmp_path: Path) -> None:
    tokens = struct.pack("<IQ", 8, 2) + _string("a") + _string("b")  # array of strings
    path = tmp_path / "m.gguf"
    path.write_bytes(
        _gguf(
            _string("tokenizer.tokens") + struct.pack("<I", 9) + tokens,
            _string("other.context_length") + struct.pack("<II", 4, 99),
            _string("general.architecture") + struct.pack("<I", 8) + _string("llama"),
            _string("llama.context_length") + struct.pack("<II", 4, 2048),
        )
    )
    assert trained_context_length(path) == 2048


def test_missing_key_is_none_and_junk_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(_gguf(_string("general.architecture") + struct.pack("<I", 8) + _string("x")))
    assert trained_context_length(path) is None
    path.write_bytes(b"not a model")
    with pytest.raises(GGUFError):
        trained_context_length(path)
    path.write_bytes(_gguf(_string("general.architecture")))  # truncated
    with pytest.raises(GGUFError):
        trained_context_length(path)
