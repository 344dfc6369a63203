"""Real exports with knowledge-retrieval nodes, served against datasets this test builds.

The datasets are made through the Knowledge API from documents written here; the
exports are imported unchanged except where a test says so, their dataset ids mapped with
the same call `chatflow app import --dataset` makes. The model is the scripted fake
(classifier decisions), recording every prompt, so the test sees which chunks reached
the LLM's context. SQLite and Postgres.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import httpx
import pytest

from chatflow.providers.base import LLMChunk, LLMRequest
from chatflow.services.knowledge_base import dataset_refs, map_refs
from tests.api.conftest import sse_events
from tests.engine.corpus_cases import DSL_DIR
from tests.engine.corpus_harness import ScriptedLLM

from .conftest import LiveServer, dataset_client, wait_batch

pytestmark = [pytest.mark.timeout(300)]

# `../shared/dsl` beside the checkout (as in CI), else the shared corpus of this machine.
DSL = next(
    (
        path
        for path in (Path(__file__).resolve().parents[3] / "shared" / "dsl", Path(DSL_DIR))
        if path.is_dir()
    ),
    Path(DSL_DIR),
)
ADMIN = "admin-assistant-qc-kr.yml"
DOCUMENT_CHAT = "document-chat-qc-kr.yml"
ADMIN_REF = "MJwomi+zaDCt3E2FNOeXI0KZfCQ311Geb+xUhP8vS59BHnnWKVTN5E3Afhhdkquq"
DOCS_REF = "8c4620fa-15d7-464f-9cb9-561f1a59eb3f"

ATTENDANCE = "考勤制度：上班时间九点，迟到三次扣除当月全勤奖。请假需提前一天在系统提交。"
SOCIAL = "社保制度：公司为员工缴纳五险一金，养老保险个人缴纳比例为百分之八。"
INSTALL = "Installation: run `pip install acme-widget`, then `acme init` in your project folder."


def _category(class_id: str, name: str) -> str:
    return json.dumps({"category_id": class_id, "category_name": name}, ensure_ascii=False)


class RecordingLLM(ScriptedLLM):
    """The scripted fake, keeping the text of every prompt it was sent."""

    def __init__(self, replies: Sequence[tuple[str, str]]) -> None:
        super().__init__(replies)
        self.prompts: list[str] = []

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        self.prompts.append("\n".join(m.content for m in request.messages))
        async for chunk in super().stream(request):
            yield chunk


def _need_corpus() -> None:
    if not DSL.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the DSL corpus is required in CI but {DSL} is missing")
        pytest.skip(f"the shared corpus is not at {DSL}")


def _build(client: httpx.Client, name: str, docs: dict[str, tuple[str, str | None]]) -> str:
    """A dataset with a `type` metadata field and these documents (name: (text, type))."""
    created = client.post("/datasets", json={"name": name, "indexing_technique": "high_quality"})
    assert created.status_code == 200, created.text
    dataset_id: str = created.json()["id"]
    field = client.post(f"/datasets/{dataset_id}/metadata", json={"type": "string", "name": "type"})
    operations = []
    for doc_name, (text, kind) in docs.items():
        response = client.post(
            f"/datasets/{dataset_id}/document/create-by-text", json={"name": doc_name, "text": text}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        (status,) = wait_batch(client, dataset_id, body["batch"])
        assert status["indexing_status"] == "completed", status
        if kind is not None:
            operations.append(
                {
                    "document_id": body["document"]["id"],
                    "metadata_list": [{"id": field.json()["id"], "name": "type", "value": kind}],
                }
            )
    if operations:
        response = client.post(
            f"/datasets/{dataset_id}/documents/metadata", json={"operation_data": operations}
        )
        assert response.status_code == 200, response.text
    return dataset_id


def _import(server: LiveServer, text: str, mapping: dict[str, str]) -> tuple[str, list[str]]:
    """Import a DSL text and map its datasets, as `chatflow app import --dataset` does."""

    async def run() -> tuple[str, list[str]]:
        services = server.services
        result = await services.apps.import_dsl(text)
        refs = dataset_refs((await services.apps.find(result.app_id)).graph)
        unmapped = await map_refs(services.db, result.app_id, refs, mapping)
        token = await services.apps.create_key(result.app_id)
        return token, unmapped

    return server.call(run())


def _app_client(server: LiveServer, token: str) -> httpx.Client:
    client = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    server.clients.append(client)
    return client


def _admin_dataset(server: LiveServer, suffix: str) -> str:
    return _build(
        dataset_client(server),
        f"admin-{suffix}",
        {"考勤制度.md": (ATTENDANCE, "考勤"), "社保制度.md": (SOCIAL, "社保")},
    )


def test_admin_assistant_answers_from_its_knowledge(server: LiveServer) -> None:
    _need_corpus()
    text = (DSL / ADMIN).read_text(encoding="utf-8")
    dataset_id = _admin_dataset(server, "as-exported")
    token, unmapped = _import(server, text, {ADMIN_REF: dataset_id})
    assert unmapped == []
    model = RecordingLLM((("考勤问题", _category("1711528736036", "考勤问题")),))
    server.registry.fake = model
    client = _app_client(server, token)
    body = {"inputs": {"name": "Ada"}, "query": "迟到几次扣全勤奖？", "user": "ada"}
    response = client.post("/chat-messages", json={**body, "response_mode": "blocking"})
    assert response.status_code == 200, response.text
    answer = response.json()
    # The attendance chunk reached the LLM's context; the manual metadata filter
    # (`type is 考勤`) kept the social-insurance document out.
    assert any(ATTENDANCE in prompt for prompt in model.prompts)
    assert not any(SOCIAL in prompt for prompt in model.prompts)
    # As exported, the app's `retriever_resource` feature is off: no citations.
    assert answer["metadata"]["retriever_resources"] == []


def test_admin_assistant_cites_its_sources(server: LiveServer) -> None:
    _need_corpus()
    text = (DSL / ADMIN).read_text(encoding="utf-8")
    # The same export with citations switched on (features.retriever_resource), as a
    # user does in Dify's UI, under another name so it is a second app.
    marker = "    retriever_resource:\n      enabled: false"
    assert marker in text
    text = text.replace(marker, "    retriever_resource:\n      enabled: true")
    text = text.replace("name: 行政助手2.0", "name: 行政助手2.0-cited", 1)
    dataset_id = _admin_dataset(server, "cited")
    token, unmapped = _import(server, text, {ADMIN_REF: dataset_id})
    assert unmapped == []
    server.registry.fake = RecordingLLM((("考勤问题", _category("1711528736036", "考勤问题")),))
    client = _app_client(server, token)
    body = {"inputs": {"name": "Ada"}, "query": "迟到几次扣全勤奖？", "user": "ada"}

    blocking = client.post("/chat-messages", json={**body, "response_mode": "blocking"}).json()
    (cited,) = blocking["metadata"]["retriever_resources"]
    assert cited["position"] == 1 and cited["dataset_id"] == dataset_id
    assert cited["dataset_name"] == "admin-cited" and cited["document_name"] == "考勤制度.md"
    assert cited["content"] == ATTENDANCE and 0 < cited["score"] <= 1
    assert cited["segment_id"] and cited["document_id"] and cited["retriever_from"] == "workflow"

    with client.stream(
        "POST", "/chat-messages", json={**body, "response_mode": "streaming"}
    ) as stream:
        events = list(sse_events(stream.iter_lines()))
    (end,) = [e for e in events if e["event"] == "message_end"]
    assert [r["segment_id"] for r in end["metadata"]["retriever_resources"]] == [
        cited["segment_id"]
    ]
    messages = client.get(
        "/messages", params={"user": "ada", "conversation_id": end["conversation_id"]}
    ).json()
    assert messages["data"][-1]["retriever_resources"][0]["document_name"] == "考勤制度.md"


def test_unmapped_dataset_fails_at_run_time_with_the_command(server: LiveServer) -> None:
    _need_corpus()
    text = (
        (DSL / ADMIN)
        .read_text(encoding="utf-8")
        .replace("name: 行政助手2.0", "name: 行政助手2.0-unmapped", 1)
    )
    token, unmapped = _import(server, text, {})
    assert unmapped == [ADMIN_REF]  # the import itself succeeds
    server.registry.fake = RecordingLLM((("考勤问题", _category("1711528736036", "考勤问题")),))
    client = _app_client(server, token)
    body = {"inputs": {"name": "Ada"}, "query": "迟到?", "user": "ada", "response_mode": "blocking"}
    failed = client.post("/chat-messages", json=body)
    assert failed.status_code == 400
    message = failed.json()["message"]
    assert ADMIN_REF in message and "chatflow app import" in message and "--dataset" in message


def test_document_chat_workflow_retrieves_for_every_route(server: LiveServer) -> None:
    _need_corpus()
    dataset_id = _build(
        dataset_client(server),
        "acme-docs",
        {"install.md": (INSTALL, None), "pricing.md": ("Pricing: the widget costs 5 euros.", None)},
    )
    token, unmapped = _import(
        server, (DSL / DOCUMENT_CHAT).read_text(encoding="utf-8"), {DOCS_REF: dataset_id}
    )
    assert unmapped == []
    model = RecordingLLM((("意图分析系统", "需要查询文档：安装"), ("安装", _category("1", "安装"))))
    server.registry.fake = model
    client = _app_client(server, token)
    run = client.post(
        "/workflows/run",
        json={
            "inputs": {"input": "how do I install acme?"},
            "user": "u",
            "response_mode": "blocking",
        },
    )
    assert run.status_code == 200, run.text
    data = run.json()["data"]
    assert data["status"] == "succeeded", data
    # Single-mode retrieval fed the installation chunk through the template to the LLM.
    assert any(INSTALL in prompt for prompt in model.prompts)


CHAT_APP = """
app:
  mode: chat
  name: handbook-chat
kind: app
version: 0.1.5
model_config:
  model:
    provider: openai
    name: gpt-4o-mini
    mode: chat
    completion_params: {}
  pre_prompt: You are the HR helper of {{company}}.
  prompt_type: simple
  user_input_form:
  - text-input:
      variable: company
      label: Company
      required: false
  retriever_resource:
    enabled: true
  dataset_configs:
    retrieval_model: multiple
    top_k: 2
    reranking_enable: false
    datasets:
      datasets:
      - dataset:
          enabled: true
          id: exported-dataset-id
"""


def test_chat_mode_app_with_dataset_configs(server: LiveServer) -> None:
    dataset_id = _build(
        dataset_client(server),
        "handbook-for-chat",
        {"leave.md": ("Annual leave: 25 days, booked in the HR portal.", None)},
    )
    token, unmapped = _import(server, CHAT_APP, {"exported-dataset-id": dataset_id})
    assert unmapped == []
    model = RecordingLLM(())
    server.registry.fake = model
    client = _app_client(server, token)
    body = {
        "inputs": {"company": "Acme"},
        "query": "How many days of annual leave?",
        "user": "u",
        "response_mode": "blocking",
    }
    answer = client.post("/chat-messages", json=body)
    assert answer.status_code == 200, answer.text
    (cited,) = answer.json()["metadata"]["retriever_resources"]
    assert cited["document_name"] == "leave.md" and cited["dataset_name"] == "handbook-for-chat"
    # (The conversation's name may be generated by the model too: that prompt differs.)
    (prompt,) = [p for p in model.prompts if "HR helper of Acme" in p]
    assert "25 days" in prompt and "<context>" in prompt
