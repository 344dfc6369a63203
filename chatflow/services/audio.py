"""Speech features: `/audio-to-text`, `/text-to-audio` and the chat stream's auto-play.

Checks follow Dify's `AudioService` in its order: the app's feature must be on, then a
file must be there, of an audio type Dify allows, within the size limit, and a backend
must exist. `Speaker` is auto-play (`text_to_speech.autoPlay: enabled`): it speaks the
answer sentence by sentence while the answer streams, one sentence group at a time on a
background task, so the chat stream can interleave `tts_message` audio with its frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable

from chatflow.errors import ChatflowError, InvalidRequest, NotFound, ProviderError
from chatflow.providers.speech import Speech, build_speech
from chatflow.providers.speech.base import TextToSpeech
from chatflow.services.apps import LoadedApp
from chatflow.settings import Settings
from chatflow.store import Database
from chatflow.store import end_users as end_users_repo
from chatflow.store import messages as messages_repo

log = logging.getLogger("chatflow.audio")

# Dify's ALLOWED_EXTENSIONS; an upload's type must be `audio/<one of these>`.
AUDIO_EXTENSIONS = ("mp3", "mp4", "mpeg", "mpga", "m4a", "wav", "webm", "amr")
# Spellings of the same types that browsers and `mimetypes` send (Dify rejects these).
_AUDIO_ALIASES = {
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/x-m4a": "m4a",
    "audio/x-mp3": "mp3",
    "audio/mpeg3": "mp3",
    "video/mp4": "mp4",
    "video/webm": "webm",
}
_GENERIC_TYPES = ("", "application/octet-stream")
# Everything up to the last sentence end (. ! ? ; and CJK forms, then space) or line break.
_COMPLETE = re.compile(r"^.*(?:[.!?;。！？；](?:\s+|$)|\n)", re.DOTALL)


def audio_kind(filename: str, mime_type: str) -> str | None:
    """The upload's audio extension if Dify would take it (or its known aliases)."""
    kind = mime_type.split(";", 1)[0].strip().lower()
    if kind.startswith("audio/") and kind[6:] in AUDIO_EXTENSIONS:
        return kind[6:]
    if kind in _AUDIO_ALIASES:
        return _AUDIO_ALIASES[kind]
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if kind in _GENERIC_TYPES and extension in AUDIO_EXTENSIONS:
        return extension
    return None


def autoplay_enabled(app: LoadedApp) -> bool:
    """Dify speaks a chat stream only with `text_to_speech` on and `autoPlay: enabled`."""
    feature = app.dsl.features.text_to_speech
    return bool(feature.get("enabled")) and feature.get("autoPlay") == "enabled"


class AudioService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        speech: Callable[[Settings], Speech] = build_speech,
    ) -> None:
        self._db = db
        self._settings = settings
        self._build = speech
        self._speech: Speech | None = None

    @property
    def max_bytes(self) -> int:
        return self._settings.audio_max_mb * 1024 * 1024

    def _backends(self) -> Speech:
        if self._speech is None:
            self._speech = self._build(self._settings)
        return self._speech

    async def transcribe(
        self, app: LoadedApp, *, audio: bytes | None, filename: str, mime_type: str
    ) -> str:
        """`/audio-to-text`: the text spoken in an uploaded file."""
        if not app.dsl.features.speech_to_text.get("enabled"):
            raise InvalidRequest("Speech to text is not enabled")
        if audio is None:
            raise InvalidRequest("Please upload your audio.", code="no_audio_uploaded")
        if audio_kind(filename, mime_type) is None:
            raise InvalidRequest(
                "Audio type not allowed.", code="unsupported_audio_type", status=415
            )
        if len(audio) > self.max_bytes:
            raise InvalidRequest(
                f"Audio size larger than {self._settings.audio_max_mb} mb",
                code="audio_too_large",
                status=413,
            )
        if not audio:
            raise InvalidRequest("Please upload your audio.", code="no_audio_uploaded")
        try:
            stt = self._backends().stt
        except ProviderError as exc:
            raise ProviderError(
                f"Provider not support speech to text. {exc.message}",
                code="provider_not_support_speech_to_text",
            ) from exc
        return await stt.transcribe(audio, filename=filename, mime_type=mime_type)

    async def speech_text(
        self, app: LoadedApp, *, text: str | None, message_id: str | None, user: str
    ) -> str:
        """What `/text-to-audio` speaks: the user's message's answer (first) or `text`."""
        if message_id:
            async with self._db.session() as session:
                end_user = await end_users_repo.find_end_user(session, app.id, user)
                message = None
                if end_user is not None:
                    message = await messages_repo.get_message(
                        session, app_id=app.id, end_user_id=end_user.id, message_id=message_id
                    )
            if message is None:
                raise NotFound("Message Not Exists.")
            if not message.answer.strip():
                raise InvalidRequest("The message has no answer to speak.")
            return message.answer
        if text is None:
            raise InvalidRequest("Text is required")
        return text

    def voice(self, app: LoadedApp, requested: str | None) -> str | None:
        """The request's voice, else the app's; without either, TTS must be on (Dify)."""
        if requested:
            return requested
        feature = app.dsl.features.text_to_speech
        if not feature.get("enabled"):
            raise InvalidRequest("TTS is not enabled")
        voice = feature.get("voice")
        return str(voice) if voice else None

    def tts(self) -> TextToSpeech:
        return self._backends().tts

    def speaker(self, app: LoadedApp) -> Speaker | None:
        """Auto-play for a chat stream of this app, or None when it is off."""
        if not autoplay_enabled(app):
            return None
        try:
            tts = self.tts()
        except ChatflowError as exc:
            log.warning("auto-play off for app %s: %s", app.id, exc)
            return None
        voice = app.dsl.features.text_to_speech.get("voice")
        return Speaker(tts, str(voice) if voice else None)


class Speaker:
    """Speaks streamed text sentence by sentence; audio pieces wait in `ready()`."""

    # How long the stream waits for the last sentences' audio after the answer ended.
    FINISH_SECONDS = 30.0

    def __init__(self, tts: TextToSpeech, voice: str | None) -> None:
        self._tts = tts
        self._voice = voice
        self._buffer = ""
        self._todo: asyncio.Queue[str | None] = asyncio.Queue()
        self._audio: list[bytes] = []
        self._worker: asyncio.Task[None] | None = None
        self._ended = False

    def feed(self, text: str) -> None:
        """More answer text; every complete sentence so far is queued to be spoken."""
        self._buffer += text
        match = _COMPLETE.match(self._buffer)
        if match is not None:
            self._queue(match.group(0))
            self._buffer = self._buffer[match.end() :]

    def replace(self, text: str) -> None:
        """The answer was replaced (moderation): drop what is not spoken yet, speak `text`."""
        self._buffer = ""
        while not self._todo.empty():
            self._todo.get_nowait()
        self._queue(text)

    def end(self) -> None:
        """No more text: the rest of the buffer is spoken too."""
        if self._ended:
            return
        self._ended = True
        self._queue(self._buffer)
        self._buffer = ""
        self._todo.put_nowait(None)

    def ready(self) -> list[bytes]:
        """The audio made since the last call (MP3 pieces, in order)."""
        out, self._audio = self._audio, []
        return out

    async def finish(self) -> list[bytes]:
        """End the text, wait (at most `FINISH_SECONDS`) for the speech, return the rest."""
        self.end()
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._worker), self.FINISH_SECONDS)
        return self.ready()

    async def aclose(self) -> None:
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            with contextlib.suppress(BaseException):
                await self._worker

    def _queue(self, text: str) -> None:
        if not text.strip():
            return
        self._todo.put_nowait(text)
        if self._worker is None:
            self._worker = asyncio.create_task(self._speak(), name="tts-autoplay")

    async def _speak(self) -> None:
        while True:
            text = await self._todo.get()
            if text is None:
                return
            # Sentences that arrived while the last group was spoken go out together.
            while not self._todo.empty():
                more = self._todo.get_nowait()
                if more is None:
                    self._todo.put_nowait(None)
                    break
                text = f"{text} {more}"
            try:
                async for piece in self._tts.stream(text, voice=self._voice):
                    self._audio.append(piece)
            except ChatflowError as exc:  # no audio is better than a broken stream
                log.warning("auto-play speech failed: %s", exc)
