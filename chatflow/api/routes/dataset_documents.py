"""Knowledge API: documents (by text or file, both spellings), batches, detail, delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile as FormFile
from starlette.responses import Response

from chatflow.api import knowledge_serializers as ser
from chatflow.api._json import JSONResponse
from chatflow.api.knowledge_deps import KnowledgeDep, int_arg, json_object, str_field, uuid_path
from chatflow.errors import InvalidRequest
from chatflow.services.knowledge import KnowledgeError, KnowledgeService, NewDocument

router = APIRouter(tags=["Knowledge: documents"])

_METADATA_CHOICES = ("all", "only", "without")


def _options(body: dict[str, Any]) -> dict[str, Any]:
    rule = body.get("process_rule")
    if rule is not None and not isinstance(rule, dict):
        raise InvalidRequest("process_rule: Input should be a valid dictionary")
    retrieval = body.get("retrieval_model")
    if retrieval is not None and not isinstance(retrieval, dict):
        raise InvalidRequest("retrieval_model: Input should be a valid dictionary")
    return {
        "process_rule": rule,
        "retrieval_model": retrieval,
        "indexing_technique": str_field(body, "indexing_technique"),
        "doc_form": str_field(body, "doc_form") or "text_model",
        "doc_language": str_field(body, "doc_language") or "English",
    }


def _created(knowledge: KnowledgeService, document: Any, batch: str) -> JSONResponse:
    return JSONResponse({"document": ser.document(document), "batch": batch})


@router.post("/datasets/{dataset_id}/document/create-by-text")
@router.post("/datasets/{dataset_id}/document/create_by_text", name="create_by_text_underscored")
async def create_by_text(
    dataset_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """A document from `name` and `text`; ingestion runs in the background (`batch`)."""
    body = await json_object(request)
    name = str_field(body, "name", required=True) or ""
    text = str_field(body, "text", required=True) or ""
    options = _options(body)
    new = NewDocument(
        name=name,
        content=text.encode("utf-8"),
        extension="txt",
        mime_type="text/plain",
        process_rule=options["process_rule"],
        doc_form=options["doc_form"],
        doc_language=options["doc_language"],
    )
    document, batch = await knowledge.create_document(
        uuid_path(dataset_id),
        new,
        indexing_technique=options["indexing_technique"],
        retrieval_model=options["retrieval_model"],
    )
    return _created(knowledge, document, batch)


async def _form_file(request: Request) -> tuple[dict[str, Any], FormFile | None, Any]:
    try:
        form = await request.form()
    except Exception:
        raise InvalidRequest("Please upload your file.", code="no_file_uploaded") from None
    files = [value for _, value in form.multi_items() if isinstance(value, FormFile)]
    raw = form.get("data")
    data: dict[str, Any] = {}
    if isinstance(raw, str) and raw.strip():
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await form.close()
            raise InvalidRequest("data: must be a JSON object") from None
        if not isinstance(parsed, dict):
            await form.close()
            raise InvalidRequest("data: must be a JSON object")
        data = parsed
    if len(files) > 1:
        await form.close()
        raise InvalidRequest("Only one file is allowed.", code="too_many_files")
    upload = form.get("file")
    return data, upload if isinstance(upload, FormFile) else None, form


async def _new_from_upload(
    knowledge: KnowledgeService, data: dict[str, Any], upload: FormFile
) -> NewDocument:
    if not upload.filename:
        raise InvalidRequest(
            "The specified filename does not exist.", code="filename_not_exists_error"
        )
    extension = knowledge.check_upload(upload.filename, upload.size or 0)
    content = await upload.read()
    knowledge.check_upload(upload.filename, len(content))
    options = _options(data)
    return NewDocument(
        name=upload.filename,
        content=content,
        extension=extension,
        mime_type=upload.content_type or "application/octet-stream",
        process_rule=options["process_rule"],
        doc_form=options["doc_form"],
        doc_language=options["doc_language"],
    )


@router.post("/datasets/{dataset_id}/document/create-by-file")
@router.post("/datasets/{dataset_id}/document/create_by_file", name="create_by_file_underscored")
async def create_by_file(
    dataset_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """A document from a multipart `file` (txt, md, html, pdf, docx, xlsx, csv, ...) and
    optional `data` (JSON: indexing_technique, process_rule, doc_form, ...)."""
    dataset_id = uuid_path(dataset_id)
    data, upload, form = await _form_file(request)
    try:
        if upload is None:
            raise InvalidRequest("Please upload your file.", code="no_file_uploaded")
        new = await _new_from_upload(knowledge, data, upload)
    finally:
        await form.close()
    dataset = await knowledge.document_dataset(dataset_id)
    if new.process_rule is None and not dataset.process_rule:
        # Dify asks for rules when the dataset has none to fall back on; automatic ones
        # are what its UI picks, so they stand in rather than failing the upload.
        new = replace(new, process_rule={"mode": "automatic"})
    options = _options(data)
    document, batch = await knowledge.create_document(
        dataset_id,
        new,
        indexing_technique=options["indexing_technique"],
        retrieval_model=options["retrieval_model"],
    )
    return _created(knowledge, document, batch)


@router.post("/datasets/{dataset_id}/documents/{document_id}/update-by-text")
@router.post(
    "/datasets/{dataset_id}/documents/{document_id}/update_by_text",
    name="update_by_text_underscored",
)
async def update_by_text(
    dataset_id: str, document_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """New `text` (with `name`) and/or `process_rule`: the document is ingested again."""
    body = await json_object(request)
    name = str_field(body, "name")
    text = str_field(body, "text")
    if text is not None and name is None:
        raise InvalidRequest("name is required when text is provided")
    options = _options(body)
    new = None
    if text or options["process_rule"]:
        new = NewDocument(
            name=name or "",
            content=(text or "").encode("utf-8"),
            extension="txt",
            mime_type="text/plain",
            process_rule=options["process_rule"],
        )
    document, batch = await knowledge.update_document(
        uuid_path(dataset_id), uuid_path(document_id), new, name=name
    )
    return JSONResponse({"document": ser.document(document), "batch": batch})


@router.post("/datasets/{dataset_id}/documents/{document_id}/update-by-file")
@router.post(
    "/datasets/{dataset_id}/documents/{document_id}/update_by_file",
    name="update_by_file_underscored",
)
async def update_by_file(
    dataset_id: str, document_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    data, upload, form = await _form_file(request)
    try:
        new = await _new_from_upload(knowledge, data, upload) if upload is not None else None
    finally:
        await form.close()
    if new is None and data.get("process_rule"):
        new = NewDocument("", b"", "", "", _options(data)["process_rule"])
    document, batch = await knowledge.update_document(
        uuid_path(dataset_id),
        uuid_path(document_id),
        new,
        name=new.name if new is not None and new.content else None,
    )
    return JSONResponse({"document": ser.document(document), "batch": batch})


@router.get("/datasets/{dataset_id}/documents")
async def list_documents(
    dataset_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """Documents, newest first; `page`, `limit`, `keyword`, `status` (display status)."""
    limit = int_arg(request, "limit", 20, high=100)
    page = int_arg(request, "page", 1)
    found = await knowledge.list_documents(
        uuid_path(dataset_id),
        page=page,
        limit=limit,
        keyword=request.query_params.get("keyword") or None,
        status=request.query_params.get("status") or None,
    )
    return JSONResponse(
        ser.page(
            [ser.document(d) for d in found.items],
            # Dify's rule for documents: a full page means there may be more.
            has_more=len(found.items) == limit,
            limit=limit,
            total=found.total,
            page=page,
        )
    )


@router.get("/datasets/{dataset_id}/documents/{batch}/indexing-status")
async def indexing_status(dataset_id: str, batch: str, knowledge: KnowledgeDep) -> JSONResponse:
    """Progress of every document created by one request (`batch`)."""
    found = await knowledge.indexing_status(uuid_path(dataset_id), batch)
    return JSONResponse({"data": [ser.batch_status(item) for item in found]})


@router.get("/datasets/{dataset_id}/documents/{document_id}")
async def get_document(
    dataset_id: str, document_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """The document's detail; `metadata=all|only|without` (default all)."""
    metadata = request.query_params.get("metadata", "all")
    if metadata not in _METADATA_CHOICES:
        raise KnowledgeError(
            f"Invalid metadata value: {metadata}", code="invalid_metadata", status=400
        )
    dataset_id = uuid_path(dataset_id)
    dataset, document, stats = await knowledge.get_document(dataset_id, uuid_path(document_id))
    _, fields = await knowledge.metadata.fields(dataset_id)
    return JSONResponse(
        ser.document_detail(document, dataset, stats, [f for f, _ in fields], metadata)
    )


@router.get("/datasets/{dataset_id}/documents/{document_id}/upload-file")
async def upload_file_info(
    dataset_id: str, document_id: str, knowledge: KnowledgeDep
) -> JSONResponse:
    """The original file behind a document."""
    _, document, _ = await knowledge.get_document(uuid_path(dataset_id), uuid_path(document_id))
    return JSONResponse(
        {
            "id": document.file_id,
            "name": document.name,
            "size": document.size,
            "extension": document.extension,
            "url": None,
            "download_url": None,
            "mime_type": document.mime_type,
            "created_by": ser.CREATED_BY,
            "created_at": int(document.created_at.timestamp()),
        }
    )


@router.delete("/datasets/{dataset_id}/documents/{document_id}", status_code=204)
async def delete_document(dataset_id: str, document_id: str, knowledge: KnowledgeDep) -> Response:
    await knowledge.delete_document(uuid_path(dataset_id), uuid_path(document_id))
    return Response(status_code=204)
