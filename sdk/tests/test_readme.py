"""Every ```python snippet in sdk/README.md runs against the live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sdk_live import LiveServer

README = Path(__file__).parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_promised_sections() -> None:
    text = README.read_text()
    for title in ["blocking", "Streaming", "Files", "Stop", "Conversations", "Annotations"]:
        assert title in text
    assert len(SNIPPETS) >= 7


@pytest.fixture(scope="module")
def readme_dataset_key(server: LiveServer) -> str:
    """A Knowledge API key for the knowledge snippet (`chatflow dataset-key create`)."""
    from conftest import _chatflow

    key = "dataset-test-sdk-readme"
    done = subprocess.run(
        [_chatflow(), "dataset-key", "create", "--api-key", key],
        env=server.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return key


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_snippet_runs(snippet: str, server: LiveServer, readme_dataset_key: str) -> None:
    env = {
        **os.environ,
        "CHATFLOW_BASE_URL": server.base_url,
        "CHATFLOW_KEY": server.chat_key,
        "CHATFLOW_DATASET_KEY": readme_dataset_key,
    }
    done = subprocess.run(
        [sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
