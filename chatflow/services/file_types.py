"""Dify's file vocabulary: which extensions are images, audio, video or documents, the
per-type upload size limits, and the app's `features.file_upload` rules for files sent
with a request (Dify's `is_file_valid_with_config`)."""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlparse

from chatflow.engine.files import FileType

# Dify's constants (api/constants/__init__.py), lower case, without the dot.
IMAGE_EXTENSIONS = frozenset(("jpg", "jpeg", "png", "webp", "gif", "svg"))
VIDEO_EXTENSIONS = frozenset(("mp4", "mov", "mpeg", "webm"))
AUDIO_EXTENSIONS = frozenset(("mp3", "m4a", "wav", "amr", "mpga"))
DOCUMENT_EXTENSIONS = frozenset(
    (
        "txt", "markdown", "md", "mdx", "pdf", "html", "htm", "xlsx", "xls", "vtt",
        "properties", "doc", "docx", "csv", "eml", "msg", "pptx", "xml", "epub", "ppt",
        "json",
    )
)  # fmt: skip

# Dify's defaults in MB (UPLOAD_*_FILE_SIZE_LIMIT), also what DSL exports carry in
# `features.file_upload.fileUploadConfig`.
DEFAULT_LIMITS_MB = {"image": 10, "audio": 50, "video": 100, "document": 15}
_CONFIG_KEYS = {
    "image": "image_file_size_limit",
    "audio": "audio_file_size_limit",
    "video": "video_file_size_limit",
    "document": "file_size_limit",
}


def extension_of(name: str) -> str:
    """`report.PDF` -> `pdf` (Dify stores extensions lower case, without the dot)."""
    _, dot, ext = name.rpartition(".")
    return ext.lower() if dot and ext and "/" not in ext else ""


def file_type(extension: str, mime_type: str = "") -> FileType:
    """Dify's `_standardize_file_type`: by extension first, then by MIME type."""
    ext = extension.lower().lstrip(".")
    for kind, known in (
        ("image", IMAGE_EXTENSIONS),
        ("video", VIDEO_EXTENSIONS),
        ("audio", AUDIO_EXTENSIONS),
        ("document", DOCUMENT_EXTENSIONS),
    ):
        if ext in known:
            return kind  # type: ignore[return-value]
    major = mime_type.split("/", 1)[0]
    if major in ("image", "video", "audio"):
        return major  # type: ignore[return-value]
    if mime_type.startswith(("text/", "application/pdf")):
        return "document"
    return "custom"


def size_limit(file_upload: Mapping[str, Any], extension: str, default_mb: int) -> int:
    """The upload limit in bytes for a file with this extension.

    Images, audio and video have their own limits; everything else uses the general one.
    An app's `fileUploadConfig` may set them; otherwise Dify's defaults apply, with
    `default_mb` (the server's `upload_max_mb`) as the general limit.
    """
    ext = extension.lower()
    kind = "document"
    if ext in IMAGE_EXTENSIONS:
        kind = "image"
    elif ext in VIDEO_EXTENSIONS:
        kind = "video"
    elif ext in AUDIO_EXTENSIONS:
        kind = "audio"
    config = file_upload.get("fileUploadConfig") or {}
    fallback = default_mb if kind == "document" else DEFAULT_LIMITS_MB[kind]
    value = config.get(_CONFIG_KEYS[kind]) if isinstance(config, Mapping) else None
    megabytes = value if isinstance(value, int | float) and value > 0 else fallback
    return int(megabytes * 1024 * 1024)


def _extensions(values: Any) -> set[str]:
    return {str(v).lower().lstrip(".") for v in values or ()}


def allowed(
    rules: Mapping[str, Any], kind: str, extension: str, transfer_method: str | None
) -> bool:
    """Dify's `is_file_valid_with_config` against a `file_upload`-shaped dict.

    Custom files are checked by extension; images by the legacy `image.transfer_methods`
    when set, other types by `allowed_file_upload_methods`.
    """
    types = rules.get("allowed_file_types") or []
    if types and kind not in types and kind != "custom":
        return False
    if kind == "custom" and rules.get("allowed_file_extensions") is not None:
        if extension.lower().lstrip(".") not in _extensions(rules.get("allowed_file_extensions")):
            return False
    if transfer_method is None:
        return True
    image = rules.get("image") or {}
    if kind == "image" and isinstance(image, Mapping) and image.get("transfer_methods"):
        return transfer_method in image["transfer_methods"]
    methods = rules.get("allowed_file_upload_methods") or []
    return not methods or transfer_method in methods


def remote_file_name(url: str) -> str:
    """The file name a remote URL implies (its last path segment)."""
    return unquote(posixpath.basename(urlparse(url).path))


def guess_mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or ""
