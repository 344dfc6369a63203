"""The graphon side of the engine benchmark: its virtualenv and its driver process.

graphon (Dify's graph engine, PyPI `graphon`) needs Python 3.12, so it gets its own
virtualenv, `bench/.venv-graphon` (gitignored), made on first use from a Python 3.12
interpreter: `$BENCH_GRAPHON_PYTHON`, a pyenv 3.12, or `python3.12` on PATH. The driver
(`graphon_driver.py`) runs there as a subprocess and prints JSON timings.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-graphon"
DRIVER = HERE / "graphon_driver.py"
# The driver imports a few of graphon's private helpers; pin the minor version it was
# written against.
REQUIREMENT = "graphon>=0.8,<0.9"


class GraphonUnavailable(RuntimeError):
    """graphon cannot be set up here (no Python 3.12, or pip failed)."""


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _find_python312() -> str:
    candidates = [os.environ.get("BENCH_GRAPHON_PYTHON", "")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python")))
    candidates += [shutil.which("python3.12") or ""]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    raise GraphonUnavailable("no Python 3.12 found (set BENCH_GRAPHON_PYTHON)")


def ensure_venv() -> Path:
    """The venv's python, creating the venv and installing graphon when missing."""
    python = _venv_python()
    marker = VENV / ".installed"
    if python.exists() and marker.exists():
        return python
    base = _find_python312()
    steps = [
        [base, "-m", "venv", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", REQUIREMENT],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise GraphonUnavailable(f"{' '.join(step)} failed: {done.stderr.strip()[-500:]}")
    marker.write_text(REQUIREMENT + "\n")
    return python


def run_driver(
    dsl_dir: Path, names: list[str], *, runs: int, warmup: int, tokens: int, timeout: float = 300
) -> dict[str, Any]:
    """Run the driver in graphon's venv and return its JSON report."""
    python = ensure_venv()
    # -P: don't put bench/ on sys.path, where bench/http.py would shadow the stdlib.
    command = [str(python), "-P", str(DRIVER), str(dsl_dir), *names]
    command += ["--runs", str(runs), "--warmup", str(warmup), "--tokens", str(tokens)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise GraphonUnavailable(f"graphon driver failed: {done.stderr.strip()[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report
