"""`pip install .` (a wheel, not an editable install) then `chatflow serve`, away from the
checkout: the package must carry everything it runs with (the bundled example app, the
chat page and console assets, the OpenAPI seed, the migrations) and read none of it from
the source tree.

The wheel of this checkout is built and installed into a folder of its own, which goes
first on the path; its dependencies come from the test environment. The server runs from
an unrelated working directory on the fake model (the embedded model's own install is
tested in `tests/providers/test_model_file.py`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests._server_process import free_port, wait_until_answering

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
ROOT = Path(__file__).parents[1]


def _build_and_install(tmp_path: Path) -> tuple[Path, Path]:
    """(the wheel, the folder it is installed in)."""
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # No build isolation: hatchling is in the test environment (lock/dev.txt), so the build
    # needs no index.
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)]
    subprocess.run(build, check=True, cwd=tmp_path, timeout=120)
    (wheel,) = wheels.glob("chatflow_server-*.whl")
    install = [*pip, "install", "--no-deps", "--no-compile", "--target", str(target), str(wheel)]
    subprocess.run(install, check=True, cwd=tmp_path, timeout=120)
    return wheel, target


def test_the_wheel_holds_every_file_the_package_tracks(tmp_path: Path) -> None:
    wheel, _ = _build_and_install(tmp_path)
    tracked = subprocess.run(
        ["git", "ls-files", "chatflow"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [path for path in tracked.stdout.split() if path not in names]
    assert not missing
    assert "chatflow/examples/assistant.yml" in names


def test_the_installed_wheel_serves_the_bundled_example(tmp_path: Path) -> None:
    _, target = _build_and_install(tmp_path)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(target),
        "CHATFLOW_MODEL_BACKEND": "fake",
        "CHATFLOW_LOG_FORMAT": "text",
    }
    env.pop("CHATFLOW_DATA_DIR", None)
    where = subprocess.run(
        [sys.executable, "-c", "import chatflow; print(chatflow.__file__)"],
        env=env,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(target), where.stdout
    script = target / "bin" / "chatflow"
    version = subprocess.run(
        [sys.executable, str(script), "--version"],
        env=env,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith("chatflow-server ")

    port = free_port()
    command = [sys.executable, str(script), "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "data")],
        env=env,
        cwd=elsewhere,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("assistant  id="), first
        key = first.split("key=")[1].split()[0]
        chat_page = proc.stdout.readline().split("chat: ")[1].strip()
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", proc, 60)

        answer = httpx.post(
            f"{base}/v1/chat-messages",
            json={"inputs": {}, "query": "hi", "user": "u", "response_mode": "blocking"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["answer"]
        # Served from the package's own files.
        page = httpx.get(chat_page, timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        console = httpx.get(f"{base}/console", timeout=10, follow_redirects=True)
        assert console.status_code == 200 and "<html" in console.text.lower()
        spec = httpx.get(f"{base}/v1/openapi.json", timeout=10)
        assert spec.status_code == 200 and spec.json()["paths"]
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # The data directory is the one asked for, not one under the checkout or the cwd.
    assert (tmp_path / "data" / "chatflow.db").exists()
    assert not any(elsewhere.iterdir())
