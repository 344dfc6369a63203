"""`POST /messages/{message_id}/feedbacks` and `GET /app/feedbacks`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, field_validator

from chatflow.api._json import JSONResponse
from chatflow.api.deps import AppDep, ServicesDep, int_param
from chatflow.store.models import MessageFeedback

router = APIRouter(tags=["Feedback"])


class FeedbackBody(BaseModel):
    """`rating` like|dislike|null (null revokes); `content` may be null."""

    model_config = ConfigDict(extra="ignore")

    rating: str | None = None
    user: str | None = None
    content: str | None = None

    @field_validator("user", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def feedback_item(row: MessageFeedback) -> dict[str, Any]:
    return {
        "id": row.id,
        "app_id": row.app_id,
        "conversation_id": row.conversation_id,
        "message_id": row.message_id,
        "rating": row.rating,
        "content": row.content,
        "from_source": row.from_source,
        "from_end_user_id": row.end_user_id,
        "from_account_id": None,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


@router.post("/messages/{message_id}/feedbacks")
async def rate_message(
    message_id: str, body: FeedbackBody, app: AppDep, services: ServicesDep
) -> JSONResponse:
    """Like, dislike or (`rating: null`) revoke; `{"result": "success"}`."""
    await services.feedbacks.rate(
        app, body.user, message_id, rating=body.rating, content=body.content
    )
    return JSONResponse({"result": "success"})


@router.get("/app/feedbacks")
async def list_feedbacks(
    app: AppDep, services: ServicesDep, page: str | None = None, limit: str | None = None
) -> JSONResponse:
    rows = await services.feedbacks.page(
        app, page=int_param(page, "page", 1), limit=int_param(limit, "limit", 20)
    )
    return JSONResponse({"data": [feedback_item(r) for r in rows]})
