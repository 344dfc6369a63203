"""`AudioService`: Dify's checks for `/audio-to-text` in its order (each with its error
code and status), what `/text-to-audio` speaks, voices, and auto-play's sentence
grouping. The speech backends are stand-ins that record what they were asked: what is
tested is the service around them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatflow.errors import ChatflowError, InvalidRequest, NotFound, ProviderError
from chatflow.providers.speech.base import Speech
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.audio import AudioService, Speaker, audio_kind, autoplay_enabled
from chatflow.settings import Settings

from .conftest import DSL, load


class RecordingSpeech:
    """STT that answers with the file's name; TTS that returns each text as bytes."""

    def __init__(self) -> None:
        self.spoken: list[tuple[str, str | None]] = []

    async def transcribe(self, audio: bytes, *, filename: str, mime_type: str) -> str:
        return f"heard {filename} ({len(audio)} bytes)"

    async def synthesize(self, text: str, *, voice: str | None = None) -> tuple[bytes, str]:
        return text.encode(), "audio/mpeg"

    async def stream(self, text: str, *, voice: str | None = None) -> AsyncIterator[bytes]:
        self.spoken.append((text, voice))
        yield text.encode()


@pytest.fixture
async def speech_app(services: Services) -> LoadedApp:
    return await load(services, (DSL / "speech.yml").read_text())


def _service(services: Services, backend: RecordingSpeech, **settings: object) -> AudioService:
    config = services.settings.model_copy(update=settings)
    return AudioService(services.db, config, lambda _: Speech(stt=backend, tts=backend))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filename", "mime", "kind"),
    [
        ("a.bin", "audio/wav", "wav"),
        ("a.bin", "audio/x-wav; codecs=1", "wav"),
        ("a.webm", "video/webm", "webm"),
        ("a.mp3", "application/octet-stream", "mp3"),
        ("a.mp3", "", "mp3"),
        ("a.txt", "text/plain", None),
        ("a.ogg", "audio/ogg", None),
    ],
)
def test_audio_kinds_dify_takes(filename: str, mime: str, kind: str | None) -> None:
    assert audio_kind(filename, mime) == kind


async def test_transcribe_checks_in_difys_order(
    services: Services, speech_app: LoadedApp, echo: LoadedApp
) -> None:
    audio = _service(services, RecordingSpeech(), audio_max_mb=1)

    async def refused(app: LoadedApp, data: bytes | None, name: str, mime: str) -> ChatflowError:
        with pytest.raises(ChatflowError) as failed:
            await audio.transcribe(app, audio=data, filename=name, mime_type=mime)
        return failed.value

    off = await refused(echo, b"x", "a.wav", "audio/wav")  # the feature first
    assert (off.code, off.status, off.message) == (
        "invalid_param",
        400,
        "Speech to text is not enabled",
    )
    missing = await refused(speech_app, None, "a.wav", "audio/wav")
    assert (missing.code, missing.status) == ("no_audio_uploaded", 400)
    kind = await refused(speech_app, b"x" * (2 * 1024 * 1024), "a.txt", "text/plain")
    assert (kind.code, kind.status) == ("unsupported_audio_type", 415)  # type before size
    big = await refused(speech_app, b"x" * (1024 * 1024 + 1), "a.wav", "audio/wav")
    assert (big.code, big.status, big.message) == (
        "audio_too_large",
        413,
        "Audio size larger than 1 mb",
    )
    empty = await refused(speech_app, b"", "a.wav", "audio/wav")
    assert empty.code == "no_audio_uploaded"
    heard = await audio.transcribe(
        speech_app, audio=b"abc", filename="a.wav", mime_type="audio/wav"
    )
    assert heard == "heard a.wav (3 bytes)"


async def test_without_a_backend_stt_is_a_provider_error(
    services: Services, speech_app: LoadedApp
) -> None:
    def none(_: Settings) -> Speech:
        raise ProviderError("no backend configured")

    audio = AudioService(services.db, services.settings, none)
    with pytest.raises(ProviderError) as failed:
        await audio.transcribe(speech_app, audio=b"abc", filename="a.wav", mime_type="audio/wav")
    assert failed.value.code == "provider_not_support_speech_to_text"
    assert "no backend configured" in failed.value.message
    assert audio.speaker(speech_app) is None  # auto-play quietly off


async def test_speech_text_is_the_users_own_answer_or_the_text(
    services: Services, speech_app: LoadedApp
) -> None:
    audio = _service(services, RecordingSpeech())
    assert (
        await audio.speech_text(speech_app, text="say this", message_id=None, user="a")
        == "say this"
    )
    with pytest.raises(InvalidRequest, match="Text is required"):
        await audio.speech_text(speech_app, text=None, message_id=None, user="a")
    with pytest.raises(NotFound, match="Message Not Exists"):
        await audio.speech_text(speech_app, text=None, message_id="nope", user="a")


def test_voices_come_from_the_request_then_the_app(tmp_path: Path) -> None:
    audio = AudioService(None, Settings(data_dir=tmp_path))  # type: ignore[arg-type]

    class App:
        def __init__(self, tts: dict[str, object]) -> None:
            self.dsl = type("D", (), {"features": type("F", (), {"text_to_speech": tts})()})()

    on = App({"enabled": True, "voice": "en-gb", "autoPlay": "enabled"})
    assert audio.voice(on, "fr") == "fr"  # type: ignore[arg-type]
    assert audio.voice(on, None) == "en-gb"  # type: ignore[arg-type]
    assert audio.voice(App({"enabled": True}), None) is None  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="TTS is not enabled"):
        audio.voice(App({"enabled": False}), None)  # type: ignore[arg-type]
    assert autoplay_enabled(on)  # type: ignore[arg-type]
    assert not autoplay_enabled(App({"enabled": True, "autoPlay": "disabled"}))  # type: ignore[arg-type]


async def test_auto_play_speaks_whole_sentences_and_the_rest_at_the_end() -> None:
    backend = RecordingSpeech()
    speaker = Speaker(backend, "en-us")  # type: ignore[arg-type]
    speaker.feed("Hello")
    speaker.feed(" there. How")
    for _ in range(5):  # let the background speaker run
        await asyncio.sleep(0)
    # Only the complete sentence is spoken while the answer streams.
    assert [text for text, _ in backend.spoken] == ["Hello there. "]
    for part in (" are you", "? Fine", " thanks"):
        speaker.feed(part)
    audio = await speaker.finish()
    spoken = [text for text, _ in backend.spoken]
    assert " ".join(spoken).split() == "Hello there. How are you? Fine thanks".split()
    assert spoken[-1].endswith("Fine thanks")  # the unfinished sentence, at the end
    assert b"".join(audio).decode() == "".join(spoken)  # every piece, in order
    assert {voice for _, voice in backend.spoken} == {"en-us"}
    await speaker.aclose()


async def test_a_replaced_answer_drops_what_was_not_spoken() -> None:
    backend = RecordingSpeech()
    speaker = Speaker(backend, None)  # type: ignore[arg-type]
    speaker.feed("Old sentence. Still")  # queued and buffered, not spoken yet
    speaker.replace("The answer was withheld.")
    await speaker.finish()
    assert [text for text, _ in backend.spoken] == ["The answer was withheld."]
    await speaker.aclose()
