"""PocketSphinx recognition in a worker process: 16 kHz mono PCM in, text out.

PocketSphinx holds the GIL for the whole of a decode (measured: an event loop sharing the
process stalled for 9 s on 14 s of audio), so a thread would not keep the server
responsive. One child Python process (running `main`) owns
the decoder (~0.3 s to load, once) and answers one request at a time over its pipes:
a 4-byte big-endian length and the PCM in, one JSON line out. A plain subprocess rather
than multiprocessing, whose spawn mode re-runs the parent's main script in the child.
The child exits when its stdin closes, so it never outlives the server; if it dies,
the next request starts a new one.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from chatflow.errors import ProviderError

RATE = 16000
# Silence added around the audio: PocketSphinx misses words that start at the very first
# frame (eSpeak's output does; so do clipped recordings). 0.2 s measured best.
_PAD = b"\0\0" * int(RATE * 0.2)
_LENGTH = struct.Struct(">I")
# Not `-m`: that would import this module twice (once through the package's __init__).
_CHILD = "from chatflow.providers.speech.recogniser import main; main()"

_decoder: Any = None  # in the worker process only
_initial_cmn = ""


def recognise(pcm: bytes) -> str:
    """PocketSphinx's best hypothesis for the PCM, in this process (loads on first use)."""
    global _decoder, _initial_cmn
    if _decoder is None:
        from pocketsphinx import Decoder  # type: ignore[import-untyped]

        # Dither keeps digital silence from giving -inf log energies; a fixed seed keeps
        # transcripts reproducible.
        _decoder = Decoder(samprate=RATE, loglevel="FATAL", dither=True, seed=1)
        _initial_cmn = _decoder.get_cmn(False)
    if not pcm:
        return ""
    # The decoder adapts its feature normalisation to what it hears; resetting it makes
    # a transcript depend on its own audio only, not on earlier requests.
    _decoder.reinit_feat()
    _decoder.set_cmn(_initial_cmn)
    _decoder.start_utt()
    _decoder.process_raw(_PAD + pcm + _PAD, full_utt=True)
    _decoder.end_utt()
    hypothesis = _decoder.hyp()
    return str(hypothesis.hypstr) if hypothesis is not None else ""


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def main() -> None:
    """The worker process: answer requests from stdin until it closes."""
    stdin = sys.stdin.buffer
    # Answers get a private copy of stdout; anything a library prints goes to stderr.
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    while (header := _read_exactly(stdin, _LENGTH.size)) is not None:
        pcm = _read_exactly(stdin, _LENGTH.unpack(header)[0])
        if pcm is None:
            return
        try:
            answer = {"text": recognise(pcm)}
        except Exception as exc:  # reported to the server, which raises ProviderError
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(answer).encode() + b"\n")
        stdout.flush()


class _Worker:
    """The server side: starts the child on demand and exchanges one request at a time."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        # The child must import this package exactly as the parent did.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def _discard(self) -> None:
        """Kill and reap the child and close its pipes (it died or stopped answering)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def run(self, pcm: bytes) -> str:
        with self._lock:
            if self._process is not None and self._process.poll() is not None:
                self._discard()
            if self._process is None:
                self._process = self._start()
            process = self._process
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(_LENGTH.pack(len(pcm)) + pcm)
                process.stdin.flush()
                line = process.stdout.readline()
            except OSError:
                line = b""
            if not line:
                self._discard()
                raise ProviderError("The speech recogniser process died; try again")
        answer = json.loads(line)
        if "error" in answer:
            raise ProviderError(f"PocketSphinx failed: {answer['error']}")
        return str(answer["text"])


_worker = _Worker()
# One thread waits on the child's pipes; the wait releases the GIL.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatflow-stt-wait")


async def recognise_async(pcm: bytes) -> str:
    """`recognise` in the worker process (started on first use)."""
    return await asyncio.get_running_loop().run_in_executor(_executor, _worker.run, pcm)
