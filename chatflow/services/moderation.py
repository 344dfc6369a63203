"""The `sensitive_word_avoidance` feature: checking a turn's inputs and its answer.

An app's feature dict is Dify's: `{"enabled", "type", "config": {"keywords",
"inputs_config": {"enabled", "preset_response"}, "outputs_config": {...}}}`. Types:

- `keywords`: one keyword per line; a case-insensitive substring of any input value, the
  query or the answer flags it (Dify's `KeywordsModeration`).
- `openai_moderation`: the text goes to an OpenAI-compatible `POST /moderations`
  (`moderation_base_url`, else `openai_base_url`); any flagged result flags it.
- `api`: Dify calls a workspace "API-based extension", which this server has none of, so
  a turn of such an app fails with a message saying so instead of running unchecked.

A flagged input is answered with the preset response instead of running the graph; a
flagged answer is replaced by the output preset (the chat turn sends `message_replace`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from chatflow.errors import InvalidRequest, ProviderError
from chatflow.settings import Settings

API_NOT_SUPPORTED = (
    "Moderation type 'api' needs a Dify API-based extension, which chatflow-server does "
    "not provide; set sensitive_word_avoidance.type to 'keywords' or 'openai_moderation'."
)
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _part(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    part = config.get(name)
    return part if isinstance(part, Mapping) else {}


def _keywords(config: Mapping[str, Any]) -> list[str]:
    raw = config.get("keywords") or ""
    lines = raw.split("\n") if isinstance(raw, str) else [str(k) for k in raw]
    return [line.lower() for line in (k.strip() for k in lines) if line]


class ModerationService:
    """Runs an app's moderation; `None` means "not flagged", a string is the preset."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None

    async def check_inputs(
        self, feature: Mapping[str, Any], inputs: Mapping[str, Any], query: str
    ) -> str | None:
        """The input preset response when the inputs or the query are flagged."""
        config = self._config(feature)
        if config is None:
            return None
        side = _part(config, "inputs_config")
        if not side.get("enabled"):
            return None
        texts = [str(v) for v in inputs.values() if v is not None and v != ""]
        if query:
            texts.append(query)
        if await self._flagged(feature, config, texts):
            return str(side.get("preset_response") or "")
        return None

    async def check_output(self, feature: Mapping[str, Any], text: str) -> str | None:
        """The output preset response when the answer is flagged."""
        config = self._config(feature)
        if config is None:
            return None
        side = _part(config, "outputs_config")
        if not side.get("enabled") or not text:
            return None
        if await self._flagged(feature, config, [text]):
            return str(side.get("preset_response") or "")
        return None

    @staticmethod
    def _config(feature: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if not feature.get("enabled"):
            return None
        if feature.get("type") == "api":
            raise InvalidRequest(API_NOT_SUPPORTED)
        return _part(feature, "config")

    async def _flagged(
        self, feature: Mapping[str, Any], config: Mapping[str, Any], texts: list[str]
    ) -> bool:
        kind = feature.get("type")
        if kind == "keywords":
            keywords = _keywords(config)
            return any(k in text.lower() for text in texts for k in keywords)
        if kind == "openai_moderation":
            return await self._openai_flagged("\n".join(texts))
        raise InvalidRequest(f"Unknown sensitive_word_avoidance type {kind!r}")

    async def _openai_flagged(self, text: str) -> bool:
        s = self._settings
        base_url = s.moderation_base_url or s.openai_base_url
        if not base_url:
            raise ProviderError(
                "openai_moderation needs CHATFLOW_MODERATION_BASE_URL or CHATFLOW_OPENAI_BASE_URL",
                code="provider_not_initialize",
            )
        api_key = s.moderation_api_key or s.openai_api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=_TIMEOUT)
        url = base_url.rstrip("/") + "/moderations"
        try:
            response = await self._client.post(
                url, json={"model": s.moderation_model, "input": text}, headers=headers
            )
            response.raise_for_status()
            results = response.json().get("results") or []
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise ProviderError(f"Moderation request failed: {exc}") from exc
        return any(isinstance(r, Mapping) and r.get("flagged") for r in results)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
