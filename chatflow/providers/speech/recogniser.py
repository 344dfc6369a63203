"""PocketSphinx recognition in a worker process: 16 kHz mono PCM in, text out.

PocketSphinx holds the GIL for the whole of a decode (measured: an event loop sharing the
process stalled for 9 s on 14 s of audio), so a thread would not keep the server
responsive. One spawned process owns the decoder (~0.3 s to load, once) and takes one
request at a time; if it dies, the next request starts a new one.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from chatflow.errors import ProviderError

RATE = 16000
# Silence added around the audio: PocketSphinx misses words that start at the very first
# frame (eSpeak's output does; so do clipped recordings). 0.2 s measured best.
_PAD = b"\0\0" * int(RATE * 0.2)

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


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # spawn, not fork: forking a process that runs threads and an event loop is unsafe.
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return _pool


def _discard_pool(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


async def recognise_async(pcm: bytes) -> str:
    """`recognise` in the worker process; its failures become `ProviderError`."""
    pool = _get_pool()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, recognise, pcm)
    except BrokenProcessPool as exc:
        _discard_pool(pool)
        raise ProviderError("The speech recogniser process died; try again") from exc
    except Exception as exc:  # raised in the worker: a broken install, a decoder error
        raise ProviderError(f"PocketSphinx failed: {exc}") from exc
