"""The Knowledge API over real HTTP on SQLite and Postgres: Dify's paths, bodies, errors."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
import pytest

from .conftest import LiveServer, assert_envelope, dataset_client, wait_batch

pytestmark = pytest.mark.timeout(300)

HANDBOOK = (
    "Vacation policy: employees get 25 vacation days each year.\n"
    "Expense policy: receipts must be filed within 30 days.\n"
    "考勤制度：每天九点前打卡，迟到三次扣除全勤奖。"
)


def _dataset(client: httpx.Client, name: str | None = None, **body: Any) -> dict[str, Any]:
    payload = {"name": name or f"kb-{uuid.uuid4().hex[:8]}", **body}
    response = client.post("/datasets", json=payload)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def _text_document(
    client: httpx.Client, dataset_id: str, name: str, text: str, **body: Any
) -> dict[str, Any]:
    payload = {"name": name, "text": text, "indexing_technique": "high_quality", **body}
    response = client.post(f"/datasets/{dataset_id}/document/create-by-text", json=payload)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    (status,) = wait_batch(client, dataset_id, created["batch"])
    assert status["indexing_status"] == "completed", status
    return created


def _retrieve(client: httpx.Client, dataset_id: str, query: str, **body: Any) -> list[Any]:
    response = client.post(f"/datasets/{dataset_id}/retrieve", json={"query": query, **body})
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["query"] == {"content": query}
    records: list[Any] = payload["records"]
    return records


def test_keys_are_separate_from_app_keys(server: LiveServer) -> None:
    knowledge = dataset_client(server)
    app = server.client()
    assert knowledge.get("/datasets").status_code == 200
    assert_envelope(app.get("/datasets"), 401, "unauthorized")
    assert_envelope(httpx.get(f"{server.base_url}/datasets"), 401, "unauthorized")
    # A dataset key is no app key: the chat routes refuse it.
    body = {"inputs": {}, "query": "hi", "user": "u", "response_mode": "blocking"}
    assert_envelope(knowledge.post("/chat-messages", json=body), 401, "unauthorized")
    assert_envelope(knowledge.get("/parameters"), 401, "unauthorized")


def test_dataset_crud_and_paging(server: LiveServer) -> None:
    client = dataset_client(server)
    name = f"crud-{uuid.uuid4().hex[:6]}"
    created = _dataset(client, name, description="handbook", indexing_technique="economy")
    assert created["name"] == name and created["indexing_technique"] == "economy"
    assert created["retrieval_model_dict"]["search_method"] == "keyword_search"
    assert created["document_count"] == 0 and created["tags"] == []
    assert_envelope(client.post("/datasets", json={"name": name}), 409, "dataset_name_duplicate")
    assert_envelope(client.post("/datasets", json={}), 400, "invalid_param")
    assert_envelope(
        client.post("/datasets", json={"name": "x", "indexing_technique": "best"}),
        400,
        "invalid_param",
    )

    others = [_dataset(client) for _ in range(3)]
    page = client.get("/datasets", params={"page": 1, "limit": 2}).json()
    assert page["limit"] == 2 and page["page"] == 1 and len(page["data"]) == 2
    assert page["total"] >= 4 and page["has_more"] is True
    assert page["data"][0]["id"] == others[-1]["id"]  # newest first
    found = client.get("/datasets", params={"keyword": name}).json()
    assert [d["id"] for d in found["data"]] == [created["id"]]

    dataset_id = created["id"]
    retrieval = {
        "search_method": "hybrid_search",
        "reranking_enable": True,
        "reranking_mode": "weighted_score",
        "weights": {
            "vector_setting": {"vector_weight": 0.6},
            "keyword_setting": {"keyword_weight": 0.4},
        },
        "top_k": 3,
        "score_threshold_enabled": True,
        "score_threshold": 0.1,
    }
    patched = client.patch(
        f"/datasets/{dataset_id}",
        json={"indexing_technique": "high_quality", "retrieval_model": retrieval, "name": name},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["indexing_technique"] == "high_quality"
    assert body["retrieval_model_dict"]["search_method"] == "hybrid_search"
    assert body["retrieval_model_dict"]["top_k"] == 3
    assert body["retrieval_model_dict"]["weights"]["keyword_setting"]["keyword_weight"] == 0.4
    assert client.get(f"/datasets/{dataset_id}").json()["retrieval_model_dict"]["top_k"] == 3
    bad = {"retrieval_model": {"search_method": "telepathy"}}
    assert_envelope(client.patch(f"/datasets/{dataset_id}", json=bad), 400, "invalid_param")

    assert_envelope(client.get("/datasets/not-a-uuid"), 404, "not_found")
    missing = assert_envelope(client.get(f"/datasets/{uuid.uuid4()}"), 404, "not_found")
    assert missing["message"] == "Dataset not found."
    assert client.delete(f"/datasets/{dataset_id}").status_code == 204
    assert_envelope(client.get(f"/datasets/{dataset_id}"), 404, "not_found")


def test_text_documents_are_ingested_and_retrieved(server: LiveServer) -> None:
    client = dataset_client(server)
    dataset = _dataset(client)
    dataset_id = dataset["id"]
    # Dify asks for an indexing technique while the dataset has none.
    response = client.post(
        f"/datasets/{dataset_id}/document/create_by_text", json={"name": "a", "text": "b"}
    )
    assert_envelope(response, 400, "invalid_param")

    created = _text_document(client, dataset_id, "handbook.txt", HANDBOOK)
    document = created["document"]
    assert document["name"] == "handbook.txt" and document["created_from"] == "api"
    assert document["indexing_status"] == "waiting" and document["display_status"] == "queuing"
    assert document["doc_metadata"] is None and created["batch"]
    other = client.post(
        f"/datasets/{dataset_id}/document/create_by_text",
        json={"name": "travel.md", "text": "Travel: book flights through the travel desk."},
    )
    assert other.status_code == 200, other.text
    wait_batch(client, dataset_id, other.json()["batch"])

    records = _retrieve(client, dataset_id, "how many vacation days")
    assert records and "25 vacation days" in records[0]["segment"]["content"]
    top = records[0]
    assert top["segment"]["document"]["name"] == "handbook.txt"
    assert 0 < top["score"] <= 1 and top["segment"]["status"] == "completed"
    chinese = _retrieve(client, dataset_id, "迟到扣除全勤奖")
    assert chinese and "考勤" in chinese[0]["segment"]["content"]
    alias = client.post(f"/datasets/{dataset_id}/hit-testing", json={"query": "vacation days"})
    assert alias.status_code == 200 and alias.json()["records"]
    assert_envelope(
        client.post(f"/datasets/{dataset_id}/retrieve", json={"query": "x" * 251}),
        400,
        "invalid_param",
    )
    assert_envelope(client.post(f"/datasets/{dataset_id}/retrieve", json={}), 400)

    listed = client.get(f"/datasets/{dataset_id}/documents").json()
    assert listed["total"] == 2 and [d["name"] for d in listed["data"]][1] == "handbook.txt"
    assert all(d["display_status"] == "available" for d in listed["data"])
    detail = client.get(f"/datasets/{dataset_id}/documents/{document['id']}").json()
    assert detail["segment_count"] >= 1 and detail["indexing_status"] == "completed"
    assert detail["completed_at"] and "doc_metadata" in detail
    without = client.get(
        f"/datasets/{dataset_id}/documents/{document['id']}", params={"metadata": "without"}
    ).json()
    assert "doc_metadata" not in without and without["doc_language"] == "English"
    only = client.get(
        f"/datasets/{dataset_id}/documents/{document['id']}", params={"metadata": "only"}
    ).json()
    assert set(only) == {"id", "doc_type", "doc_metadata"}
    assert_envelope(
        client.get(
            f"/datasets/{dataset_id}/documents/{document['id']}", params={"metadata": "some"}
        ),
        400,
        "invalid_metadata",
    )
    counts = client.get(f"/datasets/{dataset_id}").json()
    assert counts["document_count"] == 2 and counts["word_count"] > 0

    assert client.delete(f"/datasets/{dataset_id}/documents/{document['id']}").status_code == 204
    after = _retrieve(client, dataset_id, "how many vacation days")
    assert all(r["segment"]["document"]["name"] != "handbook.txt" for r in after)
    assert_envelope(
        client.get(f"/datasets/{dataset_id}/documents/{document['id']}"), 404, "not_found"
    )


def test_custom_process_rules(server: LiveServer) -> None:
    client = dataset_client(server)
    dataset_id = _dataset(client, indexing_technique="high_quality")["id"]
    text = "###".join(f"Section {i}: the number of the day is {i * 7}." for i in range(6))
    rule = {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [
                {"id": "remove_extra_spaces", "enabled": True},
                {"id": "remove_urls_emails", "enabled": True},
            ],
            "segmentation": {"separator": "###", "max_tokens": 50, "chunk_overlap": 0},
        },
    }
    created = _text_document(
        client, dataset_id, "sections", text + "  mail me: a@b.example", process_rule=rule
    )
    segments = client.get(
        f"/datasets/{dataset_id}/documents/{created['document']['id']}/segments",
        params={"limit": 100},
    ).json()
    assert segments["total"] >= 2 and segments["doc_form"] == "text_model"
    assert all("a@b.example" not in s["content"] for s in segments["data"])
    for bad in (
        {"mode": "magic"},
        {"mode": "custom", "rules": {"segmentation": {"separator": "\n", "max_tokens": 10}}},
        {"mode": "custom"},
    ):
        response = client.post(
            f"/datasets/{dataset_id}/document/create-by-text",
            json={"name": "x", "text": "y", "process_rule": bad},
        )
        assert_envelope(response, 400, "invalid_param")


def _docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


FILES = {
    "notes.md": (b"# Notes\n\nThe walrus password is marmalade.", "walrus password"),
    "page.html": (
        b"<html><head><style>p{}</style><script>var x=1</script></head>"
        b"<body><p>The heron eats <b>silverfish</b>.</p></body></html>",
        "heron eats",
    ),
    "table.csv": (b"animal,food\nokapi,leaves\nnarwhal,cod\n", "narwhal"),
    "memo.docx": (_docx("The pangolin meeting is on Thursday."), "pangolin meeting"),
    "sheet.xlsx": (_xlsx([["city", "river"], ["Cairo", "Nile"], ["Vienna", "Danube"]]), "Danube"),
    "report.pdf": (_pdf("Quarterly axolotl revenue rose by nine percent."), "axolotl revenue"),
}


def test_files_of_every_type(server: LiveServer) -> None:
    client = dataset_client(server)
    dataset_id = _dataset(client, indexing_technique="high_quality")["id"]
    batches = {}
    for index, (name, (content, _)) in enumerate(FILES.items()):
        path = "create-by-file" if index % 2 else "create_by_file"
        data = '{"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}'
        response = client.post(
            f"/datasets/{dataset_id}/document/{path}",
            files={"file": (name, content)},
            data={"data": data},
        )
        assert response.status_code == 200, response.text
        batches[name] = response.json()["batch"]
    for name, batch in batches.items():
        (status,) = wait_batch(client, dataset_id, batch)
        assert status["indexing_status"] == "completed", (name, status)
        assert status["completed_segments"] == status["total_segments"] > 0
    for name, (_, query) in FILES.items():
        records = _retrieve(client, dataset_id, query, retrieval_model={"top_k": 1})
        assert records[0]["segment"]["document"]["name"] == name, (name, records)
    csv_rows = _retrieve(client, dataset_id, "narwhal", retrieval_model={"top_k": 1})
    assert csv_rows[0]["segment"]["content"] == "animal: narwhal; food: cod"
    assert "var x" not in _retrieve(client, dataset_id, "heron")[0]["segment"]["content"]

    assert_envelope(
        client.post(
            f"/datasets/{dataset_id}/document/create-by-file",
            files={"file": ("tool.exe", b"MZ")},
        ),
        415,
        "unsupported_file_type",
    )
    assert_envelope(
        client.post(f"/datasets/{dataset_id}/document/create-by-file", data={"data": "{}"}),
        400,
        "no_file_uploaded",
    )
    broken = client.post(
        f"/datasets/{dataset_id}/document/create-by-file",
        files={"file": ("broken.pdf", b"%PDF-1.4 this is not a pdf")},
    )
    assert broken.status_code == 200, broken.text
    (status,) = wait_batch(client, dataset_id, broken.json()["batch"])
    assert status["indexing_status"] == "error"
    assert "broken.pdf" in status["error"] and "upload" in status["error"]


def test_document_status_segments_and_updates(server: LiveServer) -> None:
    client = dataset_client(server)
    dataset_id = _dataset(client, indexing_technique="high_quality")["id"]
    document_id = _text_document(client, dataset_id, "zoo", "The zebra sleeps standing up.")[
        "document"
    ]["id"]
    base = f"/datasets/{dataset_id}/documents"

    assert client.patch(f"{base}/status/disable", json={"document_ids": [document_id]}).json() == {
        "result": "success"
    }
    assert _retrieve(client, dataset_id, "zebra sleeps") == []
    listed = client.get(base, params={"status": "disabled"}).json()
    assert [d["id"] for d in listed["data"]] == [document_id]
    client.patch(f"{base}/status/enable", json={"document_ids": [document_id]})
    assert _retrieve(client, dataset_id, "zebra sleeps")
    assert_envelope(
        client.patch(f"{base}/status/explode", json={"document_ids": [document_id]}),
        400,
        "invalid_action",
    )

    segments_path = f"{base}/{document_id}/segments"
    added = client.post(
        segments_path,
        json={"segments": [{"content": "The quokka smiles at tourists.", "keywords": ["quokka"]}]},
    )
    assert added.status_code == 200, added.text
    segment = added.json()["data"][0]
    assert segment["status"] == "completed" and segment["keywords"] == ["quokka"]
    assert _retrieve(client, dataset_id, "quokka smiles")[0]["segment"]["id"] == segment["id"]
    assert_envelope(client.post(segments_path, json={"segments": [{"content": ""}]}), 400)

    changed = client.post(
        f"{segments_path}/{segment['id']}",
        json={"segment": {"content": "The wombat digs burrows at night."}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["content"].startswith("The wombat")
    hits = _retrieve(client, dataset_id, "wombat digs burrows")
    assert hits[0]["segment"]["id"] == segment["id"]
    client.post(f"{segments_path}/{segment['id']}", json={"segment": {"enabled": False}})
    assert all(r["segment"]["id"] != segment["id"] for r in _retrieve(client, dataset_id, "wombat"))
    got = client.get(f"{segments_path}/{segment['id']}").json()["data"]
    assert got["enabled"] is False
    assert client.delete(f"{segments_path}/{segment['id']}").status_code == 204
    assert_envelope(client.get(f"{segments_path}/{segment['id']}"), 404, "not_found")
    page = client.get(segments_path).json()
    assert page["total"] == 1 and page["page"] == 1

    updated = client.post(
        f"{base}/{document_id}/update_by_text",
        json={"name": "zoo", "text": "The lemur leaps between trees."},
    )
    assert updated.status_code == 200, updated.text
    wait_batch(client, dataset_id, updated.json()["batch"])
    assert _retrieve(client, dataset_id, "lemur leaps")
    assert all(
        "zebra" not in r["segment"]["content"] for r in _retrieve(client, dataset_id, "zebra")
    )


def test_metadata_and_filtered_retrieval(server: LiveServer) -> None:
    client = dataset_client(server)
    dataset_id = _dataset(client, indexing_technique="high_quality")["id"]
    social = _text_document(client, dataset_id, "social", "社保缴纳比例：养老保险百分之八。")
    attendance = _text_document(client, dataset_id, "attendance", "考勤：养老院志愿活动不算加班。")
    field = client.post(f"/datasets/{dataset_id}/metadata", json={"type": "string", "name": "type"})
    assert field.status_code == 201, field.text
    field_id = field.json()["id"]
    year = client.post(f"/datasets/{dataset_id}/metadata", json={"type": "number", "name": "year"})
    assert_envelope(
        client.post(f"/datasets/{dataset_id}/metadata", json={"type": "string", "name": "type"}),
        400,
    )
    operations = [
        {
            "document_id": social["document"]["id"],
            "metadata_list": [
                {"id": field_id, "name": "type", "value": "社保"},
                {"id": year.json()["id"], "name": "year", "value": 2024},
            ],
        },
        {
            "document_id": attendance["document"]["id"],
            "metadata_list": [{"id": field_id, "name": "type", "value": "考勤"}],
        },
    ]
    assert client.post(
        f"/datasets/{dataset_id}/documents/metadata", json={"operation_data": operations}
    ).json() == {"result": "success"}
    fields = client.get(f"/datasets/{dataset_id}/metadata").json()
    assert {f["name"]: f["count"] for f in fields["doc_metadata"]} == {"type": 2, "year": 1}

    conditions = {
        "logical_operator": "and",
        "conditions": [{"name": "type", "comparison_operator": "is", "value": "社保"}],
    }
    filtered = _retrieve(
        client, dataset_id, "养老", retrieval_model={"metadata_filtering_conditions": conditions}
    )
    assert {r["segment"]["document"]["name"] for r in filtered} == {"social"}
    newer = {"conditions": [{"name": "year", "comparison_operator": "≥", "value": 2025}]}
    assert (
        _retrieve(
            client, dataset_id, "养老", retrieval_model={"metadata_filtering_conditions": newer}
        )
        == []
    )
    detail = client.get(f"/datasets/{dataset_id}/documents/{social['document']['id']}").json()
    assert {m["name"]: m["value"] for m in detail["doc_metadata"]} == {"type": "社保", "year": 2024}

    renamed = client.patch(f"/datasets/{dataset_id}/metadata/{field_id}", json={"name": "kind"})
    assert renamed.json() == {"id": field_id, "type": "string", "name": "kind"}
    built_in = client.get(f"/datasets/{dataset_id}/metadata/built-in").json()
    assert {"name": "document_name", "type": "string"} in built_in["fields"]
    assert client.post(f"/datasets/{dataset_id}/metadata/built-in/enable").json() == {
        "result": "success"
    }
    by_name = {
        "conditions": [
            {"name": "document_name", "comparison_operator": "is", "value": "attendance"}
        ]
    }
    hits = _retrieve(
        client, dataset_id, "养老", retrieval_model={"metadata_filtering_conditions": by_name}
    )
    assert {r["segment"]["document"]["name"] for r in hits} == {"attendance"}
    assert client.delete(f"/datasets/{dataset_id}/metadata/{field_id}").status_code == 204
    assert [
        f["name"] for f in client.get(f"/datasets/{dataset_id}/metadata").json()["doc_metadata"]
    ] == ["year"]


def test_tags(server: LiveServer) -> None:
    client = dataset_client(server)
    dataset = _dataset(client)
    name = f"tag-{uuid.uuid4().hex[:6]}"
    tag = client.post("/datasets/tags", json={"name": name})
    assert tag.status_code == 200, tag.text
    assert tag.json()["binding_count"] == "0" and tag.json()["type"] == "knowledge"
    tag_id = tag.json()["id"]
    assert any(t["id"] == tag_id for t in client.get("/datasets/tags").json())
    bound = client.post(
        "/datasets/tags/binding", json={"tag_ids": [tag_id], "target_id": dataset["id"]}
    )
    assert bound.status_code == 204
    assert client.get(f"/datasets/{dataset['id']}/tags").json() == {
        "data": [{"id": tag_id, "name": name}],
        "total": 1,
    }
    tagged = client.get("/datasets", params={"tag_ids": tag_id}).json()
    assert [d["id"] for d in tagged["data"]] == [dataset["id"]]
    assert tagged["data"][0]["tags"] == [{"id": tag_id, "name": name, "type": "knowledge"}]
    renamed = client.patch("/datasets/tags", json={"tag_id": tag_id, "name": name + "x"}).json()
    assert renamed["name"] == name + "x" and renamed["binding_count"] == "1"
    unbound = client.post(
        "/datasets/tags/unbinding", json={"tag_id": tag_id, "target_id": dataset["id"]}
    )
    assert unbound.status_code == 204
    assert client.get(f"/datasets/{dataset['id']}/tags").json()["total"] == 0
    assert client.request("DELETE", "/datasets/tags", json={"tag_id": tag_id}).status_code == 204
    assert all(t["id"] != tag_id for t in client.get("/datasets/tags").json())
