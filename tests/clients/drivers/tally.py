"""Counts the SDK calls a driver makes and whether each passed; prints one RESULT line.

Runs inside the per-client subprocess (the SDK's own directory first on `sys.path`).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

BASE_URL = os.environ["CHATFLOW_BASE_URL"]  # ends with /v1
ROOT = BASE_URL.removesuffix("/v1")
KEY = os.environ["CHATFLOW_KEY"]
SPEECH_KEY = os.environ["CHATFLOW_SPEECH_KEY"]
WORKFLOW_KEY = os.environ["CHATFLOW_WORKFLOW_KEY"]
USER = "sdk-user"


class Tally:
    def __init__(self, sdk: str) -> None:
        self.sdk = sdk
        self.passed: list[str] = []
        self.failed: dict[str, str] = {}

    def call(
        self, name: str, fn: Callable[[], Any], check: Callable[[Any], object] | None = None
    ) -> Any:
        """Run one SDK call; `check` asserts on its result. Failures are recorded, not raised."""
        try:
            result = fn()
            if check is not None:
                verdict = check(result)
                assert verdict is None or verdict, f"check failed on {result!r:.300}"
        except Exception as exc:  # a client's failure is what this counts
            self.failed[name] = f"{type(exc).__name__}: {exc}"[:500]
            traceback.print_exc(file=sys.stderr)
            return None
        self.passed.append(name)
        return result

    def report(self) -> None:
        print(
            "RESULT " + json.dumps({"sdk": self.sdk, "passed": self.passed, "failed": self.failed})
        )
