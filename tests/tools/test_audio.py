"""audio: tts makes a real audio file (eSpeak NG), asr reads one back (PocketSphinx),
both on the server's offline speech backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.engine.files import File
from chatflow.tools.base import BlobMessage, ToolError, ToolNotConfigured
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService
from tests.tools.conftest import call, settings, texts


async def test_tts_then_asr(tmp_path: Path) -> None:
    (blob,) = await call(
        tmp_path, "audio", "tts", {"text": "Please open the door.", "voice": ""}, tts_format="wav"
    )
    assert isinstance(blob, BlobMessage)
    assert blob.mime_type == "audio/wav" and blob.filename == "speech.wav"
    assert blob.data[:4] == b"RIFF" and blob.data[8:12] == b"WAVE" and len(blob.data) > 8000

    async def reader(file: File) -> bytes:
        assert file.id == "speech-1"
        return blob.data

    runtime = ToolRuntimeService(
        build_registry(settings(tmp_path)), services={"file_reader": reader}
    )
    audio = File(
        "audio",
        "tool_file",
        id="speech-1",
        filename="speech.wav",
        extension=".wav",
        mime_type="audio/wav",
    )
    heard = texts(
        await call(
            tmp_path, "langgenius/audio/audio", "asr", {"audio_file": [audio]}, runtime=runtime
        )
    )
    # PocketSphinx is weak on synthetic speech: most words, not every word.
    assert len({"please", "open", "the", "door"} & set(heard.lower().split())) >= 2, heard


async def test_asr_needs_an_audio_file(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="'audio_file'"):
        await call(tmp_path, "audio", "asr", {"audio_file": "not a file"})


async def test_remote_speech_backend_names_its_setting(tmp_path: Path) -> None:
    with pytest.raises(ToolNotConfigured, match=r"set CHATFLOW_SPEECH_BASE_URL \(or CHATFLOW_"):
        await call(
            tmp_path,
            "audio",
            "tts",
            {"text": "hi"},
            speech_backend="openai",
            openai_base_url=None,
            speech_base_url=None,
        )
