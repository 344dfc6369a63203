"""Wire data of Dify's human-input stream events (`api/sse.py` frames them).

Shapes from Dify's `WorkflowResponseConverter` (1.13+): `human_input_required`,
`workflow_paused` (`outputs` is always `{}` for Service API callers),
`human_input_form_filled` and `human_input_form_timeout`.
"""

from __future__ import annotations

import math
from typing import Any

from chatflow.engine import events as ev

HumanInputEvent = ev.HumanInputRequired | ev.HumanInputFormFilled | ev.HumanInputFormTimeout


def human_input_data(event: HumanInputEvent) -> tuple[str, dict[str, Any]]:
    """The event name and `data` of one human-input frame."""
    if isinstance(event, ev.HumanInputRequired):
        expiration = event.timeout_at
        return "human_input_required", {
            "form_id": event.form_id,
            "node_id": event.node_id,
            "node_title": event.title,
            "form_content": event.form_content,
            "inputs": [dict(item) for item in event.inputs],
            "actions": [dict(item) for item in event.actions],
            "display_in_ui": event.display_in_ui,
            "form_token": event.form_token or None,
            "resolved_default_values": dict(event.resolved_default_values),
            "expiration_time": math.floor(expiration) if expiration is not None else None,
        }
    if isinstance(event, ev.HumanInputFormFilled):
        return "human_input_form_filled", {
            "node_id": event.node_id,
            "node_title": event.title,
            "rendered_content": event.rendered_content,
            "action_id": event.action_id,
            "action_text": event.action_text,
        }
    return "human_input_form_timeout", {
        "node_id": event.node_id,
        "node_title": event.title,
        "expiration_time": math.floor(event.expiration_time),
    }


def paused_data(paused: ev.RunPaused, workflow_run_id: str) -> dict[str, Any]:
    """`workflow_paused.data`: where the run waits and what it has done so far."""
    return {
        "workflow_run_id": workflow_run_id,
        "paused_nodes": list(paused.paused_nodes),
        "outputs": {},
        "reasons": [dict(reason) for reason in paused.reasons],
        "status": "paused",
        "created_at": math.floor(paused.started_at),
        "elapsed_time": round(paused.elapsed, 6),
        "total_tokens": paused.total_tokens,
        "total_steps": paused.total_steps,
    }
