"""`/audio-to-text`, `/text-to-audio` and auto-played `tts_message` frames, on the wire,
with the offline speech backends (eSpeak NG and PocketSphinx).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import miniaudio  # type: ignore[import-untyped]
import pytest

from chatflow.errors import ProviderError
from chatflow.services.audio import AudioService
from chatflow.settings import Settings

from .conftest import ANSWER, LiveServer, assert_envelope, chat, sse_events

pytestmark = pytest.mark.timeout(90)

LIVE_SETTINGS = {"audio_max_mb": 1}
SENTENCE = "What is the weather like today?"


def overlap(said: str, heard: str) -> float:
    """Share of the said words that were heard (PocketSphinx is weak on synthetic speech)."""
    expected, got = said.lower().strip("?").split(), set(heard.lower().split())
    return sum(word in got for word in expected) / len(expected)


def seconds(mp3: bytes) -> float:
    decoded = miniaudio.decode(mp3, nchannels=1, sample_rate=16000)
    return float(len(decoded.samples)) / 16000


def speak(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/text-to-audio", json={"user": "alice", **body})


def test_speech_round_trip_through_both_endpoints(server: LiveServer) -> None:
    client = server.client("speech")
    spoken = speak(client, text=SENTENCE)
    assert spoken.status_code == 200, spoken.text
    assert spoken.headers["content-type"] == "audio/mpeg"
    assert seconds(spoken.content) > 0.5

    heard = client.post(
        "/audio-to-text",
        files={"file": ("speech.mp3", spoken.content, "audio/mp3")},
        data={"user": "alice"},
    )
    assert heard.status_code == 200, heard.text
    assert heard.headers["content-type"].startswith("application/json")
    assert overlap(SENTENCE, heard.json()["text"]) >= 0.5, heard.json()


def test_streaming_text_to_audio_is_chunked_mp3(server: LiveServer) -> None:
    client = server.client("speech")
    with client.stream(
        "POST",
        "/text-to-audio",
        json={"text": "One sentence. And another one.", "user": "alice", "streaming": True},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/mpeg"
        assert response.headers.get("transfer-encoding") == "chunked"
        audio = response.read()
    assert seconds(audio) > 1.0


def test_text_to_audio_reads_a_message_back(server: LiveServer) -> None:
    client = server.client("speech")
    message = chat(client, "Hi", user="alice")
    by_id = speak(client, message_id=message["message_id"], text="ignored")
    assert by_id.status_code == 200 and seconds(by_id.content) > 0.5
    # Another user's message is not theirs to hear.
    assert_envelope(speak(client, message_id=message["message_id"], user="bob"), 404)
    assert_envelope(speak(client), 400, "invalid_param")


def test_text_to_audio_needs_tts_enabled_unless_a_voice_is_given(server: LiveServer) -> None:
    client = server.client("assistant")  # text_to_speech is off
    body = assert_envelope(speak(client, text="hi"), 400, "invalid_param")
    assert body["message"] == "TTS is not enabled"
    assert speak(client, text="hi", voice="en-us").status_code == 200


def test_audio_to_text_errors(server: LiveServer) -> None:
    client = server.client("speech")
    missing = client.post("/audio-to-text", data={"user": "alice"})
    assert_envelope(missing, 400, "no_audio_uploaded")
    assert_envelope(client.post("/audio-to-text"), 400, "no_audio_uploaded")
    wrong_type = client.post(
        "/audio-to-text", files={"file": ("notes.txt", b"hello", "text/plain")}
    )
    assert_envelope(wrong_type, 415, "unsupported_audio_type")
    too_large = client.post(
        "/audio-to-text", files={"file": ("big.wav", b"\0" * (1024 * 1024 + 1), "audio/wav")}
    )
    body = assert_envelope(too_large, 413, "audio_too_large")
    assert body["message"] == "Audio size larger than 1 mb"
    disabled = server.client("assistant").post(
        "/audio-to-text", files={"file": ("a.wav", b"RIFF", "audio/wav")}
    )
    assert assert_envelope(disabled, 400, "invalid_param")["message"] == (
        "Speech to text is not enabled"
    )


def test_no_speech_backend_is_provider_not_support_speech_to_text(server: LiveServer) -> None:
    services = server.services
    app = server.call(services.apps.authenticate(server.keys["speech"]))
    audio = AudioService(services.db, Settings(speech_backend="openai"))
    with pytest.raises(ProviderError) as caught:
        server.call(audio.transcribe(app, audio=b"RIFF", filename="a.wav", mime_type="audio/wav"))
    assert caught.value.code == "provider_not_support_speech_to_text"


def test_auto_play_streams_tts_frames_and_ends_with_tts_message_end(server: LiveServer) -> None:
    server.registry.fake = type(server.registry.fake)(
        ["Good", " morning.", " How", " are", " you?"]
    )
    payload = {"inputs": {}, "query": "Hi", "user": "alice", "response_mode": "streaming"}
    with server.client("speech", timeout=60).stream(
        "POST", "/chat-messages", json=payload
    ) as response:
        raw = response.read().decode("utf-8")
    frames = [e for e in sse_events(iter(raw.split("\n"))) if e["event"] != "ping"]
    names = [f["event"] for f in frames]
    assert names[-1] == "tts_message_end" and frames[-1]["audio"] == ""
    assert names.index("workflow_finished") < names.index("tts_message_end")
    audio_frames = [f for f in frames if f["event"] == "tts_message"]
    assert audio_frames
    ids = {(f["task_id"], f["message_id"], f["conversation_id"]) for f in frames}
    assert len(ids) == 1
    assert all(isinstance(f["created_at"], int) for f in audio_frames)
    audio = b"".join(base64.b64decode(f["audio"]) for f in audio_frames)
    assert seconds(audio) > 1.0
    # Blocking answers carry no audio; apps without autoPlay send no tts frames.
    assert chat(server.client("speech"), "Hi")["answer"] == "Good morning. How are you?"
    server.reset_model()
    with server.client("assistant").stream("POST", "/chat-messages", json=payload) as response:
        plain = response.read().decode("utf-8")
    assert "tts_message" not in plain and ANSWER.split()[0] in plain
