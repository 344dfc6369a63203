"""The operator console at `/console`: sign-in, CSRF, apps (DSL import by drag and drop,
the graph, the chat site), API keys, conversations and workflow runs, in Chromium and
over HTTP, plus an accessibility scan."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.api.conftest import ANSWER, LiveServer
from tests.web.conftest import axe_violations, origin, shot
from tests.web.console_support import PASSWORD, USER, console, operator, scan_context, sign_in

__all__ = ["console", "operator", "scan_context"]

pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)

DROPPED_DSL = """
app: {name: dropped, mode: advanced-chat, description: Imported by drag and drop}
kind: app
version: 0.3.0
workflow:
  conversation_variables: []
  environment_variables: []
  features: {}
  graph:
    edges:
    - {id: e1, source: start, sourceHandle: source, target: answer, targetHandle: target}
    nodes:
    - id: start
      position: {x: 0, y: 0}
      data: {type: start, title: Begin, variables: []}
    - id: answer
      position: {x: 320, y: 40}
      data: {type: answer, title: Reply, answer: 'echo {{#sys.query#}}'}
"""


def test_login_cookie_and_wrong_passwords(server: LiveServer, operator: tuple[str, str]) -> None:
    with httpx.Client(base_url=origin(server) + "/console/api") as client:
        assert client.get("/apps").json()["code"] == "console_login_required"
        wrong = client.post("/login", json={"username": USER, "password": "nope"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
        unknown = client.post("/login", json={"username": "ghost", "password": PASSWORD})
        assert unknown.json() == wrong.json()  # no hint which of the two was wrong
        ok = client.post("/login", json={"username": USER, "password": PASSWORD})
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
        assert PASSWORD not in ok.text
        assert client.get("/apps").status_code == 200


def test_writes_need_the_csrf_token_and_the_same_origin(console: httpx.Client) -> None:
    app_id = console.get("/apps").json()["data"][0]["id"]
    token = console.headers.pop("X-CSRF-Token")
    refused = console.post(f"/apps/{app_id}/keys")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert (
        console.post(f"/apps/{app_id}/keys", headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    )
    console.headers["X-CSRF-Token"] = token
    evil = console.post(f"/apps/{app_id}/keys", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert console.post("/logout").status_code == 204
    assert console.get("/apps").status_code == 401


def test_metrics_count_runs_errors_and_tokens(server: LiveServer, console: httpx.Client) -> None:
    apps = {a["name"]: a["id"] for a in console.get("/apps").json()["data"]}
    before = console.get(f"/apps/{apps['failing']}/metrics", params={"days": 3}).json()["days"]
    chat = server.web_client("failing")
    with chat.stream("POST", "/chat-messages", json={"query": "go", "inputs": {}}) as r:
        r.read()
    after = console.get(f"/apps/{apps['failing']}/metrics", params={"days": 3}).json()["days"]
    assert len(after) == 3
    assert after[-1]["runs"] == before[-1]["runs"] + 1
    assert after[-1]["errors"] == before[-1]["errors"] + 1
    assert console.get(f"/apps/{apps['failing']}/metrics", params={"days": "x"}).status_code == 400


def test_a_revoked_key_stops_at_once(server: LiveServer, console: httpx.Client) -> None:
    app = next(a for a in console.get("/apps").json()["data"] if a["name"] == "assistant")
    created = console.post(f"/apps/{app['id']}/keys").json()
    with httpx.Client(base_url=server.base_url) as api:
        bearer = {"Authorization": f"Bearer {created['token']}"}
        assert api.get("/info", headers=bearer).status_code == 200
        assert console.delete(f"/apps/{app['id']}/keys/{created['id']}").status_code == 204
        assert api.get("/info", headers=bearer).status_code == 401
    listed = next(a for a in console.get("/apps").json()["data"] if a["id"] == app["id"])
    assert created["id"] not in [k["id"] for k in listed["keys"]]
    assert all(not k.get("token") for k in listed["keys"])  # tokens are never listed


def test_console_in_the_browser(
    scan_context: BrowserContext, server: LiveServer, operator: tuple[str, str]
) -> None:
    # Something to look at: a conversation (and so a run) on the assistant.
    chat = server.web_client()
    with chat.stream("POST", "/chat-messages", json={"query": "hi", "inputs": {}}) as r:
        r.read()
    page = scan_context.new_page()
    page.goto(origin(server) + "/console")
    expect(page.locator("#login-view")).to_be_visible()
    shot(page, "console-login")
    login_problems = axe_violations(page)
    sign_in(page, server)

    # Import by drag and drop.
    transfer = page.evaluate_handle(
        """(text) => { const dt = new DataTransfer();
             dt.items.add(new File([text], "dropped.yml", {type: "application/x-yaml"}));
             return dt; }""",
        DROPPED_DSL,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#import-result")).to_contain_text("Created dropped.")
    expect(page.locator("#import-result")).to_contain_text("Its API key (shown once): app-")
    expect(page.locator("#app-title")).to_have_text("dropped")
    graph = page.locator("#graph svg")
    expect(graph.locator(".node")).to_have_count(2)
    expect(graph.locator(".edge")).to_have_count(1)
    expect(graph).to_have_attribute("aria-label", re.compile(r"Begin \(start\), Reply \(answer\)"))
    expect(page.locator("#site-enabled")).to_be_checked()
    site_url = page.locator("#site-link").inner_text()
    assert re.fullmatch(rf"{re.escape(origin(server))}/chat/[\w-]+", site_url)
    shot(page, "console-app-graph")

    # Withdraw the site, and it is gone for browsers.
    page.locator("#site-enabled").uncheck()
    expect(page.locator("#site-link")).to_be_hidden()
    code = site_url.rsplit("/", 1)[1]
    gone = httpx.get(f"{origin(server)}/api/site", headers={"X-App-Code": code})
    assert gone.status_code == 404
    page.locator("#site-enabled").check()
    expect(page.locator("#site-link")).to_be_visible()

    # Operators only: a browser without a console session cannot open a session there.
    def saved(response: Any) -> bool:
        return bool(response.url.endswith("/site") and response.request.method == "PUT")

    with page.expect_response(saved):
        page.locator("#site-operator-login").check()
    closed = httpx.post(f"{origin(server)}/api/passport", json={}, headers={"X-App-Code": code})
    assert closed.status_code == 401 and closed.json()["code"] == "operator_login_required"
    with page.expect_response(saved):
        page.locator("#site-operator-login").uncheck()
    opened = httpx.post(f"{origin(server)}/api/passport", json={}, headers={"X-App-Code": code})
    assert opened.status_code == 200

    # Keys: create (shown once) and revoke.
    page.get_by_role("tab", name="API keys").click()
    expect(page.locator("#keys tr")).to_have_count(1)
    page.get_by_role("button", name="Create API key").click()
    expect(page.locator("#new-key code")).to_have_text(re.compile(r"^app-\w{24}$"))
    expect(page.locator("#keys tr")).to_have_count(2)
    shot(page, "console-keys")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#keys tr").first.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.locator("#keys tr")).to_have_count(1)

    # The assistant: its metrics, its conversation and its run with the node timeline.
    page.get_by_role("button", name=re.compile("assistant$")).click()
    expect(page.locator("#app-title")).to_have_text("assistant")
    totals = page.locator("#metrics .metric-total")
    expect(totals).to_have_count(4)
    runs, errors = (int(totals.nth(i).inner_text()) for i in range(2))
    assert runs >= 1 and errors == 0
    expect(page.locator("#metrics svg").first).to_have_attribute(
        "aria-label", re.compile(rf"^Runs: {runs} over 14 days")
    )
    shot(page, "console-metrics")
    page.get_by_role("tab", name="Conversations").click()
    page.locator("#conv-list button").first.click()
    expect(page.locator("#conv-messages .console-msg").first).to_contain_text(ANSWER)
    page.keyboard.press("Shift+Tab")  # keyboard: arrows move between tabs
    page.get_by_role("tab", name="Conversations").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Workflow runs")).to_have_attribute("aria-selected", "true")
    page.locator("#run-list button").first.click()
    timeline = page.locator("#run-detail .timeline .step")
    expect(timeline.locator(".step-title")).to_have_text(["Start", "LLM", "Answer"])
    timeline.nth(1).locator("summary").click()
    expect(timeline.nth(1).locator("pre").last).to_contain_text(ANSWER)
    shot(page, "console-run-timeline")
    problems = {"login": login_problems, "light": axe_violations(page)}
    page.emulate_media(color_scheme="dark")
    shot(page, "console-dark")
    problems["dark"] = axe_violations(page)
    assert problems == {"login": [], "light": [], "dark": []}

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#login-view")).to_be_visible()


KNOWLEDGE_DSL = """
app: {name: policy-console, mode: advanced-chat}
kind: app
version: 0.1.5
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: kr
      data:
        type: knowledge-retrieval
        title: Policies
        query_variable_selector: [sys, query]
        dataset_ids: [EXPORTED+ID/abc==]
        retrieval_mode: multiple
        multiple_retrieval_config: {top_k: 2, reranking_enable: false}
    - id: answer
      data: {type: answer, title: Answer, answer: '{{#kr.result#}}'}
    edges:
    - {id: e1, source: start, target: kr}
    - {id: e2, source: kr, target: answer}
"""


def test_import_lists_unmapped_datasets_and_maps_them(
    page: Page, server: LiveServer, operator: tuple[str, str]
) -> None:
    server.call(server.services.knowledge.create_dataset("Company policies"))
    sign_in(page, server)
    transfer = page.evaluate_handle(
        """(text) => { const dt = new DataTransfer();
             dt.items.add(new File([text], "policy.yml", {type: "application/x-yaml"}));
             return dt; }""",
        KNOWLEDGE_DSL,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    choose = page.get_by_label("Dataset for EXPORTED+ID/abc==")
    expect(choose).to_be_visible()
    choose.select_option(label="Company policies")
    page.get_by_role("button", name="Map").click()
    expect(page.locator("#import-result")).to_contain_text(
        "Mapped EXPORTED+ID/abc==. 0 left unmapped."
    )
    app_id = next(
        a.id for a in server.call(server.services.apps.list_apps()) if a.name == "policy-console"
    )
    assert server.call(server.services.console.unmapped_datasets(app_id)) == []


def test_conversations_and_runs_page_in(
    page: Page, server: LiveServer, operator: tuple[str, str]
) -> None:
    chat = server.web_client("basic-chat")
    for i in range(52):  # the console lists 50 a page
        body = {"query": f"q{i}", "inputs": {}, "auto_generate_name": False}
        with chat.stream("POST", "/chat-messages", json=body) as response:
            response.read()
    sign_in(page, server)
    page.get_by_role("button", name=re.compile("basic-chat$")).click()
    page.get_by_role("tab", name="Conversations").click()
    listed = page.locator("#conv-list li:not(.more)")
    expect(listed).to_have_count(50)
    page.locator("#conv-list").get_by_role("button", name="Load more").click()
    expect(listed).to_have_count(52)
    expect(page.locator("#conv-list .more")).to_have_count(0)
    page.get_by_role("tab", name="Workflow runs").click()
    runs = page.locator("#run-list li:not(.more)")
    expect(runs).to_have_count(50)
    page.locator("#run-list").get_by_role("button", name="Load more").click()
    expect(runs).to_have_count(52)
