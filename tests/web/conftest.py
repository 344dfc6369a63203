"""Browser fixtures: Debian's Chromium driven by Playwright, against the live test server.

The server is `tests/api/conftest.py`'s (a real uvicorn on a real port, fake model).
Playwright never downloads a browser here: it launches the system's `/usr/bin/chromium`
(`apt-get install chromium`; `.ci/run` installs it). Without it the browser tests skip,
except in CI, where a missing browser fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.api.conftest import LiveServer, live, server

__all__ = ["live", "server"]

CHROMIUM = Path(os.environ.get("CHATFLOW_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


# Module scope, not session: Playwright's sync API keeps an event loop running on the main
# thread while it is open, which would break `asyncio.run` in later test modules.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as runner:
        yield runner


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: its own localStorage, so its own end user."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


def origin(server: LiveServer) -> str:
    """`http://127.0.0.1:PORT` (the live server's base URL is the `/v1` one)."""
    return server.base_url.removesuffix("/v1")


def open_chat(page: Page, server: LiveServer, app: str = "assistant") -> None:
    """Open the chat page with the app's key in the fragment and wait until it is ready."""
    page.goto(f"{origin(server)}/#key={server.keys[app]}")
    page.wait_for_selector("body.ready")
