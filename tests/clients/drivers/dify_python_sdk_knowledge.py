"""Drive `dify-python-sdk`'s `KnowledgeBaseClient` (module `dify_client`): datasets,
documents by text and by file, batches, segments, hit testing, metadata and tags."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from typing import Any

from dify_client import KnowledgeBaseClient
from tally import BASE_URL, Tally

DATASET_KEY = os.environ["CHATFLOW_DATASET_KEY"]
t = Tally("dify-python-sdk knowledge")
kb = KnowledgeBaseClient(DATASET_KEY, base_url=BASE_URL)


def ok(response: Any) -> Any:
    response.raise_for_status()
    if response.status_code == 204:
        return None
    return response.json()


def wait(client: KnowledgeBaseClient, batch: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        (status,) = ok(client.batch_indexing_status(batch))["data"]
        if status["indexing_status"] in ("completed", "error") or time.monotonic() > deadline:
            return dict(status)
        time.sleep(0.1)


name = f"py-sdk-{uuid.uuid4().hex[:8]}"
created = t.call(
    "create_dataset",
    lambda: ok(kb.create_dataset(name)),
    lambda r: r["name"] == name and r["id"],
)
t.call(
    "list_datasets",
    lambda: ok(kb.list_datasets(page=1, page_size=100)),
    lambda r: any(d["id"] == (created or {}).get("id") for d in r["data"]),
)
dataset = KnowledgeBaseClient(DATASET_KEY, base_url=BASE_URL, dataset_id=(created or {})["id"])
text_doc = t.call(
    "create_document_by_text",
    lambda: ok(dataset.create_document_by_text("tea.md", "Green tea is steeped at 80 degrees.")),
    lambda r: r["batch"] and r["document"]["indexing_status"] == "waiting",
)
t.call(
    "batch_indexing_status",
    lambda: wait(dataset, (text_doc or {})["batch"]),
    lambda s: s["indexing_status"] == "completed" and s["total_segments"] == 1,
)
document_id = (text_doc or {})["document"]["id"]
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "coffee.md")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("# Coffee\n\nEspresso is brewed at nine bar of pressure.")
    file_doc = t.call(
        "create_document_by_file",
        lambda: ok(
            dataset.create_document_by_file(
                path,
                extra_params={
                    "indexing_technique": "high_quality",
                    "process_rule": {
                        "mode": "custom",
                        "rules": {
                            "pre_processing_rules": [
                                {"id": "remove_extra_spaces", "enabled": True},
                                {"id": "remove_urls_emails", "enabled": True},
                            ],
                            "segmentation": {"separator": "\n", "max_tokens": 500},
                        },
                    },
                },
            )
        ),
        lambda r: r["document"]["name"] == "coffee.md",
    )
    t.call(
        "batch_indexing_status(file)",
        lambda: wait(dataset, (file_doc or {})["batch"]),
        lambda s: s["indexing_status"] == "completed",
    )
    t.call(
        "update_document_by_file",
        lambda: ok(dataset.update_document_by_file((file_doc or {})["document"]["id"], path)),
        lambda r: r["batch"],
    )
t.call(
    "list_documents",
    lambda: ok(dataset.list_documents(page=1, page_size=20, keyword="tea")),
    lambda r: [d["name"] for d in r["data"]] == ["tea.md"],
)
t.call(
    "hit_testing",
    lambda: ok(dataset.hit_testing("what temperature for green tea")),
    lambda r: r["records"][0]["segment"]["document"]["name"] == "tea.md",
)
t.call(
    "hit_testing(retrieval_model)",
    lambda: ok(
        dataset.hit_testing(
            "espresso pressure",
            retrieval_model={
                "search_method": "hybrid_search",
                "reranking_enable": False,
                "top_k": 1,
                "score_threshold_enabled": False,
            },
        )
    ),
    lambda r: len(r["records"]) == 1,
)
segments = t.call(
    "add_segments",
    lambda: ok(dataset.add_segments(document_id, [{"content": "Oolong is half oxidised."}])),
    lambda r: r["data"][0]["content"] == "Oolong is half oxidised.",
)
segment_id = (segments or {"data": [{"id": "x"}]})["data"][0]["id"]
t.call(
    "query_segments",
    lambda: ok(dataset.query_segments(document_id, status="completed")),
    lambda r: r["total"] == 2,
)
t.call(
    "update_document_segment",
    lambda: ok(
        dataset.update_document_segment(document_id, segment_id, {"content": "Oolong: 90 C."})
    ),
    lambda r: r["data"]["content"] == "Oolong: 90 C.",
)
t.call(
    "delete_document_segment", lambda: ok(dataset.delete_document_segment(document_id, segment_id))
)
updated = t.call(
    "update_document_by_text",
    lambda: ok(dataset.update_document_by_text(document_id, "tea.md", "Black tea: 95 degrees.")),
    lambda r: r["batch"],
)
# Re-indexed in the background: the document can be deleted (below) only once that is done,
# as in Dify ("Cannot delete document during indexing.").
t.call(
    "update_document_by_text(wait)",
    lambda: wait(dataset, (updated or {})["batch"]),
    lambda s: s["indexing_status"] == "completed",
)
field = t.call(
    "create_dataset_metadata",
    lambda: ok(dataset.create_dataset_metadata({"type": "string", "name": "origin"})),
    lambda r: r["name"] == "origin",
)
t.call(
    "update_dataset_metadata",
    lambda: ok(dataset.update_dataset_metadata((field or {})["id"], {"name": "country"})),
    lambda r: r["name"] == "country",
)
t.call(
    "update_documents_metadata",
    lambda: ok(
        dataset.update_documents_metadata(
            [
                {
                    "document_id": document_id,
                    "metadata_list": [
                        {"id": (field or {})["id"], "name": "country", "value": "China"}
                    ],
                }
            ]
        )
    ),
    lambda r: r == {"result": "success"},
)
t.call(
    "get_dataset_metadata",
    lambda: ok(dataset.get_dataset_metadata()),
    lambda r: r["doc_metadata"][0]["count"] == 1,
)
t.call(
    "get_built_in_metadata",
    lambda: ok(dataset.get_built_in_metadata()),
    lambda r: any(f["name"] == "document_name" for f in r["fields"]),
)
t.call(
    "manage_built_in_metadata",
    lambda: ok(dataset.manage_built_in_metadata("enable")),
    lambda r: r == {"result": "success"},
)
tag = t.call(
    "create_tag(raw)",
    lambda: ok(kb._send_request("POST", "/datasets/tags", json={"name": f"tag-{name}"})),
    lambda r: r["id"],
)
t.call(
    "bind_dataset_tags",
    lambda: dataset.bind_dataset_tags([(tag or {})["id"]]).raise_for_status(),
)
t.call(
    "get_dataset_tags",
    lambda: ok(dataset.get_dataset_tags()),
    lambda r: r["total"] == 1,
)
t.call(
    "list_dataset_tags",
    lambda: ok(dataset.list_dataset_tags()),
    lambda r: any(x["id"] == (tag or {})["id"] for x in r),
)
t.call(
    "unbind_dataset_tag",
    lambda: dataset.unbind_dataset_tag((tag or {})["id"]).raise_for_status(),
)
t.call("delete_document", lambda: ok(dataset.delete_document(document_id)))
t.call("delete_dataset", lambda: ok(dataset.delete_dataset()))
t.report()
