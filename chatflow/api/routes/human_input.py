"""Human input forms (Dify 1.13+ Service API): fetch, submit, and follow the resumed run.

- `GET /form/human_input/{form_token}`: the waiting form;
- `POST /form/human_input/{form_token}` `{"inputs": {...}, "action": "...", "user": "..."}`:
  `{}` on success; the run resumes in the background;
- `GET /workflow/{task_id}/events?user=`: Server-Sent Events of the run's latest segment
  (`task_id` is the workflow run id, as in Dify).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from chatflow.api._json import JSONResponse
from chatflow.api.deps import AppDep, ServicesDep
from chatflow.api.sse import ChatStreamEncoder, encode_stream, sse_response
from chatflow.api.workflow_sse import WorkflowStreamEncoder
from chatflow.errors import InvalidRequest

router = APIRouter(tags=["Human Input"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "`not_found`: no such form for this app (or another user's)."},
    412: {
        "description": "`human_input_form_submitted` or `human_input_form_expired`: "
        "the form can no longer be submitted."
    },
}


class FormSubmitBody(BaseModel):
    """Dify's `HumanInputFormSubmitPayload` plus the end user."""

    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] = Field(default_factory=dict)
    action: str
    user: str


@router.get(
    "/form/human_input/{form_token}",
    summary="Get Human Input Form",
    description=(
        "The form a paused run waits on, by the `form_token` from `human_input_required`: "
        "`{form_content, inputs, resolved_default_values, user_actions, expiration_time}` "
        "(default values as strings). Expired or submitted forms answer 412."
    ),
    responses=_ERRORS,
)
async def get_form(form_token: str, request: Request, app: AppDep, services: ServicesDep) -> Any:
    user = request.query_params.get("user") or None
    return JSONResponse(await services.human_input.form(app, form_token, user))


@router.post(
    "/form/human_input/{form_token}",
    summary="Submit Human Input Form",
    description=(
        "Submit the form: `action` is the id of one of its `user_actions`, `inputs` holds "
        "a value for every input. Answers `{}`; the paused run resumes on the branch of "
        "that action and streams on `GET /workflow/{workflow_run_id}/events`. Unknown "
        "actions or missing inputs answer 400 `invalid_form_data`."
    ),
    responses={400: {"description": "`invalid_form_data` or `invalid_param`."}, **_ERRORS},
)
async def submit_form(
    form_token: str, body: FormSubmitBody, app: AppDep, services: ServicesDep
) -> JSONResponse:
    if not body.user:
        raise InvalidRequest("user is required")
    await services.human_input.submit(
        app, form_token, user=body.user, action=body.action, inputs=body.inputs
    )
    return JSONResponse({})


@router.get(
    "/workflow/{task_id}/events",
    summary="Workflow Events After Resume",
    description=(
        "Server-Sent Events of a paused run's latest segment, from its start: after a form "
        "is submitted, `workflow_started` (`reason: resumption`), `node_started`, "
        "`human_input_form_filled`, ..., `message_end`, `workflow_finished` — or "
        "`human_input_required` + `workflow_paused` if it pauses again (workflow apps: "
        "their `/workflows/run` frames). `task_id` is the "
        "workflow run id; `user` must be the run's end user (404 otherwise)."
    ),
    response_description="An event stream.",
    responses={404: {"description": "`not_found`: no paused run with this id for the user."}},
)
async def workflow_events(
    task_id: str, request: Request, app: AppDep, services: ServicesDep
) -> Response:
    user = request.query_params.get("user") or ""
    info = await services.human_input.events(app, task_id, user)
    items = services.streams.subscribe(info.task_id)
    encoder = WorkflowStreamEncoder(info) if info.mode == "workflow" else ChatStreamEncoder(info)
    interval = services.settings.ping_interval
    return sse_response(encode_stream(items, encoder, ping_interval=interval))
