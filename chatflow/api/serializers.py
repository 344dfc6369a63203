"""Store rows and app settings -> the exact JSON objects Dify's Service API returns."""

from __future__ import annotations

from typing import Any

from chatflow.services.apps import LoadedApp
from chatflow.services.inputs import wire_inputs
from chatflow.settings import Settings
from chatflow.store.models import Conversation, ConversationVariable, Message, NodeExecution

_IMAGE_DEFAULT = {
    "enabled": False,
    "number_limits": 3,
    "detail": "high",
    "transfer_methods": ["remote_url", "local_file"],
}


def conversation(row: Conversation) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "inputs": wire_inputs(row.inputs),
        "status": row.status,
        "introduction": row.introduction,
        "created_at": int(row.created_at.timestamp()),
        "updated_at": int(row.updated_at.timestamp()),
    }


def _message_file(item: Any) -> dict[str, Any]:
    data = item if isinstance(item, dict) else {}
    return {
        "id": data.get("related_id") or data.get("id") or "",
        "filename": data.get("filename", ""),
        "type": data.get("type", "custom"),
        "url": data.get("url"),
        "mime_type": data.get("mime_type", ""),
        "size": data.get("size", -1),
        "transfer_method": data.get("transfer_method", "remote_url"),
        "belongs_to": "user",
        "upload_file_id": (
            data.get("related_id") if data.get("transfer_method") == "local_file" else None
        ),
    }


def _agent_thought(item: dict[str, Any]) -> dict[str, Any]:
    """A stored agent thought in `GET /messages`' shape (Dify's `agent_thought_fields`)."""
    keys = ("id", "chain_id", "message_id", "position", "thought", "tool", "tool_labels")
    out = {key: item.get(key) for key in keys}
    out.update(
        tool_input=item.get("tool_input") or "",
        created_at=item.get("created_at"),
        observation=item.get("observation") or "",
        files=list(item.get("files") or []),
    )
    return out


def message(row: Message, rating: str | None) -> dict[str, Any]:
    """A `/messages` item; Dify reports stopped and finished messages alike as `normal`."""
    metadata = row.message_metadata or {}
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "parent_message_id": row.parent_message_id,
        "inputs": wire_inputs(row.inputs),
        "query": row.query,
        "answer": row.answer,
        "status": "error" if row.status == "error" else "normal",
        "error": row.error,
        "message_files": [_message_file(f) for f in row.files or []],
        "feedback": {"rating": rating} if rating else None,
        "retriever_resources": list(metadata.get("retriever_resources") or []),
        "agent_thoughts": [_agent_thought(t) for t in metadata.get("agent_thoughts") or []],
        "created_at": int(row.created_at.timestamp()),
        "extra_contents": [],
    }


def variable(row: ConversationVariable) -> dict[str, Any]:
    """Values are strings on the wire (`str(value)`, as Dify's marshalling does)."""
    return {
        "id": row.variable_id,
        "name": row.name,
        "value_type": row.value_type,
        "value": "" if row.value is None else str(row.value),
        "description": row.description,
        "created_at": int(row.created_at.timestamp()),
        "updated_at": int(row.updated_at.timestamp()),
    }


def info(app: LoadedApp) -> dict[str, Any]:
    return {
        "name": app.name,
        "description": app.description,
        "tags": [],
        "mode": app.mode,
        "author_name": "",
    }


def parameters(app: LoadedApp, settings: Settings) -> dict[str, Any]:
    """`/parameters`: the features as the DSL has them, plus the input form and limits."""
    features = app.dsl.features
    file_upload = dict(features.file_upload)
    file_upload.setdefault("image", dict(_IMAGE_DEFAULT))
    return {
        "opening_statement": features.opening_statement,
        "suggested_questions": list(features.suggested_questions),
        "suggested_questions_after_answer": dict(features.suggested_questions_after_answer),
        "speech_to_text": dict(features.speech_to_text),
        "text_to_speech": dict(features.text_to_speech),
        "retriever_resource": dict(features.retriever_resource),
        "annotation_reply": dict(features.annotation_reply),
        "more_like_this": dict(features.more_like_this),
        "sensitive_word_avoidance": dict(features.sensitive_word_avoidance),
        "user_input_form": app.dsl.user_input_form(),
        "file_upload": file_upload,
        "system_parameters": {
            "file_size_limit": settings.upload_max_mb,
            "image_file_size_limit": 10,
            "audio_file_size_limit": 50,
            "video_file_size_limit": 100,
            "workflow_file_upload_limit": 10,
        },
    }


def site(app: LoadedApp) -> dict[str, Any]:
    return {
        "title": app.name,
        "chat_color_theme": None,
        "chat_color_theme_inverted": False,
        "icon_type": app.icon_type or "emoji",
        "icon": app.icon,
        "icon_background": app.icon_background,
        "icon_url": None,
        "description": app.description,
        "copyright": None,
        "privacy_policy": None,
        "custom_disclaimer": "",
        "default_language": "en-US",
        "show_workflow_steps": True,
        "use_icon_as_answer_icon": app.use_icon_as_answer_icon,
    }


def trace_node(row: NodeExecution) -> dict[str, Any]:
    """A node of a stored run trace, as the chat page draws it: where it ran (iteration or
    loop) and an agent node's rounds and tool calls (Dify's `execution_metadata.agent_log`)."""
    meta = row.execution_metadata or {}
    return {
        "id": row.id,
        "node_id": row.node_id,
        "node_type": row.node_type,
        "title": row.title,
        "status": row.status,
        "error": row.error,
        "elapsed_time": row.elapsed_time,
        "inputs": row.inputs,
        "outputs": row.outputs,
        "iteration_id": meta.get("iteration_id"),
        "loop_id": meta.get("loop_id"),
        "agent_log": list(meta.get("agent_log") or []),
    }
