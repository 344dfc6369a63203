"""`client.audio`: speech to text and text to speech."""

from __future__ import annotations

from .._base import FileInput, Operation, body, file_part, parse_binary, parse_json
from .._models import AudioText, BinaryContent
from ._resource import AsyncResource, SyncResource


def _to_text(file: FileInput, user: str, mime_type: str | None) -> Operation[AudioText]:
    return Operation(
        "POST",
        "/audio-to-text",
        parse_json(AudioText),
        data={"user": user},
        files={"file": file_part(file, mime_type)},
    )


def _to_audio(
    text: str | None, message_id: str | None, user: str, voice: str | None
) -> Operation[BinaryContent]:
    payload = body(text=text, message_id=message_id, user=user, voice=voice)
    return Operation("POST", "/text-to-audio", parse_binary, json=payload)


class Audio(SyncResource):
    def to_text(self, file: FileInput, *, user: str, mime_type: str | None = None) -> AudioText:
        return self._client.request(_to_text(file, user, mime_type))

    def to_audio(
        self,
        *,
        user: str,
        text: str | None = None,
        message_id: str | None = None,
        voice: str | None = None,
    ) -> BinaryContent:
        """Synthesize `text`, or the answer of `message_id`; returns the audio bytes."""
        return self._client.request(_to_audio(text, message_id, user, voice))


class AsyncAudio(AsyncResource):
    async def to_text(
        self, file: FileInput, *, user: str, mime_type: str | None = None
    ) -> AudioText:
        return await self._client.request(_to_text(file, user, mime_type))

    async def to_audio(
        self,
        *,
        user: str,
        text: str | None = None,
        message_id: str | None = None,
        voice: str | None = None,
    ) -> BinaryContent:
        return await self._client.request(_to_audio(text, message_id, user, voice))
