"""What the console shows of the model backends: all of them come from settings (the
environment or `.env`), so the view is read-only and names the variable that changes
each value. Keys are never shown, only whether one is set; URLs lose any user:password.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from chatflow.errors import ChatflowError
from chatflow.providers.embedded import MODEL_QUEUE, default_model_path
from chatflow.providers.registry import load_model_map
from chatflow.settings import Settings, env_name


def _url(value: str | None) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _row(settings: Settings, field: str, label: str, *, secret: bool = False) -> dict[str, Any]:
    value = getattr(settings, field)
    if secret:
        shown: Any = "set" if value else "not set"
    elif field.endswith("base_url"):
        shown = _url(value)
    else:
        shown = value
    return {"label": label, "value": shown, "setting": env_name(field)}


def model_backends(settings: Settings, embedded_state: str | None) -> dict[str, Any]:
    """The default backend, the embedded model, the OpenAI-compatible one, the model
    map, embeddings, reranking and speech, and this worker's model queue."""
    s = settings
    try:
        mapped = [
            {"pattern": key, "backend": spec.backend, "model": spec.model,
             "base_url": _url(spec.base_url), "api_key": "set" if spec.api_key else "not set"}
            for key, spec in load_model_map(s.model_map).items()
        ]  # fmt: skip
        map_error = None
    except ChatflowError as exc:
        mapped, map_error = [], exc.message
    if embedded_state is None:
        embedded_state = "not loaded here (not the default backend; loads on first use)"
    groups = [
        {"id": "default", "title": "Default backend", "rows": [
            _row(s, "model_backend", "Backend for every DSL model")]},
        {"id": "embedded", "title": "Embedded model (llama.cpp)", "status": embedded_state,
         "rows": [
            {"label": "Model file", "value": s.embedded_model_path or default_model_path(),
             "setting": env_name("embedded_model_path")},
            _row(s, "embedded_context_size", "Context size"),
            _row(s, "embedded_parallel", "Parallel sequences"),
            _row(s, "embedded_threads", "CPU threads"),
        ]},
        {"id": "openai", "title": "OpenAI-compatible backend", "rows": [
            _row(s, "openai_base_url", "Base URL"),
            _row(s, "openai_api_key", "API key", secret=True),
            _row(s, "openai_model", "Model"),
            _row(s, "openai_context_size", "Context size"),
        ]},
        {"id": "embedding", "title": "Embeddings (knowledge, annotations)", "rows": [
            _row(s, "embedding_backend", "Backend"),
            _row(s, "embedding_model", "Model"),
            _row(s, "embedding_base_url", "Base URL"),
        ]},
        {"id": "rerank", "title": "Reranking", "rows": [
            _row(s, "rerank_backend", "Backend"),
            _row(s, "rerank_base_url", "Base URL"),
            _row(s, "rerank_model", "Model"),
        ]},
        {"id": "speech", "title": "Speech", "rows": [
            _row(s, "speech_backend", "Backend"),
            _row(s, "speech_base_url", "Base URL"),
        ]},
    ]  # fmt: skip
    return {
        "groups": groups,
        "model_map": {"entries": mapped, "error": map_error, "setting": env_name("model_map")},
        "queue": {
            "waiting": MODEL_QUEUE.waiting,
            "generating": MODEL_QUEUE.generating,
            "max": s.model_queue_max,
            "setting": env_name("model_queue_max"),
        },
    }
