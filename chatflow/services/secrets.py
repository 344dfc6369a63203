"""Secret environment values never leave a run in the clear.

A run needs its app's `secret` environment variables (an http-request node puts them in
a header or URL), but every event — what streams to clients, what the run log, stored
runs and messages keep — shows them as `******`: raw, URL-encoded and base64 forms alike.
Answer text is masked chunk by chunk: a model that spells a secret out over several
tokens is not caught (a secret should not be in a prompt).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from chatflow.dsl.models import AppDSL
from chatflow.engine.events import Event
from chatflow.engine.files import File

MASK = "******"
# Shorter values would mask ordinary words in every log; a secret that short is no secret.
MIN_SECRET_LENGTH = 4


class SecretMasker:
    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
                continue
            forms |= {secret, quote(secret, safe=""), quote_plus(secret)}
            forms.add(base64.b64encode(secret.encode()).decode().rstrip("="))
        # Longest first: a secret that contains another is masked whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def text(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        if isinstance(value, File) and value.url:
            return dataclasses.replace(value, url=self.text(value.url))
        return value

    def event(self, event: Event) -> Event:
        if not dataclasses.is_dataclass(event):
            return event
        changes: dict[str, Any] = {}
        for field in dataclasses.fields(event):
            current = getattr(event, field.name)
            if isinstance(current, str | Mapping | list | tuple):
                masked = self.value(current)
                if masked != current:
                    changes[field.name] = (
                        type(current)(masked) if isinstance(current, tuple) else masked
                    )
        if not changes:
            return event
        replaced: Event = dataclasses.replace(event, **changes)
        return replaced


def masker_for(dsl: AppDSL) -> SecretMasker:
    """The masker of an app's `secret` environment variables."""
    return SecretMasker(str(var.value) for var in dsl.environment_variables if var.is_secret)


def masked(events: AsyncIterator[Event], masker: SecretMasker) -> AsyncIterator[Event]:
    """`events` with every secret masked; the same iterator when the app has none."""
    return _masking(events, masker) if masker else events


async def _masking(events: AsyncIterator[Event], masker: SecretMasker) -> AsyncIterator[Event]:
    try:
        async for event in events:
            yield masker.event(event)
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
