"""`client.annotations`: curated Q&A pairs and the annotation-reply switch (a background job)."""

from __future__ import annotations

from .._base import Operation, body, parse_json, parse_none
from .._models import Annotation, AnnotationAction, AnnotationList, AnnotationReplyJob
from ._resource import AsyncResource, SyncResource


def _list(page: int | None, limit: int | None, keyword: str | None) -> Operation[AnnotationList]:
    params = {"page": page, "limit": limit, "keyword": keyword}
    return Operation("GET", "/apps/annotations", parse_json(AnnotationList), params=params)


def _create(question: str, answer: str) -> Operation[Annotation]:
    payload = {"question": question, "answer": answer}
    return Operation("POST", "/apps/annotations", parse_json(Annotation), json=payload)


def _update(annotation_id: str, question: str, answer: str) -> Operation[Annotation]:
    path = f"/apps/annotations/{annotation_id}"
    payload = {"question": question, "answer": answer}
    return Operation("PUT", path, parse_json(Annotation), json=payload)


def _delete(annotation_id: str) -> Operation[None]:
    return Operation("DELETE", f"/apps/annotations/{annotation_id}", parse_none)


def _reply(
    action: AnnotationAction,
    score_threshold: float | None,
    provider: str | None,
    model: str | None,
) -> Operation[AnnotationReplyJob]:
    payload = body(
        score_threshold=score_threshold,
        embedding_provider_name=provider,
        embedding_model_name=model,
    )
    path = f"/apps/annotation-reply/{action}"
    return Operation("POST", path, parse_json(AnnotationReplyJob), json=payload)


def _reply_status(action: AnnotationAction, job_id: str) -> Operation[AnnotationReplyJob]:
    path = f"/apps/annotation-reply/{action}/status/{job_id}"
    return Operation("GET", path, parse_json(AnnotationReplyJob))


class Annotations(SyncResource):
    def list(
        self, *, page: int | None = None, limit: int | None = None, keyword: str | None = None
    ) -> AnnotationList:
        return self._client.request(_list(page, limit, keyword))

    def create(self, *, question: str, answer: str) -> Annotation:
        return self._client.request(_create(question, answer))

    def update(self, annotation_id: str, *, question: str, answer: str) -> Annotation:
        return self._client.request(_update(annotation_id, question, answer))

    def delete(self, annotation_id: str) -> None:
        self._client.request(_delete(annotation_id))

    def reply_settings(
        self,
        action: AnnotationAction,
        *,
        score_threshold: float | None = None,
        embedding_provider_name: str | None = None,
        embedding_model_name: str | None = None,
    ) -> AnnotationReplyJob:
        """Start the enable/disable job; poll `reply_status` until completed or failed."""
        op = _reply(action, score_threshold, embedding_provider_name, embedding_model_name)
        return self._client.request(op)

    def reply_status(self, action: AnnotationAction, job_id: str) -> AnnotationReplyJob:
        return self._client.request(_reply_status(action, job_id))


class AsyncAnnotations(AsyncResource):
    async def list(
        self, *, page: int | None = None, limit: int | None = None, keyword: str | None = None
    ) -> AnnotationList:
        return await self._client.request(_list(page, limit, keyword))

    async def create(self, *, question: str, answer: str) -> Annotation:
        return await self._client.request(_create(question, answer))

    async def update(self, annotation_id: str, *, question: str, answer: str) -> Annotation:
        return await self._client.request(_update(annotation_id, question, answer))

    async def delete(self, annotation_id: str) -> None:
        await self._client.request(_delete(annotation_id))

    async def reply_settings(
        self,
        action: AnnotationAction,
        *,
        score_threshold: float | None = None,
        embedding_provider_name: str | None = None,
        embedding_model_name: str | None = None,
    ) -> AnnotationReplyJob:
        op = _reply(action, score_threshold, embedding_provider_name, embedding_model_name)
        return await self._client.request(op)

    async def reply_status(self, action: AnnotationAction, job_id: str) -> AnnotationReplyJob:
        return await self._client.request(_reply_status(action, job_id))
