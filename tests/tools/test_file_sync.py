"""Two workers on one data dir: what one worker's console adds, maps or removes reaches
the other worker's registry through the files (`tools/file_sync.py`), and an unchanged
provider is left as it is."""

from __future__ import annotations

import json
from pathlib import Path

from chatflow.services.console_tools import ConsoleTools
from chatflow.settings import Settings
from chatflow.tools import remote
from chatflow.tools.catalog import build_registry
from chatflow.tools.file_sync import ToolFileSync
from tests.tools import petstore

SPEC = json.dumps(petstore.openapi3("http://127.0.0.1:9/v1"))


def _worker(settings: Settings) -> tuple[ConsoleTools, ToolFileSync]:
    registry = build_registry(settings)
    sync = ToolFileSync(settings, registry, interval=0)
    return ConsoleTools(settings, registry, sync), sync


async def test_a_change_in_one_worker_reaches_the_other(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    one, _ = _worker(settings)
    two, two_sync = _worker(settings)
    registry = two._registry

    await one.add_openapi("pets", url="", schema=SPEC, headers={})
    assert registry.provider("pets") is None
    await two_sync.check()
    first = registry.provider("pets")
    assert first is not None and "listPets" in [t.descriptor.name for t in await first.tools()]

    await one.map("acme/clock/clock:now", "time:current_time")
    await two_sync.check()
    resolved = registry.resolve("acme/clock/clock", "now")
    assert resolved is not None and resolved.provider.id == "time"
    assert registry.provider("pets") is first  # unchanged: not rebuilt

    await one.add_openapi("pets", url="", schema=SPEC, headers={"X-Api-Key": "${PETS_KEY}"})
    await two_sync.check()
    assert registry.provider("pets") is not first  # its entry changed: replaced

    await one.remove("pets")
    await two_sync.check()
    assert registry.provider("pets") is None
    assert [p["id"] for p in await two.providers() if p["kind"] != "builtin"] == []


async def test_a_broken_file_keeps_what_runs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    one, _ = _worker(settings)
    two, two_sync = _worker(settings)
    await one.add_openapi("pets", url="", schema=SPEC, headers={})
    await two_sync.check()
    remote.store_path(settings).write_text("{not json", encoding="utf-8")
    await two_sync.check()  # logged, not raised
    assert two._registry.provider("pets") is not None
