"""Published Dify SDKs from PyPI, each in its own process, against the live server.

`dify-client`, `dify-client-python` and `dify-python-sdk` all install a module named
`dify_client`, so each lives in its own target dir (`.venv/clients/<name>`, filled by
`make install-test`; installed here on first use otherwise) put first on `sys.path` of a
subprocess that runs the SDK's driver (drivers/). A driver makes each call, checks the
result, and prints how many calls passed; every call must pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import LiveServer

ROOT = Path(__file__).parents[2]
DRIVERS = Path(__file__).parent / "drivers"
TARGETS = ROOT / ".venv" / "clients"
# name on PyPI -> (requirement, driver, calls that must pass); `None`: in the venv itself.
# Pinned as in the Makefile's CLIENTS (the README examples are version-specific).
CLIENTS: dict[str, tuple[str | None, str, int]] = {
    "dify-client": ("dify-client==0.1.10", "dify_client_basic.py", 9),
    "dify-client-python": ("dify-client-python==1.0.3", "dify_client_python.py", 13),
    "dify-python-sdk": ("dify-python-sdk==0.1.16", "dify_python_sdk.py", 35),
    "dify-oapi2": (None, "dify_oapi2.py", 24),
}
SUMMARY: dict[str, tuple[int, int]] = {}
# README examples that cannot pass as written, with the error each must fail with. Any
# other failure, or one of these passing, fails the test (then update this table).
README_KNOWN: dict[str, dict[str, str]] = {
    "dify-client": {
        # Its streaming example json-decodes every line after `data:`; the keep-alive
        # `event: ping` frame (DESIGN.md section 2; Dify sends it when idle) breaks it.
        "example 3": "JSONDecodeError",
    },
    "dify-python-sdk": {
        # README bugs: httpx has no `iter_lines(decode_unicode=)`; `rename_conversation`
        # takes a required `auto_generate` the example omits.
        "example 3": "unexpected keyword argument 'decode_unicode'",
        "example 6": "missing 1 required positional argument: 'auto_generate'",
        # Placeholder `variable_id="variable_id"` names no variable of any app.
        "example 9": "Conversation Variable Not Exists.",
    },
}

pytestmark = [pytest.mark.timeout(300)]


def _target(name: str, requirement: str) -> Path:
    target = TARGETS / name
    if not (target / "dify_client").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--target", str(target), requirement],
            check=True, timeout=240,
        )  # fmt: skip
    return target


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_published_client(name: str, server: LiveServer) -> None:
    requirement, driver, minimum = CLIENTS[name]
    paths = [str(DRIVERS)]
    if requirement is not None:
        paths.insert(0, str(_target(name, requirement)))
    done = subprocess.run(
        [sys.executable, "-u", str(DRIVERS / driver)],
        env=_env(server, paths), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    _check(name, done, minimum)


# Knowledge API drivers (dataset key): name -> (requirement, driver, calls that must pass).
KNOWLEDGE_CLIENTS: dict[str, tuple[str | None, str, int]] = {
    "dify-python-sdk": ("dify-python-sdk==0.1.16", "dify_python_sdk_knowledge.py", 28),
    "dify-oapi2": (None, "dify_oapi2_knowledge.py", 30),
}


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", sorted(KNOWLEDGE_CLIENTS))
def test_published_knowledge_client(name: str, server: LiveServer) -> None:
    """The Knowledge API, driven by the clients' own knowledge modules."""
    requirement, driver, minimum = KNOWLEDGE_CLIENTS[name]
    paths = [str(DRIVERS)]
    if requirement is not None:
        paths.insert(0, str(_target(name, requirement)))
    env = _env(server, paths)
    env["CHATFLOW_DATASET_KEY"] = server.call(server.services.knowledge.create_key())
    done = subprocess.run(
        [sys.executable, "-u", str(DRIVERS / driver)],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    _check(f"{name} knowledge", done, minimum)


def _env(server: LiveServer, paths: list[str]) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "CHATFLOW_BASE_URL": server.base_url,
        "CHATFLOW_KEY": server.keys["assistant"],
        "CHATFLOW_SPEECH_KEY": server.keys["speech"],
        "CHATFLOW_WORKFLOW_KEY": server.keys["workflow"],
    }


def _check(
    name: str,
    done: subprocess.CompletedProcess[str],
    minimum: int,
    known: dict[str, str] | None = None,
) -> None:
    """Every call the driver made passed (or failed exactly as `known` says), and at
    least `minimum` passed."""
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout + done.stderr
    result = json.loads(lines[-1].removeprefix("RESULT "))
    passed, failed = result["passed"], result["failed"]
    SUMMARY[name] = (len(passed), len(passed) + len(failed))
    print(f"{name}: {len(passed)}/{len(passed) + len(failed)} calls passed")
    known = known or {}
    assert set(failed) == set(known), json.dumps(failed, indent=1) + "\n" + done.stderr[-6000:]
    for example, error in known.items():
        assert error in failed[example], (example, failed[example])
    assert len(passed) >= minimum, passed


def _metadata(target: Path) -> Path:
    [metadata] = target.glob("*.dist-info/METADATA")
    return metadata


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", ["dify-client", "dify-client-python", "dify-python-sdk"])
def test_readme_examples(name: str, server: LiveServer) -> None:
    """The README's examples, run as written (placeholders and base URL filled in)."""
    requirement, _, _ = CLIENTS[name]
    assert requirement is not None
    target = _target(name, requirement)
    done = subprocess.run(
        [sys.executable, "-u", str(DRIVERS / "readme.py"), str(_metadata(target))],
        env=_env(server, [str(target), str(DRIVERS)]),
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    _check(f"{name} README", done, minimum=2, known=README_KNOWN.get(name, {}))


def teardown_module() -> None:
    if SUMMARY:
        print(
            "\npublished clients (calls passed/exercised): "
            + ", ".join(f"{name} {ok}/{total}" for name, (ok, total) in sorted(SUMMARY.items()))
        )
