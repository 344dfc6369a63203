"""The console's management pages in Chromium: knowledge bases (multi-file upload with
live indexing, chunks on and off, hit testing, dataset keys), an app's annotations,
tools (OpenAPI and MCP on real loopback servers), missing tools mapped at import, and
the model backends; each scanned by axe-core (light and dark) and screenshotted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from chatflow.tools import mappings
from tests.api.conftest import LiveServer
from tests.tools import mcp_demo, petstore
from tests.tools.loopback import serve
from tests.web.conftest import SHOTS, axe_violations, shot
from tests.web.console_support import app_id, console, operator, scan_context, sign_in
from tests.web.test_console_manage_api import TOOL_DSL

__all__ = ["console", "operator", "scan_context"]

pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)
LIVE_SETTINGS = {"ssrf_allow": "127.0.0.1"}

# Three topics, each long enough to be chunks of its own under the automatic rules.
HANDBOOK = "\n\n".join(
    sentence * 30
    for sentence in (
        "Refunds are paid within 14 days of the return arriving at the warehouse. ",
        "Shipping to the Moon costs 300 credits and takes three weeks by rocket. ",
        "Support answers every ticket within one working day, weekends included. ",
    )
)


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with serve(mcp_demo.app("streamable_http")) as base:
        yield f"{base}/mcp"


@pytest.fixture
def page(scan_context: BrowserContext) -> Iterator[Page]:
    page = scan_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


def _scan(page: Page, name: str) -> dict[str, object]:
    """Screenshots and axe scans of the page in light and dark."""
    shot(page, name)
    problems = {"light": axe_violations(page)}
    page.emulate_media(color_scheme="dark")
    shot(page, f"{name}-dark")
    problems["dark"] = axe_violations(page)
    page.emulate_media(color_scheme="light")
    return problems


def test_knowledge_upload_chunks_hit_testing_and_keys(
    page: Page, server: LiveServer, operator: tuple[str, str], console: httpx.Client
) -> None:
    sign_in(page, server)
    page.get_by_role("button", name="Knowledge", exact=True).click()
    expect(page.locator("#no-kb")).to_be_visible()
    page.get_by_label("New knowledge base").fill("Handbook")
    page.get_by_role("button", name="Create knowledge base").click()
    expect(page.locator("#kb-title")).to_have_text("Handbook")

    # Two files at once: one indexes, one (not a PDF at all) fails readably.
    page.locator("#kb-files").set_input_files(
        [
            {"name": "handbook.txt", "mimeType": "text/plain", "buffer": HANDBOOK.encode()},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"not a pdf"},
        ]
    )
    uploads = page.locator("#kb-uploads .upload")
    expect(uploads).to_have_count(2)
    good = uploads.filter(has_text="handbook.txt")
    bad = uploads.filter(has_text="broken.pdf")
    expect(good.locator(".upload-status")).to_have_attribute("data-status", "completed")
    expect(good.locator(".stage.done")).to_have_count(5)
    expect(good.locator("progress")).to_have_attribute("value", "100")
    expect(bad.locator(".upload-status")).to_have_attribute("data-status", "error")
    expect(bad.locator(".upload-status")).to_contain_text("error:")
    expect(bad.locator(".stage.failed")).to_have_text("parsing")
    documents = page.locator("#kb-documents tr")
    expect(documents).to_have_count(2)
    expect(documents.filter(has_text="handbook.txt")).to_contain_text("available")
    expect(documents.filter(has_text="broken.pdf")).to_contain_text("error")
    expect(page.locator("#kb-meta")).to_contain_text("2 documents")
    problems = {"upload": _scan(page, "console-knowledge-upload")}

    # Chunks: the document's segments, one switched off (and so no longer retrieved).
    page.get_by_role("button", name="Chunks of handbook.txt").click()
    chunks = page.locator("#kb-segments .chunk")
    expect(chunks.first).to_contain_text("Refunds are paid")
    assert chunks.count() >= 3
    switch = page.get_by_label("Chunk 1 enabled", exact=True)
    expect(switch).to_be_checked()
    switch.uncheck()
    expect(chunks.first).to_have_class(re.compile(r"\bdisabled\b"))
    expect(switch).not_to_be_checked()
    dataset = next(
        d["id"] for d in console.get("/kb/datasets").json()["data"] if d["name"] == "Handbook"
    )
    docs = console.get(f"/kb/datasets/{dataset}/documents").json()["data"]
    handbook = next(d["id"] for d in docs if d["name"] == "handbook.txt")
    segments = console.get(f"/kb/datasets/{dataset}/documents/{handbook}/segments").json()["data"]
    assert segments[0]["enabled"] is False
    problems["chunks"] = _scan(page, "console-knowledge-chunks")
    switch.focus()  # back on, by keyboard
    page.keyboard.press("Space")
    expect(switch).to_be_checked()
    expect(chunks.first).not_to_have_class(re.compile(r"\bdisabled\b"))

    # Hit testing: ranked chunks with their scores.
    page.get_by_role("tab", name="Hit testing").click()
    page.get_by_label("Query").fill("how long do refunds take")
    page.get_by_role("button", name="Test retrieval").click()
    expect(page.locator("#kb-hit-status")).to_contain_text("chunks retrieved")
    hits = page.locator("#kb-hits .hit")
    expect(hits.first).to_contain_text("Refunds are paid within 14 days")
    scores = [
        float(re.search(r"score ([\d.]+)", text).group(1))  # type: ignore[union-attr]
        for text in hits.locator(".hit-score").all_inner_texts()
    ]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    problems["hits"] = _scan(page, "console-knowledge-hits")

    # Knowledge API keys: created (shown once), then revoked.
    page.get_by_role("button", name="Create dataset API key").click()
    token = page.locator("#dataset-new-key code")
    expect(token).to_have_text(re.compile(r"^dataset-\w{24}$"))
    with httpx.Client(base_url=server.base_url) as api:
        bearer = {"Authorization": f"Bearer {token.inner_text()}"}
        assert api.get("/datasets", headers=bearer).status_code == 200
        page.once("dialog", lambda dialog: dialog.accept())
        prefix = token.inner_text()[:11]
        page.get_by_role("button", name=f"Revoke dataset key {prefix}…").click()
        expect(page.get_by_role("button", name=f"Revoke dataset key {prefix}…")).to_have_count(0)
        assert api.get("/datasets", headers=bearer).status_code == 401

    # Keyboard: the tabs move with the arrows; a narrow screen still shows it all.
    page.get_by_role("tab", name="Hit testing").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Documents")).to_have_attribute("aria-selected", "true")
    page.set_viewport_size({"width": 420, "height": 900})
    expect(page.locator("#kb-documents")).to_be_visible()
    page.locator("#kb-title").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "console-knowledge-narrow.png"))  # what a phone shows
    page.set_viewport_size({"width": 1280, "height": 860})

    # Deleting the knowledge base.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete knowledge base").click()
    expect(page.locator("#no-kb")).to_be_visible()
    expect(page.locator("#kb-list")).not_to_contain_text("Handbook")
    assert all(v == [] for scans in problems.values() for v in scans.values()), problems


def test_annotations_page(
    page: Page, server: LiveServer, operator: tuple[str, str], console: httpx.Client
) -> None:
    app = app_id(console, "basic-chat")
    for i in range(21):  # 20 a page: a second page
        server.call(server.services.annotations.create(app, question=f"filler {i}", answer="x"))
    sign_in(page, server)
    page.get_by_role("button", name=re.compile("basic-chat$")).click()
    page.get_by_role("tab", name="Annotations").click()
    expect(page.locator("#ann-page")).to_have_text("Page 1 of 2 · 21 annotations")
    expect(page.locator("#annotations tr")).to_have_count(20)
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#ann-page")).to_have_text("Page 2 of 2 · 21 annotations")
    expect(page.locator("#annotations tr")).to_have_count(1)

    page.get_by_label("Question").fill("What is the refund window?")
    page.get_by_label("Answer").fill("Fourteen days.")
    page.get_by_role("button", name="Add annotation").click()
    expect(page.locator("#ann-page")).to_have_text("Page 1 of 2 · 22 annotations")
    page.get_by_label("Search annotations").fill("refund")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#annotations tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Fourteen days.")

    rows.first.get_by_role("button", name=re.compile("^Edit annotation")).click()
    expect(page.get_by_label("Question")).to_have_value("What is the refund window?")
    page.get_by_label("Answer").fill("Fourteen days from delivery.")
    page.get_by_role("button", name="Save changes").click()
    expect(rows.first).to_contain_text("Fourteen days from delivery.")
    expect(page.get_by_role("button", name="Add annotation")).to_be_visible()

    page.get_by_label("Score threshold").fill("0.85")
    page.get_by_label("Annotation reply").check()
    expect(page.locator("#reply-status")).to_have_text("On (threshold 0.85)")
    problems = _scan(page, "console-annotations")
    # The reply really answers from the annotation now, without running the app.
    chat = server.web_client("basic-chat")
    with chat.stream(
        "POST", "/chat-messages", json={"query": "What is the refund window?", "inputs": {}}
    ) as response:
        assert "Fourteen days from delivery." in response.read().decode()
    page.get_by_label("Annotation reply").uncheck()
    expect(page.locator("#reply-status")).to_have_text("Off")

    page.once("dialog", lambda dialog: dialog.accept())
    rows.first.get_by_role("button", name=re.compile("^Delete annotation")).click()
    expect(rows.first).to_contain_text("No annotations match")
    assert problems == {"light": [], "dark": []}


def test_tools_page_adds_and_removes_providers(
    page: Page, server: LiveServer, operator: tuple[str, str], mcp_url: str
) -> None:
    sign_in(page, server)
    page.get_by_role("button", name="Tools", exact=True).click()
    time_provider = page.locator('#tool-providers .provider[data-id="time"]')
    expect(time_provider).to_contain_text("built-in")
    time_provider.locator("summary").click()
    expect(time_provider).to_contain_text("time:current_time")

    spec = json.dumps(petstore.openapi3("http://127.0.0.1:9/v1"))
    form = page.locator("#openapi-form")
    form.get_by_label("Provider name").fill("petshop")
    form.get_by_label("or the schema (JSON or YAML)").fill(spec)
    form.get_by_label("Header name").fill("X-Api-Key")
    form.get_by_label("Header value").fill(petstore.API_KEY)
    form.get_by_role("button", name="Add OpenAPI provider").click()
    expect(page.locator("#openapi-result")).to_contain_text("Added petshop:")
    pets = page.locator('#tool-providers .provider[data-id="petshop"]')
    expect(pets).to_contain_text("OpenAPI")
    pets.locator("summary").click()
    expect(pets).to_contain_text("Headers: X-Api-Key: ***")
    expect(pets).to_contain_text("petshop:listPets")

    mcp = page.locator("#mcp-form")
    mcp.get_by_label("Provider name").fill("demo")
    mcp.get_by_label("Server URL").fill(mcp_url)
    mcp.get_by_role("button", name="Add MCP server").click()
    expect(page.locator("#mcp-result")).to_contain_text("Added demo:")
    demo = page.locator('#tool-providers .provider[data-id="demo"]')
    expect(demo).to_contain_text("MCP")
    demo.locator("summary").click()
    expect(demo).to_contain_text("demo:echo")
    # A name that is taken by a built-in is refused readably.
    form.get_by_label("Provider name").fill("time")
    form.get_by_label("or the schema (JSON or YAML)").fill(spec)
    form.get_by_role("button", name="Add OpenAPI provider").click()
    expect(page.locator("#openapi-result")).to_contain_text("Not added: 'time' is a built-in")
    problems = _scan(page, "console-tools")
    assert petstore.API_KEY not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    demo.get_by_role("button", name="Remove provider demo").click()
    expect(demo).to_have_count(0)
    pets.locator("summary").click()  # the list was drawn again
    page.once("dialog", lambda dialog: dialog.accept())
    pets.get_by_role("button", name="Remove provider petshop").click()
    expect(pets).to_have_count(0)
    assert problems == {"light": [], "dark": []}


def test_import_maps_missing_tools(
    page: Page, server: LiveServer, operator: tuple[str, str]
) -> None:
    sign_in(page, server)
    transfer = page.evaluate_handle(
        """(text) => { const dt = new DataTransfer();
             dt.items.add(new File([text], "tools.yml", {type: "application/x-yaml"}));
             return dt; }""",
        TOOL_DSL.replace("needs-tools", "clock-app"),
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    choose = page.get_by_label("Tool for acme/clock/clock/now (node Clock)")
    expect(choose).to_be_visible()
    choose.select_option("time:current_time")
    expect(page.locator("#graph svg .node")).to_have_count(3)
    shot(page, "console-import-missing-tools")
    page.get_by_role("button", name="Map acme/clock/clock/now").click()
    expect(page.locator("#import-result .mapped")).to_have_text(
        "Mapped acme/clock/clock/now to time:current_time. 0 tools left to map."
    )
    assert mappings.load(server.services.settings)["acme/clock/clock:now"] == "time:current_time"


def test_model_backends_page(page: Page, server: LiveServer, operator: tuple[str, str]) -> None:
    sign_in(page, server)
    # By keyboard: Tab from the first section button to Models, Enter opens it.
    page.get_by_role("button", name="Apps", exact=True).focus()
    for _ in range(3):
        page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Models", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Models", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator("#section-apps")).to_be_hidden()
    default = page.locator('.model-group[data-group="default"]')
    expect(default).to_contain_text("Backend for every DSL model")
    expect(default).to_contain_text("fake")
    expect(default).to_contain_text("CHATFLOW_MODEL_BACKEND")
    openai = page.locator('.model-group[data-group="openai"]')
    expect(openai).to_contain_text("CHATFLOW_OPENAI_BASE_URL")
    expect(page.locator("#model-queue")).to_contain_text("CHATFLOW_MODEL_QUEUE_MAX")
    expect(page.locator("#queue-waiting")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator('.model-group[data-group="model-map"]')).to_contain_text("No entries")
    assert _scan(page, "console-models") == {"light": [], "dark": []}
