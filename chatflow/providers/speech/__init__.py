"""Speech providers: protocols, offline (eSpeak NG, PocketSphinx) and OpenAI-compatible backends."""

from chatflow.providers.speech.base import MIME_TYPES, Speech, SpeechToText, TextToSpeech
from chatflow.providers.speech.factory import build_speech
from chatflow.providers.speech.offline import EspeakTTS, PocketsphinxSTT
from chatflow.providers.speech.openai import OpenAICompatSTT, OpenAICompatTTS

__all__ = [
    "MIME_TYPES",
    "EspeakTTS",
    "OpenAICompatSTT",
    "OpenAICompatTTS",
    "PocketsphinxSTT",
    "Speech",
    "SpeechToText",
    "TextToSpeech",
    "build_speech",
]
