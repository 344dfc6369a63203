"""Speech providers: offline eSpeak NG -> PocketSphinx round trips, formats, errors, and the
OpenAI-compatible backends against a fake server on a real loopback port."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import miniaudio  # type: ignore[import-untyped]
import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from chatflow.errors import InvalidRequest, ProviderError
from chatflow.providers.speech import (
    EspeakTTS,
    OpenAICompatSTT,
    OpenAICompatTTS,
    PocketsphinxSTT,
    build_speech,
    espeak,
    recogniser,
)
from chatflow.providers.speech.audio import encode_wav
from chatflow.providers.speech.offline import split_sentences
from chatflow.settings import Settings

SENTENCES = (
    "What is the weather like today?",
    "I would like to know more about the new phone.",
    "Please open the door.",
)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def overlap(said: str, heard: str) -> float:
    """Share of the said words that were heard."""
    expected, got = words(said), set(words(heard))
    return sum(word in got for word in expected) / len(expected)


def duration(audio: bytes) -> float:
    decoded = miniaudio.decode(audio, output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1)
    return float(decoded.num_frames / decoded.sample_rate)


# --- offline round trips ------------------------------------------------------------------


@pytest.mark.parametrize("audio_format", ["mp3", "wav"])
async def test_spoken_sentences_are_recognised(audio_format: str) -> None:
    tts = EspeakTTS(audio_format=audio_format)  # type: ignore[arg-type]
    stt = PocketsphinxSTT()
    scores = []
    for sentence in SENTENCES:
        audio, mime_type = await tts.synthesize(sentence)
        heard = await stt.transcribe(audio, filename=f"speech.{audio_format}", mime_type=mime_type)
        scores.append(overlap(sentence, heard))
    # PocketSphinx is weak on synthetic speech: most words, not every word.
    assert min(scores) >= 0.5, scores
    assert sum(scores) / len(scores) >= 0.75, scores


async def test_transcripts_do_not_depend_on_earlier_requests() -> None:
    tts, stt = EspeakTTS(), PocketsphinxSTT()
    clips = [(await tts.synthesize(s))[0] for s in SENTENCES[:2]]
    forward = [await stt.transcribe(c, filename="a.mp3", mime_type="audio/mpeg") for c in clips]
    backward = [
        await stt.transcribe(c, filename="a.mp3", mime_type="audio/mpeg") for c in clips[::-1]
    ]
    assert forward == backward[::-1]


async def test_wav_output_is_mono_16bit_with_wav_mime_type() -> None:
    audio, mime_type = await EspeakTTS(audio_format="wav").synthesize("Hello there.")
    assert mime_type == "audio/wav"
    with wave.open(io.BytesIO(audio)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth()) == (1, 2)
        assert reader.getframerate() == espeak.SAMPLE_RATE
        assert 0.3 < reader.getnframes() / reader.getframerate() < 3


async def test_stream_yields_one_playable_mp3_sentence_by_sentence() -> None:
    text = " ".join(SENTENCES)
    chunks = [chunk async for chunk in EspeakTTS().stream(text)]
    assert len(chunks) >= len(SENTENCES)  # a piece per sentence, then the encoder's tail
    whole, _ = await EspeakTTS().synthesize(text)
    streamed = b"".join(chunks)
    assert abs(duration(streamed) - duration(whole)) < 0.5
    heard = await PocketsphinxSTT().transcribe(streamed, filename="a.mp3", mime_type="audio/mpeg")
    assert overlap(text, heard) >= 0.6


async def test_leaving_a_stream_early_stops_it_and_frees_the_engine() -> None:
    stream = EspeakTTS().stream("First sentence. " * 50)
    first = await anext(stream)
    assert first
    await stream.aclose()
    audio, _ = await asyncio.wait_for(EspeakTTS().synthesize("Still working."), timeout=5)
    assert duration(audio) > 0.3


def median_pitch(wav: bytes) -> float:
    """Median fundamental frequency (Hz) of the voiced frames, by autocorrelation."""
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        x = np.frombuffer(reader.readframes(reader.getnframes()), np.int16).astype(np.float64)
    frame, low, high = 1024, rate // 400, rate // 60
    pitches = []
    for start in range(0, len(x) - frame, frame):
        f = x[start : start + frame]
        if np.sqrt(np.mean(f * f)) < 500:  # silence or unvoiced
            continue
        ac = np.correlate(f, f, "full")[frame - 1 :]
        pitches.append(rate / (low + int(np.argmax(ac[low:high]))))
    return float(np.median(pitches))


async def test_unknown_voice_falls_back_to_default_and_known_voice_is_used() -> None:
    tts = EspeakTTS(audio_format="wav")
    text = "Good morning, how are you today?"
    default = median_pitch((await tts.synthesize(text))[0])
    assert 70 < default < 140  # eSpeak's default male en-us voice
    for unknown in ("alloy", "../../etc/passwd"):
        assert abs(median_pitch((await tts.synthesize(text, voice=unknown))[0]) - default) < 10
    female = median_pitch((await tts.synthesize(text, voice="en-us+f3"))[0])
    assert female > default * 1.5
    assert {"en-us", "en-gb", "fr-fr", "de"} <= set(espeak.voices())


async def test_raw_pcm_is_accepted_and_resampled() -> None:
    pcm = espeak.synthesize(
        SENTENCES[0], voice="en-us", fallback_voice="en-us", words_per_minute=160
    )
    heard = await PocketsphinxSTT().transcribe(
        pcm, filename="speech.pcm", mime_type=f"audio/L16;rate={espeak.SAMPLE_RATE}"
    )
    assert overlap(SENTENCES[0], heard) >= 0.5


async def test_undecodable_audio_is_unsupported_audio_type() -> None:
    with pytest.raises(InvalidRequest) as info:
        await PocketsphinxSTT().transcribe(
            b"\x00\x00\x00\x18ftypmp42" + bytes(2000), filename="a.m4a", mime_type="audio/mp4"
        )
    assert (info.value.code, info.value.status) == ("unsupported_audio_type", 415)


async def test_empty_and_too_long_audio_are_refused() -> None:
    with pytest.raises(InvalidRequest) as empty:
        await PocketsphinxSTT().transcribe(b"", filename="a.wav", mime_type="audio/wav")
    assert empty.value.code == "no_audio_uploaded"
    two_seconds = encode_wav(bytes(2 * 16000 * 2), 16000)
    with pytest.raises(InvalidRequest) as long:
        await PocketsphinxSTT(max_seconds=1).transcribe(
            two_seconds, filename="a.wav", mime_type="audio/wav"
        )
    assert (long.value.code, long.value.status) == ("audio_too_large", 413)


async def test_recognition_runs_off_the_event_loop() -> None:
    audio, mime_type = await EspeakTTS().synthesize(" ".join(SENTENCES))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = asyncio.get_running_loop().time()
    await PocketsphinxSTT().transcribe(audio, filename="a.mp3", mime_type=mime_type)
    elapsed = asyncio.get_running_loop().time() - started
    task.cancel()
    assert elapsed > 0.3
    assert ticks >= elapsed / 0.01 * 0.3  # the loop kept turning while the decoder worked


async def test_a_dead_recogniser_process_is_replaced() -> None:
    audio, mime_type = await EspeakTTS().synthesize(SENTENCES[2])
    first = await PocketsphinxSTT().transcribe(audio, filename="a.mp3", mime_type=mime_type)
    process = recogniser._worker._process
    assert process is not None
    process.kill()
    process.wait()
    again = await PocketsphinxSTT().transcribe(audio, filename="a.mp3", mime_type=mime_type)
    assert again == first and recogniser._worker._process is not process


def test_split_sentences() -> None:
    assert split_sentences("Hi there. How are you?\nFine!  ") == [
        "Hi there.",
        "How are you?",
        "Fine!",
    ]
    assert split_sentences("   ") == []


# --- factory ------------------------------------------------------------------------------


def test_build_speech_picks_backends() -> None:
    offline = build_speech(Settings(_env_file=None))
    assert isinstance(offline.stt, PocketsphinxSTT) and isinstance(offline.tts, EspeakTTS)
    assert offline.tts.voice == "en-us" and offline.tts.audio_format == "mp3"
    with pytest.raises(ProviderError) as info:
        build_speech(Settings(_env_file=None, speech_backend="openai"))
    assert info.value.code == "provider_not_initialize"
    remote = build_speech(
        Settings(_env_file=None, speech_backend="openai", openai_base_url="http://x/v1")
    )
    assert isinstance(remote.stt, OpenAICompatSTT) and isinstance(remote.tts, OpenAICompatTTS)
    assert remote.tts.voice == "alloy" and remote.stt.model == "whisper-1"


# --- OpenAI-compatible backends against a loopback server ---------------------------------


@dataclass
class FakeSpeechServer:
    uploads: list[dict[str, Any]] = field(default_factory=list)
    speech_requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/audio/transcriptions", self.transcriptions, methods=["POST"]),
                Route("/v1/audio/speech", self.speech, methods=["POST"]),
            ]
        )

    async def transcriptions(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer sk-test":
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        async with request.form() as form:
            upload = form["file"]
            assert not isinstance(upload, str)
            data = await upload.read()
            self.uploads.append(
                {
                    "model": form["model"],
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "size": len(data),
                }
            )
        return JSONResponse({"text": f"heard {len(data)} bytes"})

    async def speech(self, request: Request) -> Response:
        body = await request.json()
        self.speech_requests.append(body)
        if body["input"] == "fail":
            return JSONResponse({"error": {"message": "voice not found"}}, status_code=400)

        async def chunks() -> AsyncIterator[bytes]:
            for index in range(3):
                yield f"{body['response_format']}-{index};".encode()
                await asyncio.sleep(0.01)

        media = "audio/mpeg" if body["response_format"] == "mp3" else "audio/wav"
        return StreamingResponse(chunks(), media_type=media)


@pytest.fixture
async def speech_server() -> AsyncIterator[tuple[FakeSpeechServer, str]]:
    fake = FakeSpeechServer()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(fake.app(), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes only this flag)
        await asyncio.sleep(0.01)
    yield fake, f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server.should_exit = True
    await task
    await asyncio.sleep(0.05)  # let closed connections' transports finish closing


async def test_openai_transcription_uploads_multipart(
    speech_server: tuple[FakeSpeechServer, str],
) -> None:
    fake, url = speech_server
    stt = OpenAICompatSTT(url, "sk-test", "whisper-large")
    text = await stt.transcribe(b"RIFF" + bytes(100), filename="q.wav", mime_type="audio/wav")
    assert text == "heard 104 bytes"
    assert fake.uploads == [
        {"model": "whisper-large", "filename": "q.wav", "content_type": "audio/wav", "size": 104}
    ]
    wrong_key = OpenAICompatSTT(url, "wrong")
    with pytest.raises(ProviderError, match="401: bad key"):
        await wrong_key.transcribe(b"x", filename="q.wav", mime_type="audio/wav")
    await stt.aclose()
    await wrong_key.aclose()


async def test_openai_speech_synthesizes_and_streams(
    speech_server: tuple[FakeSpeechServer, str],
) -> None:
    fake, url = speech_server
    tts = OpenAICompatTTS(url, None, "tts-1-hd", voice="nova", audio_format="wav")
    assert await tts.synthesize("Hello", voice="echo") == (b"wav-0;wav-1;wav-2;", "audio/wav")
    chunks = [chunk async for chunk in tts.stream("Hello")]
    assert b"".join(chunks) == b"mp3-0;mp3-1;mp3-2;"  # tts_message audio is always MP3
    assert fake.speech_requests == [
        {"model": "tts-1-hd", "input": "Hello", "voice": "echo", "response_format": "wav"},
        {"model": "tts-1-hd", "input": "Hello", "voice": "nova", "response_format": "mp3"},
    ]
    with pytest.raises(ProviderError, match="voice not found"):
        await tts.synthesize("fail")
    with pytest.raises(ProviderError, match="voice not found"):
        _ = [chunk async for chunk in tts.stream("fail")]
    await tts.aclose()


async def test_unreachable_speech_server_is_a_provider_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    with pytest.raises(ProviderError, match="Cannot reach"):
        await OpenAICompatTTS(f"http://127.0.0.1:{port}/v1", None).synthesize("hi")
    with pytest.raises(ProviderError, match="Cannot reach"):
        await OpenAICompatSTT(f"http://127.0.0.1:{port}/v1", None).transcribe(
            b"x", filename="a.wav", mime_type="audio/wav"
        )
