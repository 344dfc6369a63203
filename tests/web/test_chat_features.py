"""The chat page's answer tools and the fixes of the chat-page review (issue 18), each
driven in Chromium against a live server with the fake model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from chatflow.providers.fake import FakeLLM
from chatflow.store.models import Message
from tests.api.conftest import ANSWER, TOKENS, LiveServer
from tests.web.conftest import new_context, open_chat, origin, page_client, shot, until

pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)

FILE_FORM_DSL = """
app: {name: file_form, mode: advanced-chat, description: A required file input, icon: '📄'}
kind: app
version: 0.3.0
workflow:
  conversation_variables: []
  environment_variables: []
  features: {}
  graph:
    edges:
    - {id: e1, source: start, sourceHandle: source, target: extract, targetHandle: target}
    - {id: e2, source: extract, sourceHandle: source, target: answer, targetHandle: target}
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables:
        - {type: file, variable: doc, label: Document, required: true,
           allowed_file_types: [document], allowed_file_extensions: [],
           allowed_file_upload_methods: [local_file]}
    - id: extract
      data: {type: document-extractor, title: Extract, variable_selector: [start, doc],
             is_array_file: false}
    - id: answer
      data: {type: answer, title: Answer, answer: 'doc={{#extract.text#}}'}
"""


def send(page: Page, text: str) -> None:
    page.fill("#query", text)
    page.press("#query", "Enter")


def last_answer(page: Page) -> Any:
    return page.locator("#messages .msg.bot .answer").last


def wait_idle(page: Page) -> None:
    expect(page.locator(".bubble.streaming")).to_have_count(0)
    expect(page.locator("#send")).to_be_visible()


def answer_button(page: Page, name: str) -> Any:
    return page.locator("#messages .msg.bot").last.get_by_role("button", name=name, exact=True)


# ---- answer tools -------------------------------------------------------------------


def test_like_and_dislike_with_a_comment(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    send(page, "hello")
    wait_idle(page)
    like = answer_button(page, "Like this answer")
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    client = page_client(page, server)
    [conversation] = client.get("/conversations").json()["data"]

    def rating() -> Any:
        params = {"conversation_id": conversation["id"]}
        return client.get("/messages", params=params).json()["data"][0]["feedback"]

    assert rating() == {"rating": "like"}
    answer_button(page, "Dislike this answer").click()
    expect(page.locator("#feedback-dialog")).to_be_visible()
    page.fill("#feedback-input", "It ignored my question")
    shot(page, "chat-feedback-dialog")
    page.click("#feedback-form button[type=submit]")
    dislike = answer_button(page, "Dislike this answer")
    expect(dislike).to_have_attribute("aria-pressed", "true")
    expect(answer_button(page, "Like this answer")).to_have_attribute("aria-pressed", "false")
    assert rating() == {"rating": "dislike"}
    feedbacks = server.client().get("/app/feedbacks").json()["data"]
    assert any(f["content"] == "It ignored my question" for f in feedbacks)
    # The rating survives a reload.
    page.reload()
    page.wait_for_selector("body.ready")
    expect(answer_button(page, "Dislike this answer")).to_have_attribute("aria-pressed", "true")


def test_copy_regenerate_and_edit(browser: Browser, server: LiveServer) -> None:
    context = new_context(browser)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin(server))
    page = context.new_page()
    try:
        open_chat(page, server)
        send(page, "first question")
        wait_idle(page)
        answer_button(page, "Copy answer").click()
        expect(page.locator("#announcer")).to_have_text("Answer copied")
        assert page.evaluate("navigator.clipboard.readText()") == ANSWER

        answer_button(page, "Regenerate answer").click()
        expect(page.locator("#messages .msg.user .query")).to_have_text(
            ["first question", "first question"]
        )
        wait_idle(page)
        # Only the last answer offers to regenerate.
        expect(page.get_by_role("button", name="Regenerate answer")).to_have_count(1)

        page.locator("#messages .msg.user").first.get_by_role(
            "button", name="Edit and resend"
        ).click()
        expect(page.locator("#query")).to_have_value("first question")
        expect(page.locator("#query")).to_be_focused()
        page.fill("#query", "first question, sharper")
        page.press("#query", "Enter")
        expect(page.locator("#messages .msg.user .query").last).to_have_text(
            "first question, sharper"
        )
        expect(last_answer(page)).to_have_text(ANSWER)
    finally:
        context.close()


def test_citations_from_retriever_resources(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    send(page, "what do the docs say?")
    wait_idle(page)
    client = page_client(page, server)
    [conversation] = client.get("/conversations").json()["data"]
    [message] = client.get("/messages", params={"conversation_id": conversation["id"]}).json()[
        "data"
    ]
    resources = [
        {"position": 1, "dataset_name": "Handbook", "document_name": "travel.md",
         "score": 0.87, "content": "Pack an umbrella in April."},
    ]  # fmt: skip

    async def cite() -> None:
        async with server.services.db.session() as session:
            row = await session.get(Message, message["id"])
            assert row is not None
            row.message_metadata = {**row.message_metadata, "retriever_resources": resources}

    server.call(cite())
    page.reload()
    page.wait_for_selector("body.ready")
    citations = page.locator("#messages .citations")
    expect(citations.locator("summary")).to_have_text("Citations: 1 source")
    citations.locator("summary").click()
    expect(citations.locator(".citation strong")).to_have_text("travel.md")
    expect(citations.locator(".citation-text")).to_have_text("Pack an umbrella in April.")


def test_run_trace_follows_the_sites_setting(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    send(page, "hello")
    wait_idle(page)
    trace = page.locator("#messages .trace")
    expect(trace.locator("> summary")).to_have_text("Workflow steps (3)")
    trace.locator("> summary").click()
    steps = trace.locator(".step")
    expect(steps.locator(".step-title")).to_have_text(["Start", "LLM", "Answer"])
    expect(steps.locator(".step-status")).to_have_text([" succeeded"] * 3)
    steps.nth(1).locator("summary").click()
    expect(steps.nth(1)).to_contain_text("Outputs")
    expect(steps.nth(1).locator("pre").last).to_contain_text(ANSWER)
    # Reloaded from history, the trace is fetched when first opened.
    page.reload()
    page.wait_for_selector("body.ready")
    stored = page.locator("#messages .trace")
    expect(stored.locator("> summary")).to_have_text("Workflow steps")
    stored.locator("> summary").click()
    expect(stored.locator("> summary")).to_have_text("Workflow steps (3)")
    expect(stored.locator(".step .step-title")).to_have_text(["Start", "LLM", "Answer"])

    sites = server.services.sites
    server.call(sites.configure("assistant", show_workflow_steps=False))
    try:
        page.click("#new-chat")
        page.reload()
        page.wait_for_selector("body.ready")
        send(page, "again")
        wait_idle(page)
        expect(page.locator("#messages .trace")).to_have_count(0)
    finally:
        server.call(sites.configure("assistant", show_workflow_steps=True))


# ---- the review's findings ---------------------------------------------------------


def test_a_failing_conversation_list_keeps_its_error(page: Page, server: LiveServer) -> None:
    def fail(route: Route) -> None:
        route.fulfill(
            status=500,
            json={"code": "internal_server_error", "message": "list broke", "status": 500},
        )

    page.route(re.compile(r"/api/conversations\?"), fail)
    open_chat(page, server)
    expect(page.locator("#error-text")).to_contain_text("list broke")
    expect(page.locator("#conversations-failed")).to_be_visible()
    expect(page.locator("#conversations-empty")).to_be_hidden()
    page.unroute(re.compile(r"/api/conversations\?"))
    page.click("#conversations-retry")
    expect(page.locator("#conversations-failed")).to_be_hidden()
    expect(page.locator("#conversations-empty")).to_be_visible()
    expect(page.locator("#error")).to_be_visible()  # still there until dismissed


def test_switching_away_mid_answer_resumes_it(page: Page, server: LiveServer) -> None:
    server.slow(0.02)  # 200 tokens: about four seconds
    full = "".join(TOKENS * 40)
    open_chat(page, server)
    send(page, "a long story")
    # The new conversation is in the sidebar at once, before its answer ends.
    expect(page.locator(".conv")).to_have_count(1)
    expect(last_answer(page)).to_contain_text("Hello there")
    page.click("#new-chat")
    expect(page.locator("#messages .msg")).to_have_count(0)
    page.locator(".conv-open").first.click()
    expect(last_answer(page)).to_have_text(full, timeout=30_000)
    wait_idle(page)
    expect(page.locator("#messages .msg.bot .status")).to_have_text([""])
    expect(page.locator("#messages .msg.user .query")).to_have_text(["a long story"])


def test_new_conversation_named_once_the_server_names_it(page: Page, server: LiveServer) -> None:
    # The name comes from the model after the answer, taking seconds here; the sidebar
    # shows the entry at once and picks the name up when it is there.
    server.registry.fake = FakeLLM(TOKENS * 10, 0.05)
    open_chat(page, server)
    send(page, "name me")
    item = page.locator(".conv-open")
    expect(item).to_have_text("New conversation")
    expect(item).to_have_text(re.compile(r"^Hello there"), timeout=30_000)


def test_a_failed_first_turn_is_named_after_its_question(page: Page, server: LiveServer) -> None:
    open_chat(page, server, "failing")
    send(page, "divide things")
    expect(page.locator("#messages .turn-error")).to_be_visible()
    expect(page.locator(".conv-open")).to_have_text("divide things")


def test_long_messages_collapse(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    send(page, "\n".join(f"line {i}" for i in range(40)))
    wait_idle(page)
    query = page.locator("#messages .msg.user .query")
    expect(query).to_have_class(re.compile(r"\bcollapsed\b"))
    toggle = page.get_by_role("button", name="Show more")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    assert query.evaluate("e => e.clientHeight < e.scrollHeight")
    toggle.click()
    expect(page.get_by_role("button", name="Show less")).to_have_attribute("aria-expanded", "true")
    expect(query).not_to_have_class(re.compile(r"\bcollapsed\b"))


def test_disallowed_file_types_are_refused(page: Page, server: LiveServer, tmp_path: Path) -> None:
    open_chat(page, server, "files_chat")  # documents and images only
    tool = tmp_path / "tool.exe"
    tool.write_bytes(b"MZ")
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if "/files/upload" in r.url else None)
    page.set_input_files("#file-input", tool)
    expect(page.locator("#error-text")).to_contain_text("tool.exe: this type of file")
    expect(page.locator("#attachments .file-chip")).to_have_count(0)
    assert uploads == []


def test_required_file_inputs(page: Page, server: LiveServer, tmp_path: Path) -> None:
    server.call(server.services.apps.import_dsl(FILE_FORM_DSL))
    open_chat(page, server, "file_form")
    field = page.get_by_label("Document")
    expect(field).to_have_attribute("type", "file")
    send(page, "read it")  # the required file is missing: nothing is sent
    expect(page.locator("#messages .msg")).to_have_count(0)
    assert field.evaluate("e => e.validationMessage") == "Choose a file."
    notes = tmp_path / "notes.txt"
    notes.write_text("bring the map", encoding="utf-8")
    field.set_input_files(notes)
    expect(page.locator(".input-files li")).to_have_text("notes.txt")
    send(page, "read it")
    expect(last_answer(page)).to_have_text("doc=bring the map")


def test_escape_closes_the_drawer(page: Page, server: LiveServer) -> None:
    page.set_viewport_size({"width": 390, "height": 780})
    open_chat(page, server)
    page.click("#toggle-sidebar")
    expect(page.locator("body")).to_have_class(re.compile(r"\bsidebar-open\b"))
    page.keyboard.press("Escape")  # focus is on the menu button, outside the drawer
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bsidebar-open\b"))
    expect(page.locator("#toggle-sidebar")).to_have_attribute("aria-expanded", "false")


def test_a_stopped_answer_keeps_its_label_after_reload(page: Page, server: LiveServer) -> None:
    server.slow(0.05)
    open_chat(page, server)
    send(page, "talk for a while")
    expect(last_answer(page)).to_contain_text("Hello there")
    with page.expect_response(lambda r: r.url.endswith("/stop")):
        page.click("#stop")
    expect(page.locator("#messages .msg.bot .status")).to_have_text(["Stopped"])
    client = page_client(page, server)
    [conversation] = client.get("/conversations").json()["data"]
    params = {"conversation_id": conversation["id"]}
    # The run records its end just after the stop answers.
    until(lambda: client.get("/messages", params=params).json()["data"][0]["stopped"])
    page.reload()
    page.wait_for_selector("body.ready")
    expect(page.locator("#messages .msg.bot .status")).to_have_text(["Stopped"])


def test_more_than_a_hundred_conversations_page_in(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    client = page_client(page, server)
    for i in range(102):
        body = {"query": f"q{i}", "inputs": {}, "auto_generate_name": False}
        with client.stream("POST", "/chat-messages", json=body) as response:
            response.read()
    listed = client.get("/conversations", params={"limit": 3}).json()["data"]
    for n, conversation in enumerate(listed):
        client.post(f"/conversations/{conversation['id']}/name", json={"name": f"Trip {n}"})
    page.reload()
    page.wait_for_selector("body.ready")
    expect(page.locator(".conv")).to_have_count(100)
    page.click("#conversations-more")
    expect(page.locator(".conv")).to_have_count(102)
    expect(page.locator("#conversations-more")).to_be_hidden()
    page.fill("#conv-search", "trip")
    expect(page.locator(".conv-open")).to_have_text(["Trip 2", "Trip 1", "Trip 0"])
    page.fill("#conv-search", "no such name")
    expect(page.locator("#conversations-empty")).to_have_text("No conversation matches.")


def test_read_aloud_and_dictation_when_the_app_enables_them(page: Page, server: LiveServer) -> None:
    open_chat(page, server)  # the assistant has neither
    expect(page.locator("#mic")).to_be_hidden()
    open_chat(page, server, "speech")
    send(page, "hello")
    wait_idle(page)
    speak = answer_button(page, "Read aloud")
    with page.expect_response(lambda r: r.url.endswith("/api/text-to-audio")) as spoken:
        speak.click()
    assert spoken.value.ok and spoken.value.headers["content-type"].startswith("audio/")
    expect(page.locator("#announcer")).to_have_text("Reading the answer aloud")

    mic = page.get_by_role("button", name="Dictate a message")
    mic.click()
    expect(page.get_by_role("button", name="Stop dictating")).to_have_attribute(
        "aria-pressed", "true"
    )
    with page.expect_response(lambda r: r.url.endswith("/api/audio-to-text")) as heard:
        page.get_by_role("button", name="Stop dictating").click()
    # The fake microphone plays a tone: the WAV decodes; any words heard go to the box.
    assert heard.value.status == 200, heard.value.text()
    expect(page.locator("#query")).to_have_value(heard.value.json()["text"])
    expect(mic).to_have_attribute("aria-pressed", "false")


def test_trace_folds_iteration_steps_under_their_iteration(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    script = page.locator("script[type=module]").get_attribute("src")
    assert script is not None
    rendered = page.evaluate(
        """async (src) => {
          const { Trace } = await import(src.replace("app.js", "extras.js"));
          const trace = new Trace();
          const frame = (event, data) => trace.add({ event, data });
          frame("node_started",
                { id: "a", node_id: "start", node_type: "start", title: "Start" });
          frame("node_finished",
                { id: "a", node_id: "start", status: "succeeded", elapsed_time: 0.01 });
          frame("iteration_started",
                { id: "b", node_id: "loop", node_type: "iteration", title: "Each" });
          for (const [id, n] of [["c", 1], ["d", 2]]) {
            frame("node_started", { id, node_id: "inner", node_type: "llm", title: `Inner ${n}`,
                                    iteration_id: "loop" });
            frame("node_finished", { id, node_id: "inner", status: "failed", error: "boom",
                                     iteration_id: "loop" });
          }
          frame("iteration_completed", { id: "b", node_id: "loop", status: "succeeded",
                                         outputs: { output: [1, 2] } });
          const box = document.createElement("div");
          trace.render(box);
          const path = ":scope > details > ol > li > details > summary .step-title";
          const top = [...box.querySelectorAll(path)];
          return {
            summary: box.querySelector("summary").textContent,
            top: top.map((e) => e.textContent),
            folded: box.querySelector(".fold > summary").textContent,
            inner: [...box.querySelectorAll(".fold .step-title")].map((e) => e.textContent),
            errors: [...box.querySelectorAll(".fold .step-error")].map((e) => e.textContent),
          };
        }""",
        script,
    )
    assert rendered == {
        "summary": "Workflow steps (2)",
        "top": ["Start", "Each"],
        "folded": "2 steps inside",
        "inner": ["Inner 1", "Inner 2"],
        "errors": ["boom", "boom"],
    }


def test_trace_shows_agent_rounds_and_tool_calls(page: Page, server: LiveServer) -> None:
    open_chat(page, server)
    script = page.locator("script[type=module]").get_attribute("src")
    assert script is not None
    rendered = page.evaluate(
        """async (src) => {
          const { Trace } = await import(src.replace("app.js", "extras.js"));
          const trace = new Trace();
          const frame = (event, data) => trace.add({ event, data });
          frame("node_started", { id: "x", node_id: "agent", node_type: "agent", title: "Agent" });
          const log = (id, label, status, parent_id = null) =>
            frame("agent_log", { node_execution_id: "x", id, label, status, parent_id, data: {} });
          log("r1", "ROUND 1", "start");
          log("t1", "Thought", "success", "r1");
          log("c1", "CALL current_time", "start", "r1");
          log("c1", "CALL current_time", "success", "r1");
          log("r1", "ROUND 1", "success");
          log("r2", "ROUND 2", "success");
          frame("node_finished", { id: "x", node_id: "agent", status: "succeeded" });
          const box = document.createElement("div");
          trace.render(box);
          const rounds = box.querySelectorAll(".step > details > div > .agent-log > li");
          return [...rounds].map((li) => [
            li.querySelector(".agent-label").textContent,
            [...li.querySelectorAll(":scope > ol .agent-label")].map((e) => e.textContent),
            li.className,
          ]);
        }""",
        script,
    )
    assert rendered == [
        ["ROUND 1", ["Thought", "CALL current_time"], "agent-entry success"],
        ["ROUND 2", [], "agent-entry success"],
    ]
