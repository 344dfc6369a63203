"""Browser fixtures: Debian's Chromium driven by Playwright, against the live test server.

The server is `tests/api/conftest.py`'s (a real uvicorn on a real port, fake model).
Playwright never downloads a browser here: it launches the system's `/usr/bin/chromium`
(`apt-get install chromium`; `.ci/run` installs it). Without it the browser tests skip,
except in CI, where a missing browser fails the run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.api.conftest import LiveServer, live, server

__all__ = ["live", "server"]

# `expect` waits on what the page shows; on a busy machine that can take a while (it
# returns as soon as the condition holds, so the bound costs nothing when things are fast).
# Playwright's own waits (navigation, `wait_for_selector`, clicks, `expect_response`) get
# the same bound through each context's default timeout.
WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)

CHROMIUM = Path(os.environ.get("CHATFLOW_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # A fake microphone (a tone) and no permission prompt: the dictation button can record.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
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


def new_context(browser: Browser, *, scan: bool = False, **options: object) -> BrowserContext:
    """A fresh browser profile (its own cookies and localStorage: its own end user) with
    the busy-machine wait bound; `scan=True` bypasses the page's CSP so that axe-core can
    be injected."""
    options.setdefault("viewport", {"width": 1200, "height": 800})
    context = browser.new_context(bypass_csp=scan, **options)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    return context


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test."""
    context = new_context(browser)
    yield context
    context.close()


@pytest.fixture
def scan_context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test in which axe-core can be injected."""
    context = new_context(browser, scan=True)
    yield context
    context.close()


def until(condition: Callable[[], bool], timeout: float = WAIT_MS / 1000) -> None:
    """Wait for server-side state the page does not show (a run's record, say)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)


# `CHATFLOW_TEST_CPU_SLOWDOWN=6` runs every page's script N times slower (Chromium's CPU
# throttling): the tests must still pass, waiting on what the page shows.
SLOWDOWN = float(os.environ.get("CHATFLOW_TEST_CPU_SLOWDOWN") or 1)


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    if SLOWDOWN > 1:
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": SLOWDOWN})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


def origin(server: LiveServer) -> str:
    """`http://127.0.0.1:PORT` (the live server's base URL is the `/v1` one)."""
    return server.base_url.removesuffix("/v1")


def open_chat(page: Page, server: LiveServer, app: str = "assistant") -> None:
    """Open the app's chat site and wait until the page is ready."""
    page.goto(f"{origin(server)}/chat/{server.site(app)}")
    page.wait_for_selector("body.ready")


def page_client(page: Page, server: LiveServer, app: str = "assistant") -> httpx.Client:
    """The sites' API as this browser's end user (its session cookie), to check what the
    server holds for it."""
    code = server.site(app)
    name = f"chatflow_site_{code}"
    [token] = [c["value"] for c in page.context.cookies() if c["name"] == name]
    client = httpx.Client(base_url=origin(server) + "/api", headers={"X-App-Code": code})
    client.cookies.set(name, token, path="/api")
    server.clients.append(client)
    return client


# Screenshots are test artifacts: bench/out is gitignored and CI keeps it.
SHOTS = Path(
    os.environ.get("CHATFLOW_TEST_SHOTS", Path(__file__).parents[2] / "bench/out/screenshots")
)
AXE = Path(__file__).parent / "vendor" / "axe.min.js"  # axe-core 4.14.1 (MPL-2.0), from npm


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as `SHOTS/name.png`."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Page) -> list[dict[str, object]]:
    """Serious and critical axe-core violations on the page as it is now (WCAG 2 A/AA).

    The page's CSP admits only its own scripts: the context must bypass CSP to inject axe.
    """
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
