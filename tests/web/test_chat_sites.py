"""Chat sites in the browser: sessions, isolation, no Service API key, passcodes, and an
accessibility scan (axe-core) of the page in light, dark and narrow layouts."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from chatflow.errors import InvalidRequest
from tests.api.conftest import ANSWER, LiveServer
from tests.web.conftest import axe_violations, new_context, open_chat, origin, page_client, shot

pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)

KEY = re.compile(r"\bapp-[A-Za-z0-9]{24}\b")  # a Service API key's shape


def send(page: Page, text: str) -> None:
    page.fill("#query", text)
    page.press("#query", "Enter")


def wait_idle(page: Page) -> None:
    expect(page.locator(".bubble.streaming")).to_have_count(0)
    expect(page.locator("#send")).to_be_visible()


def test_no_service_api_key_reaches_the_page(page: Page, server: LiveServer) -> None:
    seen: list[str] = []

    def record(request: Request) -> None:
        seen.append(request.url)
        seen.append(json.dumps(request.all_headers()))
        seen.append(request.post_data or "")

    page.on("request", record)
    open_chat(page, server)
    send(page, "hello")
    wait_idle(page)
    page.reload()
    page.wait_for_selector("body.ready")
    expect(page.locator("#messages .msg.bot .answer")).to_have_text([ANSWER])
    storage = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    cookies = json.dumps(page.context.cookies())
    for text in (*seen, storage, cookies, page.content()):
        assert not KEY.search(text), text
        assert not any(key in text for key in server.keys.values())
    assert any("/api/chat-messages" in url for url in seen)
    assert not any("/v1/" in url for url in seen)


def test_a_second_browser_sees_none_of_the_firsts_conversations(
    browser: Browser, page: Page, server: LiveServer
) -> None:
    open_chat(page, server)
    send(page, "my secret plans")
    wait_idle(page)
    [conversation] = page_client(page, server).get("/conversations").json()["data"]

    other = new_context(browser)
    try:
        intruder = other.new_page()
        open_chat(intruder, server)
        expect(intruder.locator("#conversations-empty")).to_be_visible()
        expect(intruder.locator(".conv")).to_have_count(0)
        # Asking for the first browser's conversation by id gets nothing either.
        status = intruder.evaluate(
            """async ([code, id]) => (await fetch(`/api/messages?conversation_id=${id}`,
                 {headers: {"X-App-Code": code}})).status""",
            [server.site(), conversation["id"]],
        )
        assert status == 404
        assert page_client(intruder, server).get("/conversations").json()["data"] == []
    finally:
        other.close()
    expect(page.locator(".conv")).to_have_count(1)


def test_passcode_site(page: Page, server: LiveServer) -> None:
    sites = server.services.sites
    server.call(sites.configure("assistant", passcode="letmein"))
    try:
        page.goto(f"{origin(server)}/chat/{server.site()}")
        dialog = page.locator("#passcode-dialog")
        expect(dialog).to_be_visible()
        page.fill("#passcode-input", "wrong")
        page.press("#passcode-input", "Enter")
        expect(page.locator("#passcode-error")).to_have_text("That passcode is not right.")
        shot(page, "chat-passcode")
        # Esc closes it: a notice says what to do, nothing traps the reader.
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(page.locator("#site-notice-title")).to_have_text("This chat needs a passcode")
        page.reload()
        page.fill("#passcode-input", "letmein")
        page.press("#passcode-input", "Enter")
        expect(dialog).to_be_hidden()
        expect(page.locator("#app-name")).to_have_text("assistant")
        send(page, "hi")
        expect(page.locator("#messages .msg.bot .answer")).to_have_text(ANSWER)
    finally:
        server.call(sites.configure("assistant", clear_passcode=True))


def test_operator_login_site(page: Page, server: LiveServer) -> None:
    """A site for operators: a stranger gets a notice; once signed in to the console (in
    the same browser), the page opens the operator's session itself and chats."""
    sites, operators = server.services.sites, server.services.operators
    try:
        server.call(operators.create("site-op", "correct horse battery"))
    except InvalidRequest:
        pass  # made by an earlier test of this module's server
    server.call(sites.configure("assistant", operator_login=True))
    try:
        page.goto(f"{origin(server)}/chat/{server.site()}")
        expect(page.locator("#site-notice-title")).to_have_text("This chat is for operators")
        expect(page.locator("#query")).to_be_disabled()
        page.goto(f"{origin(server)}/console")
        page.get_by_label("Username").fill("site-op")
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#who")).to_have_text("Signed in as site-op")
        page.goto(f"{origin(server)}/chat/{server.site()}")
        expect(page.locator("#app-name")).to_have_text("assistant")
        send(page, "hi")
        expect(page.locator("#messages .msg.bot .answer")).to_have_text(ANSWER)
    finally:
        server.call(sites.configure("assistant", operator_login=False))


def _scan(page: Page, name: str) -> list[dict[str, Any]]:
    shot(page, name)
    return axe_violations(page)


def test_accessibility_light_dark_and_narrow(
    scan_context: BrowserContext, server: LiveServer
) -> None:
    page = scan_context.new_page()
    open_chat(page, server)
    send(page, "hello")
    wait_idle(page)
    page.locator(".trace summary").first.click()
    problems = {"light": _scan(page, "chat-light")}
    page.emulate_media(color_scheme="dark")
    problems["dark"] = _scan(page, "chat-dark")
    page.set_viewport_size({"width": 390, "height": 800})
    page.click("#toggle-sidebar")
    expect(page.locator("body")).to_have_class(re.compile(r"\bsidebar-open\b"))
    expect(page.locator("#sidebar")).to_be_in_viewport(ratio=1)  # slid all the way in
    problems["narrow"] = _scan(page, "chat-narrow-drawer")
    page.emulate_media(color_scheme="light")
    page.keyboard.press("Escape")
    open_chat(page, server, "forms")
    problems["form"] = _scan(page, "chat-form")
    assert problems == {"light": [], "dark": [], "narrow": [], "form": []}
