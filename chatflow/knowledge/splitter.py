"""Dify's process rules: clean the text, then cut it into chunks of at most N tokens.

`automatic` uses Dify's automatic rule (newline separator, 500 tokens, 50 overlap, extra
spaces removed); `custom` takes `separator`, `max_tokens`, `chunk_overlap` and the two
pre-processing rules (`remove_extra_spaces`, `remove_urls_emails`). Like Dify's fixed
splitter, the text is split on the separator first and any piece still too long is split
again on paragraph, sentence (CJK and Latin), word and finally character boundaries;
small neighbouring pieces are merged up to the limit, with `chunk_overlap` tokens of the
previous chunk carried into the next.

Tokens are estimated without a model tokenizer: one per CJK character, one per four
other characters of a word (at least one per word), which is close to BPE counts.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatflow.errors import InvalidRequest

MODES = ("automatic", "custom", "hierarchical")
MIN_TOKENS, MAX_TOKENS = 50, 4000
_PRE_RULES = ("remove_extra_spaces", "remove_urls_emails")
_FALLBACK_SEPARATORS = (
    "\n\n",
    "\n",
    "。",
    "！",
    "？",
    ". ",
    "! ",
    "? ",
    "；",
    "; ",
    "，",
    ", ",
    " ",
    "",
)

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORDS = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|[^\s\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"https?://[^\s)\]>\"']+")
_MARKDOWN_LINK = re.compile(r"(!?\[[^\]]*\])\((https?://[^)\s]+)\)")


@dataclass(frozen=True, slots=True)
class ChunkRule:
    """A validated process rule."""

    mode: str
    separator: str
    max_tokens: int
    chunk_overlap: int
    remove_extra_spaces: bool
    remove_urls_emails: bool

    def to_dify(self) -> dict[str, Any]:
        """The rule as Dify reports it (`dataset_process_rule`, `document_process_rule`)."""
        return {
            "mode": self.mode,
            "rules": {
                "pre_processing_rules": [
                    {"id": "remove_extra_spaces", "enabled": self.remove_extra_spaces},
                    {"id": "remove_urls_emails", "enabled": self.remove_urls_emails},
                ],
                "segmentation": {
                    "separator": self.separator,
                    "max_tokens": self.max_tokens,
                    "chunk_overlap": self.chunk_overlap,
                },
            },
        }


AUTOMATIC = ChunkRule("automatic", "\n", 500, 50, True, False)


def parse_rule(raw: Mapping[str, Any] | None) -> ChunkRule:
    """Validate Dify's `process_rule`; errors are 400s with Dify's messages."""
    if not raw:
        return AUTOMATIC
    mode = raw.get("mode")
    if mode not in MODES:
        raise InvalidRequest("Process rule mode is invalid")
    if mode == "automatic":
        return AUTOMATIC
    rules = raw.get("rules")
    if not isinstance(rules, Mapping):
        raise InvalidRequest("Process rule rules is required")
    pre = rules.get("pre_processing_rules", [])
    if not isinstance(pre, list):
        raise InvalidRequest("Process rule pre_processing_rules is invalid")
    enabled: dict[str, bool] = {}
    for item in pre:
        if not isinstance(item, Mapping) or item.get("id") not in _PRE_RULES:
            raise InvalidRequest("Process rule pre_processing_rules is invalid")
        if not isinstance(item.get("enabled"), bool):
            raise InvalidRequest("Process rule pre_processing_rules enabled is invalid")
        enabled[str(item["id"])] = bool(item["enabled"])
    segmentation = rules.get("segmentation")
    if not isinstance(segmentation, Mapping):
        raise InvalidRequest("Process rule segmentation is required")
    separator = segmentation.get("separator", "\n")
    if not isinstance(separator, str) or not separator:
        raise InvalidRequest("Process rule segmentation separator is invalid")
    max_tokens = segmentation.get("max_tokens")
    if max_tokens is None:
        raise InvalidRequest("Process rule segmentation max_tokens is required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise InvalidRequest("Process rule segmentation max_tokens is invalid")
    if not MIN_TOKENS <= max_tokens <= MAX_TOKENS:
        raise InvalidRequest(
            f"Custom segment length should be between {MIN_TOKENS} and {MAX_TOKENS}."
        )
    overlap = segmentation.get("chunk_overlap", 0) or 0
    if not isinstance(overlap, int) or isinstance(overlap, bool) or overlap < 0:
        raise InvalidRequest("Process rule segmentation chunk_overlap is invalid")
    if overlap >= max_tokens:
        raise InvalidRequest("Process rule segmentation chunk_overlap must be less than max_tokens")
    return ChunkRule(
        mode=str(mode),
        # Clients send the separator escaped ("\\n"), as Dify's UI does.
        separator=_unescape(separator),
        max_tokens=max_tokens,
        chunk_overlap=overlap,
        remove_extra_spaces=enabled.get("remove_extra_spaces", False),
        remove_urls_emails=enabled.get("remove_urls_emails", False),
    )


def _unescape(separator: str) -> str:
    try:
        return codecs.decode(separator, "unicode_escape") if "\\" in separator else separator
    except UnicodeDecodeError:
        return separator


def count_tokens(text: str) -> int:
    """Estimated tokens of `text` (see the module docstring)."""
    total = 0
    for word in _WORDS.findall(text):
        total += 1 if _CJK.match(word) else max(1, math.ceil(len(word) / 4))
    return total


def count_words(text: str) -> int:
    """Dify's `word_count`: characters, which is what it counts for every language."""
    return len(text)


def clean(text: str, rule: ChunkRule) -> str:
    """Apply the pre-processing rules (and always drop control characters, as Dify does)."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe]", "", text)
    if rule.remove_extra_spaces:
        text = re.sub(r"\n{3,}", "\n\n", text)
        text = re.sub(r"[\t\f\r\x20\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]{2,}", " ", text)
    if rule.remove_urls_emails:
        text = _EMAIL.sub("", text)
        # Markdown links keep their text; bare URLs go.
        text = _MARKDOWN_LINK.sub(lambda m: m.group(1), text)
        text = _URL.sub("", text)
    return text


def split(parts: Sequence[str], rule: ChunkRule) -> list[str]:
    """Chunks of every part (parts are never merged: a CSV row stays its own chunk)."""
    chunks: list[str] = []
    for part in parts:
        text = clean(part, rule).strip()
        if text:
            chunks.extend(_split_text(text, rule))
    return chunks


def _split_text(text: str, rule: ChunkRule) -> list[str]:
    pieces = [p for p in text.split(rule.separator)] if rule.separator else [text]
    small: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if count_tokens(piece) <= rule.max_tokens:
            small.append(piece)
        else:
            small.extend(_recursive(piece, rule.max_tokens, _FALLBACK_SEPARATORS))
    return _merge(small, rule, joiner=rule.separator if rule.separator.isspace() else "\n")


def _recursive(text: str, limit: int, separators: Sequence[str]) -> list[str]:
    """Cut `text` into pieces of at most `limit` tokens on the coarsest boundary that works."""
    if count_tokens(text) <= limit:
        return [text]
    for index, separator in enumerate(separators):
        if separator == "":
            return _hard_cut(text, limit)
        if separator not in text:
            continue
        out: list[str] = []
        parts = text.split(separator)
        for position, part in enumerate(parts):
            # Keep sentence punctuation with its sentence.
            if position < len(parts) - 1 and separator.strip():
                part += separator.rstrip()
            if not part.strip():
                continue
            out.extend(_recursive(part.strip(), limit, separators[index + 1 :]))
        return out
    return _hard_cut(text, limit)


def _hard_cut(text: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for char in text:
        if current and count_tokens(current + char) > limit:
            out.append(current)
            current = ""
        current += char
    if current.strip():
        out.append(current)
    return out


def _merge(pieces: Sequence[str], rule: ChunkRule, *, joiner: str) -> list[str]:
    """Join small pieces up to `max_tokens`, repeating `chunk_overlap` tokens of context."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        tokens = count_tokens(piece)
        if current and size + tokens > rule.max_tokens:
            chunks.append(joiner.join(current).strip())
            # Keep trailing pieces worth at most `chunk_overlap` tokens as the overlap.
            kept: list[str] = []
            kept_size = 0
            for previous in reversed(current):
                previous_size = count_tokens(previous)
                if kept_size + previous_size > rule.chunk_overlap:
                    break
                kept.insert(0, previous)
                kept_size += previous_size
            if kept_size + tokens > rule.max_tokens:
                kept, kept_size = [], 0
            current, size = kept, kept_size
        current.append(piece)
        size += tokens
    if current:
        chunks.append(joiner.join(current).strip())
    return [c for c in chunks if c]
