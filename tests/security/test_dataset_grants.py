"""A hostile DSL reads only the datasets mapped to its app (issue 17).

App A's DSL names a dataset it was not given (the operator's own, or app B's, which is
mapped to B) by id and by name, through each way a DSL reaches knowledge: a workflow's
knowledge-retrieval node, a chat app's `dataset_configs`, and the `knowledge.search` tool
(whose dataset an end user may even type). Each run fails with the command that maps the
reference and carries none of the dataset's text; the server keeps answering. The same
apps read the dataset once the operator maps it, so each refusal is the grant's doing.
Real server on loopback, SQLite and Postgres.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chatflow.services.knowledge import NewDocument
from chatflow.services.knowledge_base import map_refs
from tests.api.conftest import LiveServer

pytestmark = pytest.mark.timeout(120)

SECRET = "The vault code is zebra-4711."
B_NOTES = "App B keeps its salary table here: zebra-8800."

RETRIEVAL_APP = """\
app: {{mode: workflow, name: {name}}}
kind: app
version: 0.3.0
workflow:
  graph:
    edges:
    - {{id: e1, source: start, sourceHandle: source, target: kr, targetHandle: target}}
    - {{id: e2, source: kr, sourceHandle: source, target: end, targetHandle: target}}
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables: [{{variable: q, label: q, type: text-input, required: true}}]
    - id: kr
      data:
        type: knowledge-retrieval
        title: Steal
        query_variable_selector: [start, q]
        dataset_ids: ['{ref}']
        retrieval_mode: multiple
        multiple_retrieval_config: {{top_k: 2, reranking_enable: false}}
    - id: end
      data: {{type: end, title: End, outputs: [{{variable: result, value_selector: [kr, result]}}]}}
"""

CHAT_APP = """\
app: {{mode: chat, name: {name}}}
kind: app
version: 0.1.5
model_config:
  model: {{provider: openai, name: gpt-4o-mini, mode: chat, completion_params: {{}}}}
  pre_prompt: Answer from the context.
  retriever_resource: {{enabled: true}}
  prompt_type: simple
  user_input_form: []
  dataset_configs:
    retrieval_model: multiple
    top_k: 2
    reranking_enable: false
    datasets: {{datasets: [{{dataset: {{enabled: true, id: '{ref}'}}}}]}}
"""

# The dataset comes from the end user's input: whatever the DSL or the user names.
TOOL_APP = """\
app: {{mode: workflow, name: {name}}}
kind: app
version: 0.3.0
workflow:
  graph:
    edges:
    - {{id: e1, source: start, sourceHandle: source, target: search, targetHandle: target}}
    - {{id: e2, source: search, sourceHandle: source, target: end, targetHandle: target}}
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables:
        - {{variable: q, label: q, type: text-input, required: true}}
        - {{variable: ds, label: ds, type: text-input, required: true}}
    - id: search
      data:
        type: tool
        title: Search
        provider_id: {provider}
        provider_type: builtin
        tool_name: search
        tool_configurations: {{}}
        tool_parameters:
          dataset: {{type: variable, value: [start, ds]}}
          query: {{type: variable, value: [start, q]}}
    - id: end
      data: {{type: end, title: End, outputs: [{{variable: text, value_selector: [search, text]}}]}}
"""


@dataclass(frozen=True)
class Dataset:
    id: str
    name: str


@dataclass(frozen=True)
class App:
    id: str
    client: httpx.Client


def _dataset(server: LiveServer, text: str) -> Dataset:
    """A dataset of the server holding `text`, ingested."""
    knowledge = server.services.knowledge
    name = f"kb-{uuid.uuid4().hex[:8]}"
    view = server.call(knowledge.create_dataset(name, indexing_technique="economy"))
    document = NewDocument(f"{name}.md", text.encode(), "md", "text/markdown", None)
    _, batch = server.call(knowledge.create_document(view.row.id, document))
    deadline = time.monotonic() + 30
    while True:
        [status] = server.call(knowledge.indexing_status(view.row.id, batch))
        if status.document.indexing_status == "completed":
            return Dataset(view.row.id, name)
        assert status.document.indexing_status != "error", status.document.error
        assert time.monotonic() < deadline, "ingestion did not finish"
        time.sleep(0.05)


def _app(server: LiveServer, template: str, **fields: str) -> App:
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    result = server.call(server.services.apps.import_dsl(template.format(name=name, **fields)))
    assert result.api_key is not None
    client = httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {result.api_key}"},
        timeout=30,
    )
    server.clients.append(client)
    return App(result.app_id, client)


def _grant(server: LiveServer, app_id: str, ref: str, dataset: Dataset) -> None:
    server.call(map_refs(server.services.db, app_id, [ref], {ref: dataset.id}))


def _run(app: App, inputs: dict[str, str]) -> dict[str, Any]:
    response = app.client.post(
        "/workflows/run", json={"inputs": inputs, "response_mode": "blocking", "user": "mallory"}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _refused(data: dict[str, Any], ref: str) -> None:
    """The run failed, naming the reference and the command that maps it, leaking nothing."""
    assert data["status"] == "failed", data
    error = str(data["error"])
    assert f"dataset {ref!r} is not mapped" in error, error
    assert "chatflow app map-dataset" in error, error
    assert "zebra" not in str(data)


def _still_answers(server: LiveServer) -> None:
    response = server.client("workflow").get("/parameters")
    assert response.status_code == 200, response.text


@pytest.fixture
def datasets(server: LiveServer) -> tuple[Dataset, Dataset]:
    """The operator's dataset (no app's) and app B's (mapped to an app of its own)."""
    operator = _dataset(server, SECRET)
    b_notes = _dataset(server, B_NOTES)
    app_b = _app(server, RETRIEVAL_APP, ref="notes")
    _grant(server, app_b.id, "notes", b_notes)
    # App B itself reads its own dataset: the grant works.
    assert "zebra-8800" in str(_run(app_b, {"q": "salary table"})["outputs"])
    return operator, b_notes


@pytest.mark.parametrize("by", ["id", "name"])
@pytest.mark.parametrize("whose", ["operator", "app B"])
def test_retrieval_node_cannot_name_a_dataset_it_was_not_given(
    server: LiveServer, datasets: tuple[Dataset, Dataset], whose: str, by: str
) -> None:
    target = datasets[0] if whose == "operator" else datasets[1]
    ref = getattr(target, by)
    hostile = _app(server, RETRIEVAL_APP, ref=ref)
    _refused(_run(hostile, {"q": "vault code salary table"}), ref)
    _still_answers(server)
    # The operator maps it on purpose: now the same app reads it.
    _grant(server, hostile.id, ref, target)
    assert "zebra" in str(_run(hostile, {"q": "vault code salary table"})["outputs"])


@pytest.mark.parametrize("by", ["id", "name"])
def test_chat_app_dataset_configs_cannot_name_a_dataset_it_was_not_given(
    server: LiveServer, datasets: tuple[Dataset, Dataset], by: str
) -> None:
    operator, _ = datasets
    ref = getattr(operator, by)
    hostile = _app(server, CHAT_APP, ref=ref)
    body = {"query": "what is the vault code?", "inputs": {}, "user": "mallory"}
    response = hostile.client.post("/chat-messages", json={**body, "response_mode": "blocking"})
    assert "zebra" not in response.text
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert f"dataset {ref!r} is not mapped" in message and "map-dataset" in message
    _still_answers(server)
    _grant(server, hostile.id, ref, operator)
    response = hostile.client.post("/chat-messages", json={**body, "response_mode": "blocking"})
    assert response.status_code == 200, response.text
    resources = response.json()["metadata"]["retriever_resources"]
    assert any("zebra-4711" in r["content"] for r in resources), resources


@pytest.mark.parametrize("provider", ["knowledge", "dataset_retriever"])
def test_knowledge_search_tool_reaches_only_the_apps_datasets(
    server: LiveServer, datasets: tuple[Dataset, Dataset], provider: str
) -> None:
    operator, b_notes = datasets
    own = _dataset(server, "Our own handbook: lunch is at noon.")
    hostile = _app(server, TOOL_APP, provider=provider)
    _grant(server, hostile.id, "handbook", own)
    # Its own dataset by the mapped reference, by id and by name.
    for ref in ("handbook", own.id, own.name):
        data = _run(hostile, {"q": "when is lunch", "ds": ref})
        assert data["status"] == "succeeded", data
        assert "noon" in data["outputs"]["text"]
    # Anyone else's, by id or name: refused, nothing leaks.
    for target in (operator, b_notes):
        for ref in (target.id, target.name):
            _refused(_run(hostile, {"q": "vault code salary table", "ds": ref}), ref)
    _still_answers(server)
