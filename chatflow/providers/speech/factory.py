"""`build_speech(settings)`: the configured speech-to-text and text-to-speech backends.

`speech_backend=offline` (default) needs nothing but the installed packages;
`speech_backend=openai` needs a base URL (`speech_base_url`, else `openai_base_url`)
and fails at build time with `provider_not_initialize` without one.
"""

from __future__ import annotations

from chatflow.errors import ProviderError
from chatflow.providers.speech.base import Speech
from chatflow.providers.speech.offline import EspeakTTS, PocketsphinxSTT
from chatflow.providers.speech.openai import OpenAICompatSTT, OpenAICompatTTS
from chatflow.settings import Settings


def build_speech(settings: Settings) -> Speech:
    """The speech backends for these settings; nothing is loaded until first use."""
    s = settings
    if s.speech_backend == "offline":
        return Speech(
            stt=PocketsphinxSTT(max_seconds=s.stt_max_seconds),
            tts=EspeakTTS(
                voice=s.tts_voice or "en-us",
                words_per_minute=s.tts_words_per_minute,
                audio_format=s.tts_format,
            ),
        )
    base_url = s.speech_base_url or s.openai_base_url
    if not base_url:
        raise ProviderError(
            "Speech backend 'openai' needs CHATFLOW_SPEECH_BASE_URL or CHATFLOW_OPENAI_BASE_URL",
            code="provider_not_initialize",
        )
    api_key = s.speech_api_key or s.openai_api_key
    return Speech(
        stt=OpenAICompatSTT(base_url, api_key, s.stt_model),
        tts=OpenAICompatTTS(
            base_url,
            api_key,
            s.tts_model,
            voice=s.tts_voice or "alloy",
            audio_format=s.tts_format,
        ),
    )
