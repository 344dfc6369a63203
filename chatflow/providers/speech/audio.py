"""Audio format conversion for the offline speech backends: decode uploads, encode speech.

Decoding (miniaudio, which bundles its own decoders): WAV, MP3, FLAC and Ogg Vorbis, or
raw 16-bit little-endian PCM when the type says so (`audio/pcm`, `audio/L16;rate=...`),
to the 16 kHz mono 16-bit PCM the recogniser needs. Containers miniaudio cannot read
(mp4/m4a, webm) are refused with Dify's `unsupported_audio_type` (415).
Encoding: WAV with the standard library, MP3 with LAME (`lameenc`); MP3 frames
concatenate, so a stream can be encoded piece by piece with one `Mp3Encoder`.
"""

from __future__ import annotations

import io
import re
import wave

import lameenc  # type: ignore[import-not-found]  # compiled module without stubs
import miniaudio  # type: ignore[import-untyped]

from chatflow.errors import InvalidRequest

RECOGNISER_RATE = 16000
_RAW_TYPES = ("audio/pcm", "audio/l16", "audio/x-raw", "audio/raw")
_RAW_SUFFIXES = (".pcm", ".raw")
_RATE_PARAM = re.compile(r"rate=(\d+)")


def unsupported(detail: str) -> InvalidRequest:
    return InvalidRequest(
        f"Audio type is not allowed: {detail}", code="unsupported_audio_type", status=415
    )


def decode_to_pcm16k(audio: bytes, *, filename: str, mime_type: str) -> bytes:
    """Mono 16-bit PCM at 16 kHz from an uploaded audio file."""
    kind = mime_type.split(";", 1)[0].strip().lower()
    if kind in _RAW_TYPES or filename.lower().endswith(_RAW_SUFFIXES):
        match = _RATE_PARAM.search(mime_type.lower())
        rate = int(match.group(1)) if match else RECOGNISER_RATE
        if not 1000 <= rate <= 384_000:
            raise unsupported(f"PCM sample rate {rate}")
        return resample(audio[: len(audio) // 2 * 2], rate, RECOGNISER_RATE)
    try:
        decoded = miniaudio.decode(
            bytes(audio),
            output_format=miniaudio.SampleFormat.SIGNED16,
            nchannels=1,
            sample_rate=RECOGNISER_RATE,
        )
    except miniaudio.DecodeError as exc:
        name = filename or "audio"
        raise unsupported(
            f"cannot decode {name} ({mime_type}); send WAV, MP3, FLAC or OGG"
        ) from exc
    pcm: bytes = decoded.samples.tobytes()
    return pcm


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Mono 16-bit PCM converted between sample rates (miniaudio's low-pass resampler)."""
    if from_rate == to_rate or not pcm:
        return pcm
    fmt = miniaudio.SampleFormat.SIGNED16
    return bytes(miniaudio.convert_frames(fmt, 1, from_rate, pcm, fmt, 1, to_rate))


def encode_wav(pcm: bytes, rate: int) -> bytes:
    """A WAV file of mono 16-bit PCM."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return buffer.getvalue()


class Mp3Encoder:
    """Incremental MP3 encoder for mono 16-bit PCM; `encode` pieces, then `flush` once."""

    def __init__(self, rate: int, *, bitrate_kbps: int = 64) -> None:
        self._encoder = lameenc.Encoder()
        self._encoder.set_in_sample_rate(rate)
        self._encoder.set_channels(1)
        self._encoder.set_bit_rate(bitrate_kbps)
        self._encoder.set_quality(5)  # LAME's balance of speed and quality

    def encode(self, pcm: bytes) -> bytes:
        return bytes(self._encoder.encode(pcm)) if pcm else b""

    def flush(self) -> bytes:
        return bytes(self._encoder.flush())


def encode_mp3(pcm: bytes, rate: int) -> bytes:
    encoder = Mp3Encoder(rate)
    return encoder.encode(pcm) + encoder.flush()
