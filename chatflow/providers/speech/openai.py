"""OpenAI-compatible speech over HTTP: `POST /audio/transcriptions` and `POST /audio/speech`.

Works with OpenAI and the servers that copy its audio API (LocalAI, speaches, vLLM's
transcription endpoint, ...). Connection handling and error mapping are shared with the
chat backend (`openai_compat`): one httpx client per event loop, and every HTTP or
network failure becomes a `ProviderError` naming the server and its answer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Literal

import httpx

from chatflow.errors import InvalidRequest, ProviderError
from chatflow.providers.openai_compat import _Clients, _error, _raise_for_status
from chatflow.providers.speech.base import MIME_TYPES

AudioFormat = Literal["mp3", "wav", "opus", "aac", "flac", "pcm"]


class OpenAICompatSTT:
    """Speech to text through `POST {base_url}/audio/transcriptions` (multipart upload)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str = "whisper-1",
        *,
        timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._clients = _Clients(base_url, api_key, timeout, transport)
        self.model = model

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def transcribe(self, audio: bytes, *, filename: str, mime_type: str) -> str:
        if not audio:
            raise InvalidRequest("Please upload your audio.", code="no_audio_uploaded")
        base_url = self._clients.base_url
        try:
            response = await self._clients.get().post(
                "/audio/transcriptions",
                files={"file": (filename or "audio", audio, mime_type)},
                data={"model": self.model, "response_format": "json"},
            )
            await _raise_for_status(base_url, response)
            text = response.json()["text"]
        except httpx.HTTPError as exc:
            raise _error(base_url, exc) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"Bad transcription answer from {base_url}: {exc!r}") from exc
        if not isinstance(text, str):
            raise ProviderError(f"Bad transcription answer from {base_url}: text is not a string")
        return text


class OpenAICompatTTS:
    """Text to speech through `POST {base_url}/audio/speech`; `stream` relays the body."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str = "tts-1",
        *,
        voice: str = "alloy",
        audio_format: AudioFormat = "mp3",
        timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._clients = _Clients(base_url, api_key, timeout, transport)
        self.model = model
        self.voice = voice
        self.audio_format = audio_format

    async def aclose(self) -> None:
        await self._clients.aclose()

    def _body(self, text: str, voice: str | None, audio_format: AudioFormat) -> dict[str, str]:
        return {
            "model": self.model,
            "input": text,
            "voice": voice or self.voice,
            "response_format": audio_format,
        }

    async def synthesize(self, text: str, *, voice: str | None = None) -> tuple[bytes, str]:
        base_url = self._clients.base_url
        body = self._body(text, voice, self.audio_format)
        try:
            response = await self._clients.get().post("/audio/speech", json=body)
            await _raise_for_status(base_url, response)
        except httpx.HTTPError as exc:
            raise _error(base_url, exc) from exc
        return response.content, _mime_type(response, self.audio_format)

    async def stream(self, text: str, *, voice: str | None = None) -> AsyncGenerator[bytes, None]:
        # Always MP3 here: the chat stream's tts_message events carry MP3, as Dify's do.
        base_url = self._clients.base_url
        body = self._body(text, voice, "mp3")
        try:
            async with self._clients.get().stream("POST", "/audio/speech", json=body) as response:
                await _raise_for_status(base_url, response)
                async for chunk in response.aiter_bytes():
                    if chunk:
                        yield chunk
        except httpx.HTTPError as exc:
            raise _error(base_url, exc) from exc


def _mime_type(response: httpx.Response, audio_format: AudioFormat) -> str:
    """The server's audio Content-Type if it sent one, else the requested format's type."""
    declared = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return declared if declared.startswith("audio/") else MIME_TYPES[audio_format]
