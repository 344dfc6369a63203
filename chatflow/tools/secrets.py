"""Credentials of operator-added tools: header values that may name environment variables.

An operator can store a literal value (`--header 'X-Key: abc'`) or a reference that is
read from the environment on every call (`--header 'Authorization: Bearer ${API_TOKEN}'`),
so the secret never has to be written to the data dir. Nothing here logs or returns a
value; `redacted` is what listings show instead.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

import httpx

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingSecret(LookupError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def referenced(values: Mapping[str, str]) -> list[str]:
    """The environment variables `values` refer to, in order, each once."""
    names: dict[str, None] = {}
    for value in values.values():
        for match in _REFERENCE.finditer(value):
            names[match.group(1)] = None
    return list(names)


def missing(values: Mapping[str, str], environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return [name for name in referenced(values) if not env.get(name)]


def expand(values: Mapping[str, str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`values` with each `${NAME}` replaced from the environment; raises `MissingSecret`."""
    env = os.environ if environ is None else environ
    absent = missing(values, env)
    if absent:
        raise MissingSecret(absent)
    return {
        key: _REFERENCE.sub(lambda match: env[match.group(1)], value)
        for key, value in values.items()
    }


def redacted(values: Mapping[str, str]) -> dict[str, str]:
    """What may be shown: the names, and values only when they merely reference a variable."""
    shown: dict[str, str] = {}
    for key, value in values.items():
        only_references = _REFERENCE.sub("", value).strip() in ("", "Bearer", "Basic", "Token")
        shown[key] = value if only_references and _REFERENCE.search(value) else "***"
    return shown


def parse_header(text: str) -> tuple[str, str]:
    """`'Name: value'` (curl's form) to a pair; raises ValueError for anything else."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise ValueError(f"a header is 'Name: value', got {text!r}")
    return name.strip(), value.strip()


class _QueryRedaction(logging.Filter):
    """httpx logs each request's full URL at INFO; some APIs take their key in the query
    string (SerpApi's `api_key`), so the query is dropped from those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) and arg.query else arg
                for arg in record.args
            )
        return True


def redact_request_logs() -> None:
    """Install the query redaction on httpx's logger (once)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _QueryRedaction) for f in logger.filters):
        logger.addFilter(_QueryRedaction())


redact_request_logs()
