"""Shared by the console's tests: the operator, a signed-in HTTP client, a browser
context that lets axe in, and signing in from the page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from chatflow.errors import InvalidRequest
from tests.api.conftest import LiveServer
from tests.web.conftest import origin

USER, PASSWORD = "admin", "correct horse battery"


@pytest.fixture
def operator(server: LiveServer) -> tuple[str, str]:
    try:
        server.call(server.services.operators.create(USER, PASSWORD))
    except InvalidRequest:
        pass  # made by an earlier test of this module's server
    return USER, PASSWORD


@pytest.fixture
def console(server: LiveServer, operator: tuple[str, str]) -> Iterator[httpx.Client]:
    """Signed in over HTTP; the CSRF token set as the page sets it."""
    with httpx.Client(base_url=origin(server) + "/console/api", timeout=30) as client:
        me = client.post("/login", json={"username": USER, "password": PASSWORD}).json()
        client.headers["X-CSRF-Token"] = me["csrf_token"]
        yield client


@pytest.fixture
def scan_context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def sign_in(page: Page, server: LiveServer) -> None:
    page.goto(origin(server) + "/console")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_have_text(f"Signed in as {USER}")


def app_id(console: httpx.Client, name: str) -> str:
    return str(next(a["id"] for a in console.get("/apps").json()["data"] if a["name"] == name))
