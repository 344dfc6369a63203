"""Run one user job inside a confined sandbox child and describe the outcome.

Dify's code contract: Python defines `def main(**inputs) -> dict`, JavaScript
`function main({...}) { return {...} }`; the result must be a JSON object. The outcome
is a JSON-able dict: `{"ok": True, "result": {...}}` or `{"ok": False, "kind", "error"}`.

Stdlib only (plus mini-racer for JavaScript): this module runs in the sandbox process.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

from chatflow.sandbox._confine import SandboxViolation

Outcome = dict[str, Any]


def failure(kind: str, error: str) -> Outcome:
    return {"ok": False, "kind": kind, "error": error}


def run_python(code: str, inputs: dict[str, Any]) -> Outcome:
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(code, "<code>", "exec"), namespace)
        main = namespace.get("main")
        if not callable(main):
            return failure("error", "the code must define a function `main`")
        result = main(**inputs)
    except SandboxViolation as exc:
        return failure("violation", str(exc))
    except MemoryError:
        return failure("memory", "memory limit exceeded")
    except RecursionError as exc:
        return failure("error", _describe(exc))
    except BaseException as exc:
        if isinstance(exc.__context__, SandboxViolation):
            return failure("violation", str(exc.__context__))
        return failure("error", _describe(exc))
    return _result(result)


def run_javascript(
    runtime: Any, code: str, inputs: dict[str, Any], *, timeout: float, memory: int
) -> Outcome:
    """`runtime` is a `MiniRacer` created before confinement (V8 loads through ctypes)."""
    from py_mini_racer import JSEvalException, JSOOMException, JSTimeoutException

    script = (
        f"{code}\n;(function(){{ if (typeof main !== 'function') "
        "throw new Error('the code must define a function `main`');"
        f" return JSON.stringify(main({json.dumps(inputs)}) ?? null); }})()"
    )
    try:
        text = runtime.eval(script, timeout_sec=timeout, max_memory=memory)
    except JSTimeoutException:
        return failure("timeout", f"code execution timed out after {timeout:g}s")
    except JSOOMException:
        return failure("memory", "memory limit exceeded")
    except JSEvalException as exc:
        return failure("error", str(exc).strip())
    return _result(json.loads(text) if isinstance(text, str) else None)


def _result(result: object) -> Outcome:
    if not isinstance(result, dict):
        return failure("error", f"main must return a dict, got {type(result).__name__}")
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return failure("error", f"the result is not JSON serializable: {exc}")
    return {"ok": True, "result": result}


def _describe(exc: BaseException) -> str:
    """`Type: message (line N)`, pointing at the user's code rather than the sandbox."""
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<code>"]
    if lines and lines[-1] is not None:
        return f"{message} (line {lines[-1]})"
    return message


def encode(outcome: Outcome, max_bytes: int) -> bytes:
    data = json.dumps(outcome, ensure_ascii=False).encode()
    if len(data) > max_bytes:
        data = json.dumps(
            failure("output", f"output is larger than the {max_bytes} byte limit")
        ).encode()
    return data


def flush_and_exit(fd: int, data: bytes) -> None:
    """Write the outcome as the channel's last frame (4-byte length, JSON) and exit."""
    import os
    import struct

    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]
    sys.stdout.flush()
    os._exit(0)
