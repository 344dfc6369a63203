"""A real llama.cpp server with tool calling, for the OpenAI-compatible backend's tests.

xllamacpp runs llama.cpp's own `llama-server` code in this process, listening on
loopback behind a random key. This one serves the shipped SmolLM2-135M with
`chatml_tools.jinja` instead of SmolLM2's own chat template, which has no tool syntax
(llama.cpp then drops the tools). From a template that writes calls Hermes-style
llama.cpp derives its tool-call parser and a lazy grammar triggered by `<tool_call>`:
once the model writes the marker the call is constrained to the tools' schemas and
streamed back as OpenAI tool-call deltas. The template shows the model one worked call
of the first tool; without it SmolLM2-135M never writes the marker, and
`tool_choice: "required"` does not force it (see `test_openai_llamacpp.py`).
"""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Any

from chatflow.providers import model_file

TEMPLATE = Path(__file__).with_name("chatml_tools.jinja")
_alive: list[Any] = []  # the servers, kept for the life of the process


@functools.cache
def tool_server() -> tuple[str, str]:
    """`(base_url, api_key)` of the server, started on first use (once per process)."""
    import xllamacpp  # type: ignore[import-untyped]

    params = xllamacpp.CommonParams()
    params.model.path = str(model_file.ensure_default_model())
    params.chat_template = TEMPLATE.read_text(encoding="utf-8")
    params.n_ctx = 4096
    params.n_parallel = 1
    params.warmup = False
    params.verbosity = -1
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.sampling.temp = 0.0  # greedy unless a request asks otherwise: runs repeat
    params.sampling.seed = 1
    params.api_keys = [secrets.token_hex(16)]
    server = xllamacpp.Server(params)
    _alive.append(server)
    return f"{server.listening_address}/v1", params.api_keys[0]
