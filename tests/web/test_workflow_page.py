"""A workflow app's site in Chromium: its input form with a Run button, a streamed run with
its node trace, stop, outputs as text, JSON and files, a failed run's error, and the
browser's past runs (another browser sees none of them). Against a live server with the
fake model; every wait is on what the page shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.api.conftest import ANSWER, TOKENS, LiveServer
from tests.web.conftest import axe_violations, new_context, open_chat, page_client, shot, until

pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)

SHAPES_DSL = """
app: {name: shapes, mode: workflow, description: Outputs of every kind, icon: '🧪'}
kind: app
version: 0.3.0
workflow:
  conversation_variables: []
  environment_variables: []
  features: {}
  graph:
    edges:
    - {id: e1, source: start, sourceHandle: source, target: calc, targetHandle: target}
    - {id: e2, source: calc, sourceHandle: source, target: end, targetHandle: target}
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables:
        - {type: file, variable: doc, label: Document, required: true,
           allowed_file_types: [document], allowed_file_extensions: [],
           allowed_file_upload_methods: [local_file]}
        - {type: number, variable: n, label: Divisor, required: true}
    - id: calc
      data:
        type: template-transform
        title: Divide
        template: '# One over {{ n }}'
        variables:
        - {variable: n, value_selector: [start, n]}
    - id: end
      data:
        type: end
        title: End
        outputs:
        - {variable: doc, value_selector: [start, doc]}
        - {variable: n, value_selector: [start, n]}
        - {variable: heading, value_selector: [calc, output]}
"""

FAILING_DSL = """
app: {name: divider, mode: workflow, description: Fails on zero, icon: '➗'}
kind: app
version: 0.3.0
workflow:
  conversation_variables: []
  environment_variables: []
  features: {}
  graph:
    edges:
    - {id: e1, source: start, sourceHandle: source, target: calc, targetHandle: target}
    - {id: e2, source: calc, sourceHandle: source, target: end, targetHandle: target}
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables:
        - {type: number, variable: n, label: Divisor, required: true}
    - id: calc
      data:
        type: template-transform
        title: Divide
        template: '{{ 1 / n }}'
        variables:
        - {variable: n, value_selector: [start, n]}
    - id: end
      data:
        type: end
        title: End
        outputs:
        - {variable: result, value_selector: [calc, output]}
"""


@pytest.fixture
def context(scan_context: BrowserContext) -> BrowserContext:
    """Every page here is scanned with axe-core."""
    return scan_context


def test_run_a_workflow_and_find_it_again(page: Page, server: LiveServer) -> None:
    open_chat(page, server, "workflow")
    expect(page.locator("#inputs-title")).to_have_text("Inputs")
    expect(page.locator("#composer")).to_be_hidden()
    expect(page.locator("#runs-empty")).to_have_text("No runs yet.")
    topic = page.get_by_label("Topic")
    expect(topic).to_be_visible()
    shot(page, "workflow-form")
    assert axe_violations(page) == []

    runs: list[str] = []
    page.on("request", lambda r: runs.append(r.url) if r.url.endswith("/workflows/run") else None)
    page.get_by_role("button", name="Run", exact=True).click()  # the topic is required
    assert topic.evaluate("e => e.validationMessage") != ""
    expect(page.locator("#workflow-result")).to_be_hidden()
    assert runs == []

    topic.fill("tides")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-status")).to_have_text(re.compile(r"^Succeeded"))
    outputs = page.locator("#run-outputs .output")
    expect(outputs.locator(".output-name")).to_have_text(["text", "topic", "docs"])
    expect(outputs.nth(0).locator(".output-text")).to_have_text(ANSWER)
    expect(outputs.nth(1).locator(".output-text")).to_have_text("tides")
    trace = page.locator("#run-trace .trace")
    expect(trace.locator("> summary")).to_have_text("Workflow steps (4)")
    trace.locator("> summary").click()
    expect(trace.locator(".step .step-title")).to_have_text(["Start", "LLM", "Extract", "End"])
    expect(page.locator("#runs .run")).to_have_count(1)
    expect(page.locator("#runs .run-name")).to_have_text("tides")
    expect(page.locator("#runs .run")).to_have_class(re.compile(r"\bactive\b"))
    shot(page, "workflow-result")
    assert axe_violations(page) == []

    # A reload forgets nothing: the run is listed and opens with its outputs and trace.
    page.reload()
    page.wait_for_selector("body.ready")
    expect(page.locator("#workflow-result")).to_be_hidden()
    page.locator("#runs .run-open").click()
    expect(page.locator("#run-status")).to_have_text(re.compile(r"^Succeeded"))
    expect(page.locator("#run-outputs .output-text").first).to_have_text(ANSWER)
    page.locator("#run-inputs > summary").click()
    expect(page.locator("#run-inputs pre")).to_contain_text('"topic": "tides"')
    stored = page.locator("#run-trace .trace")
    stored.locator("> summary").click()
    expect(stored.locator(".step .step-title")).to_have_text(["Start", "LLM", "Extract", "End"])

    # Another browser has its own (empty) list, and "New run" clears the result.
    page.click("#new-chat")
    expect(page.locator("#workflow-result")).to_be_hidden()
    expect(page.locator("#runs .run.active")).to_have_count(0)


def test_the_apps_own_files_go_with_the_run(page: Page, server: LiveServer, tmp_path: Path) -> None:
    open_chat(page, server, "workflow")  # takes documents as `sys.files`
    notes = tmp_path / "notes.txt"
    notes.write_text("bring the map", encoding="utf-8")
    page.get_by_label("Topic").fill("maps")
    with page.expect_response(lambda r: r.url.endswith("/files/upload")):
        page.set_input_files("#file-input", notes)
    expect(page.locator("#workflow-files .file-chip")).to_have_text("notes.txt")
    expect(page.get_by_role("button", name="Remove notes.txt")).to_be_visible()
    shot(page, "workflow-files")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-status")).to_have_text(re.compile(r"^Succeeded"))
    docs = page.locator("#run-outputs .output").filter(has_text="docs")
    expect(docs.locator(".output-json")).to_contain_text("bring the map")
    expect(page.locator("#workflow-files .file-chip")).to_have_count(0)  # sent with that run
    assert axe_violations(page) == []


def test_another_browser_sees_none_of_the_runs(browser: Browser, server: LiveServer) -> None:
    first, second = new_context(browser), new_context(browser)
    try:
        page = first.new_page()
        open_chat(page, server, "workflow")
        page.get_by_label("Topic").fill("mine")
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.locator("#runs .run")).to_have_count(1)
        other = second.new_page()
        open_chat(other, server, "workflow")
        expect(other.locator("#runs-empty")).to_be_visible()
        expect(other.locator("#runs .run")).to_have_count(0)
    finally:
        first.close()
        second.close()


def test_stop_a_running_workflow(page: Page, server: LiveServer) -> None:
    open_chat(page, server, "workflow")
    page.get_by_label("Topic").fill("a short one")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#runs .run")).to_have_count(1)
    server.slow(0.05)  # 200 tokens: ten seconds unless stopped
    page.locator("#input-topic").fill("a long one")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-stream")).to_contain_text("Hello there")  # text as it streams
    # While it runs, the result stays in view: a past run does not replace it.
    page.locator("#runs .run-open").first.click()
    expect(page.locator("#error-text")).to_contain_text("A run is going")
    expect(page.locator("#run-status")).to_have_text(re.compile(r"^Running"))
    stop = page.get_by_role("button", name="Stop", exact=True)
    with page.expect_response(lambda r: r.url.endswith("/stop")):
        stop.click()
    expect(page.locator("#run-status")).to_have_text("Stopped")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_visible()
    client = page_client(page, server, "workflow")
    until(lambda: client.get("/workflows/runs").json()["data"][0]["status"] == "stopped")


def test_a_reload_mid_run_picks_the_run_up_again(page: Page, server: LiveServer) -> None:
    server.slow(0.03)  # 200 tokens: six seconds
    full = "".join(TOKENS * 40)
    open_chat(page, server, "workflow")
    page.locator("#input-topic").fill("a long one")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-stream")).to_contain_text("Hello there")
    page.reload()
    page.wait_for_selector("body.ready")
    # The same run, streaming again from its start, then finished as if never left.
    expect(page.locator("#runs .run.active .run-name")).to_have_text("a long one")
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    expect(page.locator("#run-status")).to_have_text(re.compile(r"^Succeeded"))
    expect(page.locator("#run-outputs .output-text").first).to_have_text(full)
    expect(page.locator("#runs .run")).to_have_count(1)
    # Finished: a later reload does not try again.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/events" in r.url else None)
    page.reload()
    page.wait_for_selector("body.ready")
    expect(page.locator("#runs .run-meta")).to_contain_text("Succeeded")
    expect(page.locator("#workflow-result")).to_be_hidden()
    assert requests == []


def test_outputs_as_files_json_and_markdown(page: Page, server: LiveServer, tmp_path: Path) -> None:
    server.call(server.services.apps.import_dsl(SHAPES_DSL))
    open_chat(page, server, "shapes")
    notes = tmp_path / "notes.txt"
    notes.write_text("bring the map", encoding="utf-8")
    page.get_by_label("Document").set_input_files(notes)
    expect(page.locator(".input-files li")).to_have_text("notes.txt")
    page.get_by_label("Divisor").fill("4")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-status")).to_have_text(re.compile(r"^Succeeded"))
    outputs = page.locator("#run-outputs .output")
    expect(outputs.locator(".output-name")).to_have_text(["doc", "n", "heading"])
    expect(outputs.nth(0).locator(".output-files li")).to_have_text("notes.txt")
    expect(page.locator(".input-files")).to_have_text("notes.txt")  # nothing stray beside it
    expect(outputs.nth(1).locator(".output-json")).to_have_text("4")
    expect(outputs.nth(2).get_by_role("heading", name="One over 4")).to_be_visible()
    shot(page, "workflow-outputs")
    assert axe_violations(page) == []


def test_a_failed_run_says_why(page: Page, server: LiveServer) -> None:
    server.call(server.services.apps.import_dsl(FAILING_DSL))
    open_chat(page, server, "divider")
    page.get_by_label("Divisor").fill("0")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-status")).to_have_text(re.compile(r"^Failed"))
    expect(page.locator("#run-error")).to_contain_text("division by zero")
    trace = page.locator("#run-trace .trace")
    trace.locator("> summary").click()
    expect(trace.locator(".step.failed .step-title")).to_have_text("Divide")
    expect(page.locator("#runs .run-meta")).to_contain_text("Failed")
    shot(page, "workflow-failed")


def test_narrow_and_dark(page: Page, server: LiveServer) -> None:
    page.set_viewport_size({"width": 390, "height": 780})
    page.emulate_media(color_scheme="dark")
    open_chat(page, server, "workflow")
    page.get_by_label("Topic").fill("night")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-status")).to_have_text(re.compile(r"^Succeeded"))
    shot(page, "workflow-narrow-dark")
    assert axe_violations(page) == []
    toggle = page.get_by_role("button", name="Show past runs")
    toggle.click()
    expect(page.locator("#sidebar")).to_be_in_viewport(ratio=1)  # slid all the way in
    expect(page.locator("#runs .run-name")).to_have_text(["night"])
    shot(page, "workflow-narrow-drawer")
    assert axe_violations(page) == []
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Show past runs")).to_have_attribute(
        "aria-expanded", "false"
    )
