"""The file value that flows through variables (`sys.files`, document-extractor, http files)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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
