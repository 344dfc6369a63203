"""The serving process's garbage-collector settings (`api/heap.py`), and a chat turn that
leaves no reference cycles behind: cyclic garbage is what makes the collector run, and
with the raised generation-0 threshold it would also sit in memory until it does."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable

import pytest

from chatflow.providers.fake import FakeRegistry
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.chat import ChatRequest

from .conftest import DSL, ECHO, load


def _garbage_while(turns: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[list[object]]]:
    """What the collector finds unreachable while `turns` runs (kept for a look, then freed)."""

    async def measure() -> list[object]:
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            await turns()
            gc.collect()
            return list(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()

    return measure


def _describe(objects: list[object]) -> list[str]:
    names = []
    for obj in objects[:20]:
        qualname = getattr(obj, "__qualname__", None)
        names.append(f"{type(obj).__name__} {qualname or ''}".strip())
    return names


async def _turns(services: Services, app: LoadedApp, count: int) -> None:
    for index in range(count):
        streaming = index % 2 == 1
        request = ChatRequest(query=f"q{index}", user="ann", streaming=streaming)
        handle = await services.chat.start(app, request)
        end = await handle.wait()
        assert end.status == "succeeded", end


@pytest.mark.parametrize("dsl", ["echo", "basic_chat.yml"])
async def test_chat_turns_leave_no_reference_cycles(
    services: Services, models: FakeRegistry, dsl: str
) -> None:
    app = await load(services, ECHO if dsl == "echo" else (DSL / dsl).read_text())
    await _turns(services, app, 2)  # first use fills caches; not what is measured
    garbage = await _garbage_while(lambda: _turns(services, app, 6))()
    assert garbage == [], _describe(garbage)


def test_settle_freezes_the_start_up_heap_once_per_process() -> None:
    script = textwrap.dedent(
        """
        import gc
        from chatflow.api import heap
        before = gc.get_threshold()
        assert heap.settle(12345) is True
        frozen = gc.get_freeze_count()
        assert frozen > 1000, frozen
        assert gc.get_threshold() == (12345, *before[1:]), gc.get_threshold()
        assert heap.settle(999) is False  # a second app in the same process
        assert gc.get_threshold()[0] == 12345
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_server_start_up_settles_the_heap() -> None:
    script = textwrap.dedent(
        """
        import asyncio, gc, tempfile
        from chatflow.api import create_app
        from chatflow.settings import Settings

        async def main():
            with tempfile.TemporaryDirectory() as data_dir:
                settings = Settings(data_dir=data_dir, model_backend="fake", gc_gen0_threshold=4321)
                app = create_app(settings)
                assert gc.get_freeze_count() == 0
                async with app.router.lifespan_context(app):
                    assert gc.get_freeze_count() > 1000
                    assert gc.get_threshold()[0] == 4321

        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
