"""The seed READMEs' examples (sdk/examples) run against the live server via `compat`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sdk_live import LiveServer

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").rglob("*.py"))


def test_examples_exist_for_both_seed_readmes() -> None:
    names = {p.relative_to(p.parents[1]).as_posix() for p in EXAMPLES}
    assert {"chatflow/send_chat_message.py", "chat/blocking_response.py"} <= names


def test_examples_only_import_the_compat_layer() -> None:
    for path in EXAMPLES:
        imports = [ln for ln in path.read_text().splitlines() if "import" in ln]
        assert not any("dify_oapi" in ln for ln in imports), path


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path: Path, server: LiveServer) -> None:
    env = {**os.environ, "DOMAIN": server.root, "CHATFLOW_KEY": server.chat_key}
    done = subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
