"""Drive `dify-oapi2`'s knowledge module (`client.knowledge.v1`): datasets, documents by
text and by file, batch status, document status, segments, retrieval and tags.

dify-oapi2 validates answers against strict models, so every call here also checks that
the server's shapes parse (a Dify 1.x document has `doc_metadata: null` until it has
metadata values, which this client models as one object).
"""

from __future__ import annotations

import io
import os
import time
import uuid
from typing import Any

from dify_oapi.api.knowledge.v1.model import (
    bind_tags_to_dataset_request as btr,
)
from dify_oapi.api.knowledge.v1.model import (
    bind_tags_to_dataset_request_body as btb,
)
from dify_oapi.api.knowledge.v1.model import (
    create_dataset_request as cdr,
)
from dify_oapi.api.knowledge.v1.model import (
    create_dataset_request_body as cdb,
)
from dify_oapi.api.knowledge.v1.model import (
    create_document_by_file_request as cfr,
)
from dify_oapi.api.knowledge.v1.model import (
    create_document_by_file_request_body as cfb,
)
from dify_oapi.api.knowledge.v1.model import (
    create_document_by_file_request_body_data as cfd,
)
from dify_oapi.api.knowledge.v1.model import (
    create_document_by_text_request as ctr,
)
from dify_oapi.api.knowledge.v1.model import (
    create_document_by_text_request_body as ctb,
)
from dify_oapi.api.knowledge.v1.model import (
    create_segment_request as csr,
)
from dify_oapi.api.knowledge.v1.model import (
    create_segment_request_body as csb,
)
from dify_oapi.api.knowledge.v1.model import (
    create_tag_request as ctagr,
)
from dify_oapi.api.knowledge.v1.model import (
    create_tag_request_body as ctagb,
)
from dify_oapi.api.knowledge.v1.model import (
    delete_dataset_request as ddr,
)
from dify_oapi.api.knowledge.v1.model import (
    delete_document_request as ddocr,
)
from dify_oapi.api.knowledge.v1.model import (
    delete_segment_request as dsr,
)
from dify_oapi.api.knowledge.v1.model import (
    delete_tag_request as dtr,
)
from dify_oapi.api.knowledge.v1.model import (
    delete_tag_request_body as dtb,
)
from dify_oapi.api.knowledge.v1.model import (
    get_batch_indexing_status_request as gbr,
)
from dify_oapi.api.knowledge.v1.model import (
    get_dataset_request as gdr,
)
from dify_oapi.api.knowledge.v1.model import (
    get_dataset_tags_request as gdtr,
)
from dify_oapi.api.knowledge.v1.model import (
    get_document_request as gdocr,
)
from dify_oapi.api.knowledge.v1.model import (
    get_segment_request as gsr,
)
from dify_oapi.api.knowledge.v1.model import (
    get_text_embedding_models_request as gem,
)
from dify_oapi.api.knowledge.v1.model import (
    list_datasets_request as ldr,
)
from dify_oapi.api.knowledge.v1.model import (
    list_documents_request as ldocr,
)
from dify_oapi.api.knowledge.v1.model import (
    list_segments_request as lsr,
)
from dify_oapi.api.knowledge.v1.model import (
    list_tags_request as ltr,
)
from dify_oapi.api.knowledge.v1.model import (
    process_rule as pr,
)
from dify_oapi.api.knowledge.v1.model import (
    retrieval_model as rm,
)
from dify_oapi.api.knowledge.v1.model import (
    retrieve_from_dataset_request as rr,
)
from dify_oapi.api.knowledge.v1.model import (
    retrieve_from_dataset_request_body as rb,
)
from dify_oapi.api.knowledge.v1.model import (
    segment_content as sc,
)
from dify_oapi.api.knowledge.v1.model import (
    unbind_tags_from_dataset_request as utr,
)
from dify_oapi.api.knowledge.v1.model import (
    unbind_tags_from_dataset_request_body as utb,
)
from dify_oapi.api.knowledge.v1.model import (
    update_dataset_request as udr,
)
from dify_oapi.api.knowledge.v1.model import (
    update_dataset_request_body as udb,
)
from dify_oapi.api.knowledge.v1.model import (
    update_document_by_text_request as utxr,
)
from dify_oapi.api.knowledge.v1.model import (
    update_document_by_text_request_body as utxb,
)
from dify_oapi.api.knowledge.v1.model import (
    update_document_status_request as usr,
)
from dify_oapi.api.knowledge.v1.model import (
    update_document_status_request_body as usb,
)
from dify_oapi.api.knowledge.v1.model import (
    update_segment_request as upsr,
)
from dify_oapi.api.knowledge.v1.model import (
    update_segment_request_body as upsb,
)
from dify_oapi.api.knowledge.v1.model import (
    update_tag_request as uptr,
)
from dify_oapi.api.knowledge.v1.model import (
    update_tag_request_body as uptb,
)
from dify_oapi.client import Client
from dify_oapi.core.model.request_option import RequestOption
from tally import ROOT, Tally

t = Tally("dify-oapi2 knowledge")
client = Client.builder().domain(ROOT).build()
option = RequestOption.builder().api_key(os.environ["CHATFLOW_DATASET_KEY"]).build()
v1 = client.knowledge.v1


def ok(response: Any) -> Any:
    assert response.success, f"{response.code}: {response.msg}"
    return response


def raw_json(response: Any) -> Any:
    import json

    return json.loads(ok(response).raw.content)


name = f"oapi2-{uuid.uuid4().hex[:8]}"
created = t.call(
    "dataset.create",
    lambda: ok(
        v1.dataset.create(
            cdr.CreateDatasetRequest.builder()
            .request_body(
                cdb.CreateDatasetRequestBody.builder()
                .name(name)
                .description("tea notes")
                .indexing_technique("high_quality")
                .permission("only_me")
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.name == name and r.indexing_technique == "high_quality",
)
dataset_id = created.id if created else "x"
t.call(
    "dataset.list",
    lambda: ok(
        v1.dataset.list(ldr.ListDatasetsRequest.builder().page(1).limit(100).build(), option)
    ),
    lambda r: any(d.id == dataset_id for d in r.data),
)
t.call(
    "dataset.get",
    lambda: ok(
        v1.dataset.get(gdr.GetDatasetRequest.builder().dataset_id(dataset_id).build(), option)
    ),
    lambda r: r.id == dataset_id and r.retrieval_model_dict.search_method,
)
t.call(
    "dataset.update",
    lambda: ok(
        v1.dataset.update(
            udr.UpdateDatasetRequest.builder()
            .dataset_id(dataset_id)
            .request_body(
                udb.UpdateDatasetRequestBody.builder()
                .description("green and black tea")
                .retrieval_model(
                    rm.RetrievalModel.builder()
                    .search_method("hybrid_search")
                    .reranking_enable(False)
                    .top_k(3)
                    .score_threshold_enabled(False)
                    .build()
                )
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.description == "green and black tea" and r.retrieval_model_dict.top_k == 3,
)
by_text = t.call(
    "document.create_by_text",
    lambda: ok(
        v1.document.create_by_text(
            ctr.CreateDocumentByTextRequest.builder()
            .dataset_id(dataset_id)
            .request_body(
                ctb.CreateDocumentByTextRequestBody.builder()
                .name("green.md")
                .text("Green tea is steeped at 80 degrees for two minutes.")
                .indexing_technique("high_quality")
                .process_rule(pr.ProcessRule.builder().mode("automatic").build())
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.batch and r.document.indexing_status == "waiting",
)
document_id = by_text.document.id if by_text else "x"


def wait(batch: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        request = gbr.GetBatchIndexingStatusRequest.builder().dataset_id(dataset_id).batch(batch)
        (status,) = raw_json(v1.document.get_batch_status(request.build(), option))["data"]
        if status["indexing_status"] in ("completed", "error") or time.monotonic() > deadline:
            return dict(status)
        time.sleep(0.1)


t.call(
    "document.get_batch_status",
    lambda: wait(by_text.batch if by_text else "x"),
    lambda s: s["indexing_status"] == "completed",
)
by_file = t.call(
    "document.create_by_file",
    lambda: ok(
        v1.document.create_by_file(
            cfr.CreateDocumentByFileRequest.builder()
            .dataset_id(dataset_id)
            .request_body(
                cfb.CreateDocumentByFileRequestBody.builder()
                .data(
                    cfd.CreateDocumentByFileRequestBodyData.builder()
                    .indexing_technique("high_quality")
                    .process_rule(pr.ProcessRule.builder().mode("automatic").build())
                    .build()
                )
                .build()
            )
            .file(io.BytesIO(b"Black tea wants boiling water and four minutes."), "black.txt")
            .build(),
            option,
        )
    ),
    lambda r: r.document.name == "black.txt",
)
t.call(
    "document.get_batch_status(file)",
    lambda: wait(by_file.batch if by_file else "x"),
    lambda s: s["indexing_status"] == "completed",
)
t.call(
    "document.list",
    lambda: ok(
        v1.document.list(
            ldocr.ListDocumentsRequest.builder().dataset_id(dataset_id).page(1).limit(20).build(),
            option,
        )
    ),
    lambda r: {d.name for d in r.data} == {"green.md", "black.txt"} and r.total == 2,
)
t.call(
    "document.get",
    lambda: ok(
        v1.document.get(
            gdocr.GetDocumentRequest.builder()
            .dataset_id(dataset_id)
            .document_id(document_id)
            .build(),
            option,
        )
    ),
    lambda r: r.id == document_id and r.indexing_status == "completed",
)
t.call(
    "dataset.retrieve",
    lambda: ok(
        v1.dataset.retrieve(
            rr.RetrieveFromDatasetRequest.builder()
            .dataset_id(dataset_id)
            .request_body(
                rb.RetrieveFromDatasetRequestBody.builder()
                .query("how hot for green tea")
                .retrieval_model(
                    rm.RetrievalModel.builder()
                    .search_method("semantic_search")
                    .reranking_enable(False)
                    .top_k(2)
                    .score_threshold_enabled(False)
                    .build()
                )
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: (
        r.query.content == "how hot for green tea"
        and r.records[0].segment.document.name == "green.md"
    ),
)
segments = t.call(
    "segment.create",
    lambda: ok(
        v1.segment.create(
            csr.CreateSegmentRequest.builder()
            .dataset_id(dataset_id)
            .document_id(document_id)
            .request_body(
                csb.CreateSegmentRequestBody.builder()
                .segments([sc.SegmentContent.builder().content("Matcha is whisked.").build()])
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.data[0].content == "Matcha is whisked.",
)
segment_id = segments.data[0].id if segments else "x"
t.call(
    "segment.list",
    lambda: ok(
        v1.segment.list(
            lsr.ListSegmentsRequest.builder()
            .dataset_id(dataset_id)
            .document_id(document_id)
            .build(),
            option,
        )
    ),
    lambda r: r.total == 2,
)
t.call(
    "segment.get",
    lambda: raw_json(
        v1.segment.get(
            gsr.GetSegmentRequest.builder()
            .dataset_id(dataset_id)
            .document_id(document_id)
            .segment_id(segment_id)
            .build(),
            option,
        )
    ),
    lambda r: r["data"]["id"] == segment_id,
)
t.call(
    "segment.update",
    lambda: raw_json(
        v1.segment.update(
            upsr.UpdateSegmentRequest.builder()
            .dataset_id(dataset_id)
            .document_id(document_id)
            .segment_id(segment_id)
            .request_body(
                upsb.UpdateSegmentRequestBody.builder()
                .segment(
                    sc.SegmentContent.builder().content("Matcha is whisked, not steeped.").build()
                )
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r["data"]["content"] == "Matcha is whisked, not steeped.",
)
t.call(
    "segment.delete",
    lambda: ok(
        v1.segment.delete(
            dsr.DeleteSegmentRequest.builder()
            .dataset_id(dataset_id)
            .document_id(document_id)
            .segment_id(segment_id)
            .build(),
            option,
        )
    ),
)
t.call(
    "document.update_status(disable)",
    lambda: ok(
        v1.document.update_status(
            usr.UpdateDocumentStatusRequest.builder()
            .dataset_id(dataset_id)
            .action("disable")
            .request_body(
                usb.UpdateDocumentStatusRequestBody.builder().document_ids([document_id]).build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.result == "success",
)
t.call(
    "document.update_status(enable)",
    lambda: ok(
        v1.document.update_status(
            usr.UpdateDocumentStatusRequest.builder()
            .dataset_id(dataset_id)
            .action("enable")
            .request_body(
                usb.UpdateDocumentStatusRequestBody.builder().document_ids([document_id]).build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.result == "success",
)
updated = t.call(
    "document.update_by_text",
    lambda: ok(
        v1.document.update_by_text(
            utxr.UpdateDocumentByTextRequest.builder()
            .dataset_id(dataset_id)
            .document_id(document_id)
            .request_body(
                utxb.UpdateDocumentByTextRequestBody.builder()
                .name("green.md")
                .text("Green tea: 75 degrees, ninety seconds.")
                .build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.batch,
)
t.call("document.update_by_text(wait)", lambda: wait(updated.batch if updated else "x"))
tag = t.call(
    "tag.create",
    lambda: ok(
        v1.tag.create(
            ctagr.CreateTagRequest.builder()
            .request_body(ctagb.CreateTagRequestBody.builder().name(f"tag-{name}").build())
            .build(),
            option,
        )
    ),
    lambda r: r.id and r.binding_count == 0,
)
tag_id = tag.id if tag else "x"
t.call(
    "tag.list",
    lambda: ok(v1.tag.list(ltr.ListTagsRequest.builder().type("knowledge").build(), option)),
    lambda r: any(x.id == tag_id for x in r.data),
)
t.call(
    "tag.bind",
    lambda: ok(
        v1.tag.bind(
            btr.BindTagsToDatasetRequest.builder()
            .request_body(
                btb.BindTagsToDatasetRequestBody.builder()
                .tag_ids([tag_id])
                .target_id(dataset_id)
                .build()
            )
            .build(),
            option,
        )
    ),
)
t.call(
    "tag.get_dataset_tags",
    lambda: ok(
        v1.tag.get_dataset_tags(
            gdtr.GetDatasetTagsRequest.builder().dataset_id(dataset_id).build(), option
        )
    ),
    lambda r: r.total == 1 and r.data[0].id == tag_id,
)
t.call(
    "tag.update",
    lambda: ok(
        v1.tag.update(
            uptr.UpdateTagRequest.builder()
            .request_body(
                uptb.UpdateTagRequestBody.builder().tag_id(tag_id).name(f"tag2-{name}").build()
            )
            .build(),
            option,
        )
    ),
    lambda r: r.name == f"tag2-{name}" and r.binding_count == 1,
)
t.call(
    "tag.unbind",
    lambda: ok(
        v1.tag.unbind(
            utr.UnbindTagsFromDatasetRequest.builder()
            .request_body(
                utb.UnbindTagsFromDatasetRequestBody.builder()
                .tag_id(tag_id)
                .target_id(dataset_id)
                .build()
            )
            .build(),
            option,
        )
    ),
)
t.call(
    "tag.delete",
    lambda: ok(
        v1.tag.delete(
            dtr.DeleteTagRequest.builder()
            .request_body(dtb.DeleteTagRequestBody.builder().tag_id(tag_id).build())
            .build(),
            option,
        )
    ),
)
t.call(
    "document.delete",
    lambda: ok(
        v1.document.delete(
            ddocr.DeleteDocumentRequest.builder()
            .dataset_id(dataset_id)
            .document_id(document_id)
            .build(),
            option,
        )
    ),
)
t.call(
    "dataset.delete",
    lambda: ok(
        v1.dataset.delete(ddr.DeleteDatasetRequest.builder().dataset_id(dataset_id).build(), option)
    ),
)
t.call(
    "model.embedding_models",
    lambda: ok(
        v1.model.embedding_models(gem.GetTextEmbeddingModelsRequest.builder().build(), option)
    ),
    lambda r: r.data[0].models[0].model_type == "text-embedding",
)
t.report()
