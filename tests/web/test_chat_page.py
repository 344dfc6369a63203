"""The chat page of an app's site (`/chat/{code}`), driven in Chromium against a live
server with the fake model.

Each test uses a fresh browser profile, so a fresh end-user session (its cookie).
Server-side effects are checked through the sites' API with that same cookie.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from chatflow.providers.base import LLMChunk, LLMRequest
from chatflow.providers.fake import FakeLLM, FakeRegistry
from chatflow.services.generation import SUGGEST_PROMPT
from tests.api.conftest import ANSWER, TOKENS, LiveServer
from tests.web.conftest import open_chat, origin, page_client, until

# The page does not depend on the database backend: SQLite only keeps the browser runs short.
pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)

SHOT = "/tmp/chat_page.png"
FOLLOWUPS = ["Why is that?", "Tell me more"]


class SuggestingLLM(FakeLLM):
    """The test model, except that Dify's follow-up prompt gets a JSON array of questions."""

    def __init__(self, inner: FakeLLM) -> None:
        super().__init__(inner.tokens, inner.delay)
        self.inner = inner
        self.suggestions = FakeLLM([json.dumps(FOLLOWUPS)])

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        asks = SUGGEST_PROMPT in request.messages[-1].content
        async for chunk in (self.suggestions if asks else self.inner).stream(request):
            yield chunk


class SuggestingRegistry(FakeRegistry):
    def llm(self, provider: str, model: str) -> FakeLLM:
        return SuggestingLLM(self.fake)


LIVE_REGISTRY = SuggestingRegistry


def send(page: Page, text: str) -> None:
    page.fill("#query", text)
    page.press("#query", "Enter")


def last_answer(page: Page) -> Any:
    return page.locator("#messages .msg.bot .answer").last


def wait_idle(page: Page) -> None:
    expect(page.locator(".bubble.streaming")).to_have_count(0)
    expect(page.locator("#send")).to_be_visible()


def api_conversations(
    page: Page, server: LiveServer, app: str = "assistant"
) -> list[dict[str, Any]]:
    body = page_client(page, server, app).get("/conversations").json()
    data: list[dict[str, Any]] = body["data"]
    return data


# ---- serving ----------------------------------------------------------------------


def test_page_and_assets_have_types_and_caching(server: LiveServer) -> None:
    with httpx.Client(base_url=origin(server)) as http:
        page = http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-cache"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        assert http.get("/", headers={"If-None-Match": page.headers["etag"]}).status_code == 304

        script = re.search(r'src="(/web/\w+/app\.js)"', page.text)
        style = re.search(r'href="(/web/\w+/style\.css)"', page.text)
        assert script and style, page.text
        js = http.get(script.group(1))
        assert js.headers["content-type"] == "text/javascript; charset=utf-8"
        assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "readFrames" in js.text
        # Modules import each other relatively, so they share the versioned folder.
        sibling = http.get(script.group(1).replace("app.js", "markdown.js"))
        assert sibling.status_code == 200 and "immutable" in sibling.headers["cache-control"]
        css = http.get(style.group(1))
        assert css.headers["content-type"] == "text/css; charset=utf-8"
        assert "prefers-color-scheme: dark" in css.text

        stale = http.get("/web/0123456789ab/app.js")
        assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
        missing = http.get(script.group(1).replace("app.js", "secrets.py"))
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        assert http.head("/").status_code == 200


# ---- connecting -------------------------------------------------------------------


def test_site_link_shows_the_app(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    expect(page.locator("#app-name")).to_have_text("assistant")
    expect(page.locator("#app-description")).to_contain_text("friendly general-purpose")
    expect(page.locator("#opening")).to_have_text("Hello! I'm your assistant. Ask me anything.")
    expect(page.locator("#starters .chip")).to_have_text(
        ["What can you do?", "Tell me a fun fact.", "Help me write a short poem."]
    )
    assert page.title() == "assistant"
    # The session is an HttpOnly cookie: the page's script cannot read it.
    assert page.evaluate("document.cookie") == ""
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/api"


def test_an_unknown_site_says_so_without_a_trap(page: Page, server: LiveServer) -> None:
    page.goto(origin(server) + "/chat/no-such-site")
    expect(page.locator("#site-notice")).to_be_visible()
    expect(page.locator("#site-notice-title")).to_have_text("This chat is not available")
    expect(page.locator("dialog[open]")).to_have_count(0)
    page.goto(origin(server) + "/")
    expect(page.locator("#site-notice-title")).to_have_text("No chat here")


# ---- chatting ---------------------------------------------------------------------


def test_streamed_answer_and_sidebar(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    page.fill("#query", "first line")
    page.press("#query", "Shift+Enter")  # a new line, not a send
    page.type("#query", "second line")
    assert page.input_value("#query") == "first line\nsecond line"
    expect(page.locator("#messages .msg")).to_have_count(0)

    page.press("#query", "Enter")
    expect(page.locator("#messages .msg.user .query")).to_have_text("first line\nsecond line")
    expect(last_answer(page)).to_have_text(ANSWER)
    wait_idle(page)
    expect(page.locator("#announcer")).to_have_text(ANSWER)  # read out once, when complete
    assert page.input_value("#query") == ""
    expect(page.locator("#starters")).to_be_hidden()

    [conversation] = api_conversations(page, server)
    item = page.locator(f'.conv[data-id="{conversation["id"]}"]')
    expect(item).to_have_class(re.compile(r"\bactive\b"))
    expect(item.locator(".conv-open")).to_have_attribute("aria-current", "true")

    send(page, "and again")
    expect(page.locator("#messages .msg.bot")).to_have_count(2)
    expect(last_answer(page)).to_have_text(ANSWER)
    assert len(api_conversations(page, server)) == 1  # the same conversation continued
    page.screenshot(path=SHOT)


def test_a_suggested_question_starts_the_chat(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    page.click("#starters .chip >> text=Tell me a fun fact.")
    expect(page.locator("#messages .msg.user .query")).to_have_text("Tell me a fun fact.")
    expect(last_answer(page)).to_have_text(ANSWER)


def test_stop_ends_the_answer_at_once(page: Page, server: LiveServer) -> None:
    server.slow(0.05)  # 200 tokens: ten seconds unless stopped
    open_chat(page, server)
    send(page, "talk for a while")
    expect(page.locator("#stop")).to_be_visible()
    expect(last_answer(page)).to_contain_text(ANSWER + "Hello")
    with page.expect_response(lambda r: r.url.endswith("/stop")) as stopped:
        page.click("#stop")
    assert stopped.value.json() == {"result": "success"}
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("#stop")).to_be_hidden()
    expect(page.locator("#messages .msg.bot .status").last).to_have_text("Stopped")

    shown = last_answer(page).inner_text()
    full = "".join(TOKENS * 40)
    assert len(shown) < len(full)

    # The server stopped too: the message is kept, stopped, with a partial answer.
    [conversation] = api_conversations(page, server)
    client = page_client(page, server)
    params = {"conversation_id": conversation["id"]}

    def stored() -> dict[str, Any]:
        message: dict[str, Any] = client.get("/messages", params=params).json()["data"][0]
        return message

    until(lambda: stored()["stopped"])  # the run records its end just after the stop
    partial = stored()["answer"]
    assert 0 < len(partial) < len(full)
    # Once the run has ended there is nothing left to stream, and the page took no more.
    assert last_answer(page).inner_text() == shown


def test_rename_and_delete_from_the_sidebar(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    send(page, "hello")
    wait_idle(page)
    [conversation] = api_conversations(page, server)
    item = page.locator(f'.conv[data-id="{conversation["id"]}"]')

    item.get_by_role("button", name=re.compile("^Rename")).click()
    field = page.get_by_label("New conversation name")
    field.fill("Trip planning")
    field.press("Enter")
    expect(item.locator(".conv-open")).to_have_text("Trip planning")
    assert api_conversations(page, server)[0]["name"] == "Trip planning"

    # Escape cancels a rename.
    item.get_by_role("button", name=re.compile("^Rename")).click()
    page.get_by_label("New conversation name").fill("never saved")
    page.get_by_label("New conversation name").press("Escape")
    expect(item.locator(".conv-open")).to_have_text("Trip planning")

    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name=re.compile("^Delete")).click()
    expect(item).to_have_count(0)
    expect(page.locator("#conversations-empty")).to_be_visible()
    expect(page.locator("#messages .msg")).to_have_count(0)  # back to a new chat
    assert api_conversations(page, server) == []


def test_reload_restores_the_conversation(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    send(page, "remember me")
    wait_idle(page)
    send(page, "and this")
    wait_idle(page)

    page.reload()  # the session cookie and the open conversation survive
    page.wait_for_selector("body.ready")
    expect(page.locator("#messages .msg.user .query")).to_have_text(["remember me", "and this"])
    expect(page.locator("#messages .msg.bot .answer")).to_have_text([ANSWER, ANSWER])
    expect(page.locator(".conv.active")).to_have_count(1)

    page.click("#new-chat")
    expect(page.locator("#messages .msg")).to_have_count(0)
    page.locator(".conv-open").first.click()
    expect(page.locator("#messages .msg.user .query")).to_have_text(["remember me", "and this"])


# ---- rendering and app features ---------------------------------------------------


def test_markdown_renders_safely(page: Page, server: LiveServer) -> None:
    server.registry.fake = FakeLLM(
        [
            "# Title\n\nSome **bold** and `<b>code</b>` with a [link](https://example.com)",
            " and a [bad one](javascript:alert(1)).\n\n",
            "- one\n- two\n\n1. first\n2. second\n\n",
            '```html\n<img src=x onerror="window.pwned=1">\n```\n\n',
            '<script>window.pwned=1</script><img src=x onerror="window.pwned=1">',
        ]
    )
    open_chat(page, server)
    send(page, "markdown please")
    wait_idle(page)
    answer = last_answer(page)
    expect(answer.locator("h3")).to_have_text("Title")
    expect(answer.locator("strong")).to_have_text("bold")
    expect(answer.locator("p code")).to_have_text("<b>code</b>")
    expect(answer.locator("a")).to_have_count(1)
    expect(answer.locator("a")).to_have_attribute("href", "https://example.com/")
    expect(answer.locator("a")).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(answer.locator("ul li")).to_have_text(["one", "two"])
    expect(answer.locator("ol li")).to_have_text(["first", "second"])
    expect(answer.locator("pre code")).to_have_text('<img src=x onerror="window.pwned=1">')
    # Raw HTML from the model is text, never markup.
    expect(answer.locator("script, img, b")).to_have_count(0)
    expect(answer).to_contain_text("<script>window.pwned=1</script>")
    assert page.evaluate("window.pwned") is None


def test_start_form_inputs_go_with_the_first_message(page: Page, server: LiveServer) -> None:
    open_chat(page, server, "forms")
    expect(page.locator("#opening")).to_have_text("Hi from forms")
    form = page.locator("#inputs-form")
    expect(form).to_be_visible()
    expect(page.get_by_label("City")).to_have_attribute("maxlength", "10")
    expect(page.get_by_label("Size").locator("option")).to_have_text(["—", "small", "large"])

    send(page, "hi")  # City is required: nothing is sent yet
    expect(page.locator("#messages .msg")).to_have_count(0)

    page.get_by_label("City").fill("Paris")
    page.get_by_label("Size").select_option("large")
    page.get_by_label("Count").fill("3")
    send(page, "hi")
    expect(last_answer(page)).to_have_text("city=Paris size=large last=hi")
    expect(form).to_be_hidden()  # inputs belong to the conversation's start


def test_file_upload_is_offered_and_sent(page: Page, server: LiveServer, tmp_path: Path) -> None:
    open_chat(page, server, "files_chat")
    expect(page.locator("#attach")).to_be_visible()
    notes = tmp_path / "notes.txt"
    notes.write_text("pack the umbrella", encoding="utf-8")
    page.set_input_files("#file-input", notes)
    expect(page.locator("#attachments .file-chip:not(.uploading)")).to_have_count(1)
    send(page, "what do my notes say?")
    expect(page.locator("#messages .msg.user .file-chip")).to_have_text("notes.txt")
    expect(last_answer(page)).to_contain_text("pack the umbrella")
    expect(page.locator("#attachments .file-chip")).to_have_count(0)


def test_attach_is_hidden_when_the_app_takes_no_files(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    expect(page.locator("#attach")).to_be_hidden()


def test_a_failed_run_shows_the_error(page: Page, server: LiveServer) -> None:
    open_chat(page, server, "failing")
    send(page, "go")
    error = page.locator("#messages .msg.bot .turn-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("division by zero")
    wait_idle(page)


def test_follow_up_suggestions_after_an_answer(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    send(page, "hello")
    followups = page.locator("#messages .followups .chip")
    expect(followups).to_have_text(FOLLOWUPS)
    followups.first.click()
    expect(page.locator("#messages .msg.user .query").last).to_have_text(FOLLOWUPS[0])
    expect(page.locator("#messages .msg.bot")).to_have_count(2)
    wait_idle(page)
    expect(page.locator("#messages .msg.bot").first.locator(".followups")).to_have_count(0)


def test_an_error_envelope_is_shown(page: Page, server: LiveServer, tmp_path: Path) -> None:
    open_chat(page, server, "files_chat")  # its DSL allows files of at most 1 MB
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (2 * 1024 * 1024))
    page.set_input_files("#file-input", big)
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error-text")).to_contain_text("(file_too_large)")
    expect(page.locator("#attachments .file-chip")).to_have_count(0)
    page.click("#error-close")
    expect(page.locator("#error")).to_be_hidden()
