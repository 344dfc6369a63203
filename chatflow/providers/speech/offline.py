"""Offline speech: `EspeakTTS` (eSpeak NG) and `PocketsphinxSTT` (CMU PocketSphinx).

Both install from PyPI with their data (eSpeak NG's voices for 100+ languages, the
PocketSphinx US English acoustic model and dictionary) and never touch the network.
Recognition is English only and much weaker than Whisper: it is the zero-setup default,
and `speech_backend=openai` sends audio to any OpenAI-compatible server instead.

No CPU work runs on the event loop. eSpeak NG (process-global state) and audio decoding
run on private single-worker threads, so requests queue instead of contending for the
library; PocketSphinx holds the GIL while it decodes, so it runs in its own process
(`recogniser`).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, TypeVar

from chatflow.errors import InvalidRequest
from chatflow.providers.speech import espeak
from chatflow.providers.speech.audio import (
    RECOGNISER_RATE,
    Mp3Encoder,
    decode_to_pcm16k,
    encode_mp3,
    encode_wav,
)
from chatflow.providers.speech.base import MIME_TYPES
from chatflow.providers.speech.recogniser import recognise_async

T = TypeVar("T")
_tts_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatflow-tts")
_stt_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatflow-stt")
# A sentence ends at . ! ? (or their CJK forms) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Pieces of `text` to speak one by one, so streamed audio starts after one sentence."""
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece.strip()]


async def _run_stoppable(executor: ThreadPoolExecutor, work: Callable[[threading.Event], T]) -> T:
    """Run `work` on `executor`; if the caller is cancelled, tell the work to stop early."""
    stop = threading.Event()
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, work, stop)
    finally:
        stop.set()


class EspeakTTS:
    """Text to speech with eSpeak NG: MP3 (LAME) or WAV, any installed eSpeak voice."""

    def __init__(
        self,
        *,
        voice: str = "en-us",
        words_per_minute: int = 160,
        audio_format: Literal["mp3", "wav"] = "mp3",
    ) -> None:
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.audio_format = audio_format

    def _pcm(self, text: str, voice: str | None, stop: threading.Event) -> bytes:
        return espeak.synthesize(
            text,
            voice=voice or self.voice,
            fallback_voice=self.voice,
            words_per_minute=self.words_per_minute,
            should_stop=stop.is_set,
        )

    async def synthesize(self, text: str, *, voice: str | None = None) -> tuple[bytes, str]:
        encode = encode_mp3 if self.audio_format == "mp3" else encode_wav

        def work(stop: threading.Event) -> bytes:
            return encode(self._pcm(text, voice, stop), espeak.SAMPLE_RATE)

        return await _run_stoppable(_tts_executor, work), MIME_TYPES[self.audio_format]

    async def stream(self, text: str, *, voice: str | None = None) -> AsyncGenerator[bytes, None]:
        encoder = Mp3Encoder(espeak.SAMPLE_RATE)
        for sentence in split_sentences(text):

            def work(stop: threading.Event, sentence: str = sentence) -> bytes:
                return encoder.encode(self._pcm(sentence, voice, stop))

            chunk = await _run_stoppable(_tts_executor, work)
            if chunk:
                yield chunk
        tail = await asyncio.get_running_loop().run_in_executor(_tts_executor, encoder.flush)
        if tail:
            yield tail


class PocketsphinxSTT:
    """English speech recognition with PocketSphinx on WAV, MP3, FLAC, OGG or raw PCM."""

    def __init__(self, *, max_seconds: float = 600.0) -> None:
        self.max_seconds = max_seconds

    async def load(self) -> None:
        """Start the recogniser process and load its model now, not on the first request."""
        await recognise_async(b"")

    async def transcribe(self, audio: bytes, *, filename: str, mime_type: str) -> str:
        if not audio:
            raise InvalidRequest("Please upload your audio.", code="no_audio_uploaded")
        loop = asyncio.get_running_loop()
        # Decoding (miniaudio, C without the GIL) on a thread; recognition in its process.
        pcm = await loop.run_in_executor(
            _stt_executor, lambda: self._pcm(audio, filename=filename, mime_type=mime_type)
        )
        return await recognise_async(pcm) if pcm else ""

    def _pcm(self, audio: bytes, *, filename: str, mime_type: str) -> bytes:
        pcm = decode_to_pcm16k(audio, filename=filename, mime_type=mime_type)
        seconds = len(pcm) / 2 / RECOGNISER_RATE
        if seconds > self.max_seconds:
            raise InvalidRequest(
                f"Audio is {seconds:.0f} s long; the limit is {self.max_seconds:.0f} s.",
                code="audio_too_large",
                status=413,
            )
        return pcm
