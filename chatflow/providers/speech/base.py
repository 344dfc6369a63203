"""Speech provider protocols: `SpeechToText` and `TextToSpeech` (Dify's audio features).

`/audio-to-text` calls `SpeechToText.transcribe`; `/text-to-audio` calls
`TextToSpeech.synthesize` (or `stream` when the client asks for streaming), and the
chat stream's `tts_message` events carry base64 pieces of `TextToSpeech.stream`, which
are MP3 as in Dify, whatever format `synthesize` answers in. Implementations raise
`ProviderError` when the backend fails and `InvalidRequest` (`unsupported_audio_type`,
415; `audio_too_large`, 413) for audio they cannot take.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

# Dify's content types for the formats speech backends produce.
MIME_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "pcm": "audio/pcm",
}


class SpeechToText(Protocol):
    async def transcribe(self, audio: bytes, *, filename: str, mime_type: str) -> str:
        """The text spoken in `audio` (an uploaded file: its name and type guide decoding)."""
        ...


class TextToSpeech(Protocol):
    async def synthesize(self, text: str, *, voice: str | None = None) -> tuple[bytes, str]:
        """The whole of `text` spoken: audio bytes and their MIME type.

        `voice` is the app's or request's voice; one the backend does not have falls
        back to its configured default (Dify apps often name OpenAI voices).
        """
        ...

    def stream(self, text: str, *, voice: str | None = None) -> AsyncIterator[bytes]:
        """MP3 audio of `text` in pieces, the first as soon as the first sentence is ready.

        The pieces concatenate into one playable MP3. Leaving the iteration early stops
        the synthesis.
        """
        ...


@dataclass(frozen=True, slots=True)
class Speech:
    """The configured speech backends, built once per server by `build_speech`."""

    stt: SpeechToText
    tts: TextToSpeech
