"""The `audio` provider (Dify's built-in `audio`): `tts` (text to a speech file) and `asr`
(a speech file to text) on the server's speech backends (`chatflow/providers/speech`:
eSpeak NG / PocketSphinx offline, or an OpenAI-compatible endpoint).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from chatflow.engine.files import File
from chatflow.errors import ChatflowError
from chatflow.providers.speech.base import Speech
from chatflow.tools.base import (
    BlobMessage,
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolParameter,
)
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

if TYPE_CHECKING:
    from chatflow.settings import Settings

ID = "audio"
EXTENSIONS = {"audio/mpeg": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/ogg": "ogg"}


def provider(settings: Settings) -> BuiltinProvider:
    built: list[Speech] = []

    def speech() -> Speech:
        if not built:
            from chatflow.providers.speech.factory import build_speech

            try:
                built.append(build_speech(settings))
            except ChatflowError as error:
                raise ToolError(error.message) from error
        return built[0]

    async def tts(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        text = required_text(params, "text")
        voice = text_param(params, "voice") or None
        audio, mime = await speech().tts.synthesize(text, voice=voice)
        yield BlobMessage(audio, f"speech.{EXTENSIONS.get(mime, 'mp3')}", mime)

    async def asr(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        file = params.get("audio_file")
        if isinstance(file, list):
            file = file[0] if file else None
        if not isinstance(file, File):
            raise ToolError("parameter 'audio_file' must be an audio file")
        reader = ctx.services.get("file_reader")
        if reader is None:
            raise ToolError("asr needs the server's file reader")
        data = await reader(file)
        name = file.filename or f"audio{file.extension}"
        text = await speech().stt.transcribe(data, filename=name, mime_type=file.mime_type)
        yield TextMessage(text)

    def tool(name: str, description: str, *params: ToolParameter) -> ToolDescriptor:
        return ToolDescriptor(ID, name, name.upper(), description, params)

    tools = [
        FunctionTool(
            tool(
                "tts",
                "Speak a text: an audio file.",
                ToolParameter("text", "string", "Text", required=True),
                ToolParameter("voice", "string", "Voice", form="form"),
                ToolParameter("model", "string", "Model", form="form"),
            ),
            tts,
        ),
        FunctionTool(
            tool(
                "asr",
                "The text spoken in an audio file.",
                ToolParameter("audio_file", "file", "Audio file", required=True),
                ToolParameter("model", "string", "Model", form="form"),
            ),
            asr,
        ),
    ]

    def needs() -> str | None:
        remote = settings.speech_backend == "openai"
        if remote and not (settings.speech_base_url or settings.openai_base_url):
            return "CHATFLOW_SPEECH_BASE_URL (or CHATFLOW_OPENAI_BASE_URL)"
        return None

    return BuiltinProvider(ID, ("langgenius/audio/audio",), "Audio", tools, needs=needs)
