"""The file value that flows through variables (`sys.files`, document-extractor, http files),
and its one conversion to JSON-compatible data (`to_json`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Literal

FileType = Literal["document", "image", "audio", "video", "custom"]
TransferMethod = Literal["local_file", "remote_url", "tool_file"]


@dataclass(frozen=True, slots=True)
class File:
    type: FileType
    transfer_method: TransferMethod
    id: str | None = None  # upload id for local_file / tool_file
    url: str | None = None  # remote_url, or a preview URL the server fills in
    filename: str = ""
    extension: str = ""
    mime_type: str = ""
    size: int = -1

    def to_dict(self) -> dict[str, Any]:
        """Dify's file dict shape, as it appears in node inputs/outputs."""
        data = asdict(self)
        data["dify_model_identity"] = "__dify__file__"
        data["related_id"] = self.id
        return data

    def attribute(self, name: str) -> Any:
        """Dify file attributes reachable by selector (`[node, files, 'name']`)."""
        aliases = {"name": self.filename, "related_id": self.id}
        if name in aliases:
            return aliases[name]
        return getattr(self, name, None)


# Values `to_json` returns as they are, checked by exact type first (it runs per value).
_PLAIN = frozenset((str, int, float, bool, type(None)))


def to_json(value: Any, decimals: Callable[[Decimal], Any] | None = None) -> Any:
    """`value` with every `File` in it as Dify's file dict (`File.to_dict`), for event
    payloads, template variables, tool and agent messages and stored columns.

    Mappings become dicts with string keys and tuples become lists, as JSON would make
    them; a `Decimal` goes through `decimals` (Dify's templates see floats), or stays.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list or kind is tuple:
        return [to_json(item, decimals) for item in value]
    if kind is dict:
        return {
            key if type(key) is str else str(key): to_json(item, decimals)
            for key, item in value.items()
        }
    if kind is File:
        return value.to_dict()
    # Subclasses and other mappings, the slower way.
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(key): to_json(item, decimals) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item, decimals) for item in value]
    if decimals is not None and isinstance(value, Decimal):
        return decimals(value)
    return value
