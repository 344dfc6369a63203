"""`POST /audio-to-text` (multipart `file` + `user`) and `POST /text-to-audio`.

`/text-to-audio` answers audio bytes with their content type; with `"streaming": true`
the MP3 is sent in pieces as it is made (chunked), the first piece already checked so a
failing backend still gets Dify's JSON error instead of a broken download.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, field_validator
from starlette.datastructures import UploadFile
from starlette.responses import Response, StreamingResponse

from chatflow.api._json import JSONResponse
from chatflow.api.body_limit import BodyTooLarge
from chatflow.api.deps import AppDep, ServicesDep
from chatflow.errors import InvalidRequest
from chatflow.services import Services
from chatflow.services.apps import LoadedApp

router = APIRouter()


class TextToAudioBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message_id: str | None = None
    text: str | None = None
    user: str | None = None
    voice: str | None = None
    streaming: bool = False

    @field_validator("streaming", mode="before")
    @classmethod
    def _null_is_false(cls, value: Any) -> Any:
        return False if value is None else value


@router.post("/audio-to-text")
async def audio_to_text(request: Request, app: AppDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse({"text": await transcribe_form(request, services, app)})


async def transcribe_form(request: Request, services: Services, app: LoadedApp) -> str:
    """The text spoken in a multipart upload's `file` (the chat sites use this too)."""
    try:
        form = await request.form(max_files=1)
    except BodyTooLarge:
        raise
    except Exception:  # not multipart, or a malformed body
        raise InvalidRequest("Please upload your audio.", code="no_audio_uploaded") from None
    upload = form.get("file")
    audio: bytes | None = None
    filename = mime_type = ""
    if isinstance(upload, UploadFile):
        # One byte over the limit is enough to refuse; never read a huge upload whole.
        audio = await upload.read(services.audio.max_bytes + 1)
        filename = upload.filename or ""
        mime_type = upload.content_type or ""
    return await services.audio.transcribe(app, audio=audio, filename=filename, mime_type=mime_type)


@router.post("/text-to-audio")
async def text_to_audio(body: TextToAudioBody, app: AppDep, services: ServicesDep) -> Response:
    audio = services.audio
    text = await audio.speech_text(
        app, text=body.text, message_id=body.message_id, user=body.user or ""
    )
    voice = audio.voice(app, body.voice)
    if not body.streaming:
        data, mime_type = await audio.tts().synthesize(text.strip(), voice=voice)
        return Response(data, media_type=mime_type)
    pieces = audio.tts().stream(text.strip(), voice=voice)
    first = await anext(aiter(pieces), b"")

    async def body_bytes() -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            async for piece in pieces:
                yield piece
        finally:
            aclose = getattr(pieces, "aclose", None)
            if aclose is not None:
                await aclose()

    return StreamingResponse(body_bytes(), media_type="audio/mpeg")
