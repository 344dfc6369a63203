"""ctypes binding to the eSpeak NG library that `espeakng-loader` ships: text -> 16-bit PCM.

Owns the process-wide eSpeak NG engine. The library keeps global state (the current
voice, one audio callback), so it is initialised once, in synchronous mode, with the
voice data from the same package (nothing on the system is used), and every call holds
`_lock`. Callers run these functions on a worker thread: synthesis is CPU work.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatflow.errors import ProviderError

SAMPLE_RATE = 22050  # eSpeak NG's fixed output rate, confirmed by espeak_Initialize
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_END_PAUSE = 0x1000  # espeakENDPAUSE: a sentence pause after the text, so pieces join naturally
_RATE = 1  # espeak_PARAMETER espeakRATE, words per minute
_EE_OK = 0
# Voice names, language tags and variants ("en-us", "English (America)", "en+f3"):
# anything with a path separator could make eSpeak read files outside its data folder.
_VOICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _+(),.-]{0,63}")
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Voice(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, name, NUL)*, then a NUL
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


class _Engine:
    """The loaded library plus the per-call state its single callback writes into."""

    def __init__(self) -> None:
        try:
            import espeakng_loader  # type: ignore[import-untyped]

            self.lib: Any = ctypes.CDLL(espeakng_loader.get_library_path())
            data_dir = Path(espeakng_loader.get_data_path()).parent
        except (ImportError, OSError, RuntimeError) as exc:
            raise ProviderError(
                f"eSpeak NG is not available (install espeakng-loader): {exc}",
                code="provider_not_initialize",
            ) from exc
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_dir).encode(), 0)
        if rate != SAMPLE_RATE:
            raise ProviderError(
                f"eSpeak NG failed to initialise (answered {rate})", code="provider_not_initialize"
            )
        self.sink: Callable[[bytes], bool] | None = None
        # Kept on the instance: ctypes would free a callback object nobody references.
        self._callback = _CALLBACK(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, samples: Any, count: int, _events: Any) -> int:
        if count > 0 and self.sink is not None:
            keep_going = self.sink(ctypes.string_at(samples, count * 2))
            return 0 if keep_going else 1  # 1 aborts the synthesis
        return 0


_engine: _Engine | None = None
_lock = threading.Lock()


def _get_engine() -> _Engine:
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def voices() -> list[str]:
    """The language tags of every installed voice (`en-us`, `fr`, ...), each usable as a voice."""
    with _lock:
        engine = _get_engine()
        table = engine.lib.espeak_ListVoices(None)
        tags: list[str] = []
        index = 0
        while table[index]:
            # Skip the priority byte before the first language name.
            tags.append(ctypes.string_at(table[index].contents.languages + 1).decode())
            index += 1
        return tags


def synthesize(
    text: str,
    *,
    voice: str,
    fallback_voice: str,
    words_per_minute: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> bytes:
    """Mono 16-bit PCM at `SAMPLE_RATE` of `text`, spoken with `voice` (else `fallback_voice`).

    `should_stop` is polled as audio is produced; returning True ends the synthesis early.
    """
    chunks: list[bytes] = []

    def sink(chunk: bytes) -> bool:
        chunks.append(chunk)
        return not should_stop()

    encoded = text.replace("\x00", " ").encode()
    with _lock:
        engine = _get_engine()
        if not _select_voice(engine, voice) and not _select_voice(engine, fallback_voice):
            raise ProviderError(f"eSpeak NG has no voice {voice!r} or {fallback_voice!r}")
        engine.lib.espeak_SetParameter(_RATE, words_per_minute, 0)
        engine.sink = sink
        try:
            status = engine.lib.espeak_Synth(
                encoded,
                len(encoded) + 1,
                0,
                _POS_CHARACTER,
                0,
                _CHARS_UTF8 | _END_PAUSE,
                None,
                None,
            )
            engine.lib.espeak_Synchronize()
        finally:
            engine.sink = None
    if status != _EE_OK:
        raise ProviderError(f"eSpeak NG synthesis failed (error {status})")
    return b"".join(chunks)


def _select_voice(engine: _Engine, voice: str) -> bool:
    if not _VOICE_NAME.fullmatch(voice):
        return False
    return bool(engine.lib.espeak_SetVoiceByName(voice.encode()) == _EE_OK)
