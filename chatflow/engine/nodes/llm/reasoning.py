"""`<think>...</think>` handling for `reasoning_format: separated` (Dify's `reasoning.py`).

With the default `tagged` format Dify leaves reasoning inline and nothing here runs. With
`separated` the streamed text must not show reasoning: `ThinkFilter` strips it while the
model streams, holding back only a tail that could still grow into a tag, and
`split_reasoning` produces the final clean `text` and `reasoning_content`.
"""

from __future__ import annotations

import re

_OPEN_TAG = r"<think(?:\s[^<>]{0,512})?>"
_THINK = re.compile(rf"{_OPEN_TAG}(.*?)</think>", re.IGNORECASE | re.DOTALL)
_OPEN = re.compile(_OPEN_TAG, re.IGNORECASE)
_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_TRAILING_OPEN = re.compile(rf"{_OPEN_TAG}(?P<reasoning>(?:(?!</think>)[\s\S])*)\Z", re.IGNORECASE)
_OPEN_PREFIX = "<think"
_CLOSE_TAG = "</think>"
_OPEN_PREFIX_MAX = len(_OPEN_PREFIX) + 1 + 512


class ThinkFilter:
    """Strips reasoning from a token stream; tags may be split across chunks."""

    def __init__(self) -> None:
        self._inside = False
        self._hold = ""
        self._seen_text = False

    def feed(self, text: str) -> str:
        """Return the clean text that is safe to show after this chunk."""
        out: list[str] = []
        work = self._hold + text
        self._hold = ""
        while work:
            pattern = _CLOSE if self._inside else _OPEN
            match = pattern.search(work)
            if match:
                if not self._inside:
                    out.append(work[: match.start()])
                self._inside = not self._inside
                work = work[match.end() :]
                continue
            keep = self._close_suffix(work) if self._inside else self._open_suffix(work)
            if not self._inside:
                out.append(work[: len(work) - keep])
            self._hold = work[len(work) - keep :] if keep else ""
            work = ""
        return self._strip_leading("".join(out))

    def finish(self) -> str:
        """Flush held text at the end of the stream (an unclosed tag is reasoning)."""
        held, self._hold = self._hold, ""
        return "" if self._inside else self._strip_leading(held)

    def _strip_leading(self, text: str) -> str:
        # Reasoning models open with the think block: drop the whitespace after it.
        if self._seen_text or not text:
            return text
        text = text.lstrip()
        self._seen_text = bool(text)
        return text

    @staticmethod
    def _open_suffix(work: str) -> int:
        lt = work.rfind("<")
        if lt == -1:
            return 0
        tail = work[lt:]
        lower = tail.lower()
        if ">" in tail:
            return 0
        if len(tail) <= len(_OPEN_PREFIX):
            return len(tail) if _OPEN_PREFIX.startswith(lower) else 0
        if (
            lower.startswith(_OPEN_PREFIX)
            and tail[len(_OPEN_PREFIX)].isspace()
            and len(tail) <= _OPEN_PREFIX_MAX
        ):
            return len(tail)
        return 0

    @staticmethod
    def _close_suffix(work: str) -> int:
        for size in range(min(len(work), len(_CLOSE_TAG) - 1), 0, -1):
            if _CLOSE_TAG.startswith(work[-size:].lower()):
                return size
        return 0


def split_reasoning(text: str) -> tuple[str, str]:
    """Split `text` into (clean text, reasoning content), as Dify's separated mode does."""
    reasoning = [m.strip() for m in _THINK.findall(text) if m.strip()]
    clean = _THINK.sub("", text)
    trailing = _TRAILING_OPEN.search(clean)
    if trailing:
        if trailing.group("reasoning").strip():
            reasoning.append(trailing.group("reasoning").strip())
        clean = clean[: trailing.start()]
    clean = re.sub(r"\n\s*\n", "\n\n", clean).strip()
    return clean, "\n".join(reasoning)
