"""Schemathesis against a live server, with Dify's seed spec as the contract.

All checks; phases examples, coverage, fuzzing and stateful; a fixed seed and bounded
examples so it takes a couple of minutes on 2 cores. The server runs on a real port with
the fake model; the bundled advanced-chat app is addressed by its key. The only findings
ignored are the seed's documented mistakes (deviations.py, docs/compat.md), per operation
and per check. No 5xx, no schema violation, no crash.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import LiveServer
from .deviations import ALL, DEVIATIONS, NEGATIVE, POSITIVE, labelled

ROOT = Path(__file__).parents[2]
SEED = ROOT / "chatflow" / "api" / "openapi" / "seed.json"
COMPAT = ROOT / "docs" / "compat.md"
SEED_VALUE = 20240601
MAX_EXAMPLES = 100
# Schemathesis' defaults for the two checks whose accepted statuses deviations extend.
DEFAULT_STATUSES = {
    POSITIVE: ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"],
    NEGATIVE: ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429"],
}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _config() -> str:
    """schemathesis.toml: per-operation accepted statuses from the deviations."""
    lines = []
    for check in (POSITIVE, NEGATIVE):
        for label, statuses in sorted(labelled(check).items()):
            assert label != ALL, "positive/negative deviations must name operations"
            expected = sorted({*DEFAULT_STATUSES[check], *statuses})
            lines += [
                "[[operations]]",
                f'include-name = "{label}"',
                f"checks.{check}.expected-statuses = {json.dumps(expected)}",
                "",
            ]
    return "\n".join(lines)


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_server_conforms_to_the_seed_spec(live: LiveServer, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(), encoding="utf-8")
    report = tmp_path / "report.json"
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "--no-color", "--config-file", str(config), "run", str(SEED),
        "--url", live.base_url,
        "--header", f"Authorization: Bearer {live.keys['assistant']}",
        "--checks", "all",
        # Replaced by the deviation-aware versions in schemathesis_hooks.py.
        "--exclude-checks", "status_code_conformance,response_schema_conformance",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--seed", str(SEED_VALUE), "--max-examples", str(MAX_EXAMPLES),
        # One worker: schemathesis's threads call `ast.parse` concurrently (describing
        # hypothesis filters), which CPython 3.11.7 can fail with "AST constructor
        # recursion depth mismatch" (CPython gh-106905).
        "--workers", "1", "--request-timeout", "20",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540
    )
    output = done.stdout + done.stderr
    print(output)
    assert report.exists(), output[-8000:]
    result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    assert result["operations"]["tested"] == 28, result["operations"]
    assert all(p["status"] != "skipped" for p in result["phases"].values()), result["phases"]
    assert result["errors"] == [], output[-8000:]
    assert result["failures"] == [], output[-8000:]
    assert done.returncode == 0, output[-8000:]


def test_compat_doc_lists_every_deviation() -> None:
    text = COMPAT.read_text(encoding="utf-8")
    for deviation in DEVIATIONS:
        assert re.search(rf"`{re.escape(deviation.id)}`", text), deviation.id
        for label in deviation.operations:
            assert label == ALL or label in text, (deviation.id, label)
