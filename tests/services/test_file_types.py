"""Dify's file vocabulary: types by extension then MIME, per-type size limits, and an
app's `file_upload` rules (`is_file_valid_with_config`)."""

from __future__ import annotations

import pytest

from chatflow.services import file_types as ft

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("name", "extension"),
    [("report.PDF", "pdf"), ("a.tar.gz", "gz"), ("noext", ""), ("dir.d/file", ""), ("x.", "")],
)
def test_extension_of(name: str, extension: str) -> None:
    assert ft.extension_of(name) == extension


@pytest.mark.parametrize(
    ("extension", "mime", "kind"),
    [
        (".PNG", "", "image"),
        ("mp3", "", "audio"),
        ("mov", "", "video"),
        ("md", "", "document"),
        ("bin", "image/x-icon", "image"),
        ("bin", "text/plain", "document"),
        ("bin", "application/pdf", "document"),
        ("bin", "application/octet-stream", "custom"),
        ("png", "text/plain", "image"),  # the extension wins over the MIME type
    ],
)
def test_file_type_by_extension_then_mime(extension: str, mime: str, kind: str) -> None:
    assert ft.file_type(extension, mime) == kind


def test_size_limits_per_type_with_the_apps_overrides() -> None:
    assert ft.size_limit({}, "png", 15) == 10 * MB
    assert ft.size_limit({}, "pdf", 15) == 15 * MB  # the server's general limit
    assert ft.size_limit({}, "mp4", 15) == 100 * MB
    rules = {"fileUploadConfig": {"image_file_size_limit": 2, "file_size_limit": 0.5}}
    assert ft.size_limit(rules, "JPG", 15) == 2 * MB
    assert ft.size_limit(rules, "txt", 15) == MB // 2
    # Nonsense values fall back to the defaults.
    bad = {"fileUploadConfig": {"audio_file_size_limit": -1, "file_size_limit": "9"}}
    assert ft.size_limit(bad, "wav", 15) == 50 * MB
    assert ft.size_limit(bad, "txt", 15) == 15 * MB
    assert ft.size_limit({"fileUploadConfig": "junk"}, "txt", 3) == 3 * MB


def test_allowed_types_extensions_and_transfer_methods() -> None:
    rules = {
        "allowed_file_types": ["image", "document"],
        "allowed_file_extensions": [".ZIP"],
        "allowed_file_upload_methods": ["local_file"],
    }
    assert ft.allowed(rules, "image", "png", "local_file")
    assert not ft.allowed(rules, "image", "png", "remote_url")
    assert not ft.allowed(rules, "audio", "mp3", None)
    assert ft.allowed(rules, "custom", "zip", None)  # custom files go by extension
    assert not ft.allowed(rules, "custom", "exe", None)
    assert ft.allowed({}, "video", "mp4", "remote_url")  # no rules: anything goes


def test_legacy_image_transfer_methods_win_for_images() -> None:
    rules = {
        "image": {"transfer_methods": ["remote_url"]},
        "allowed_file_upload_methods": ["local_file"],
    }
    assert ft.allowed(rules, "image", "png", "remote_url")
    assert not ft.allowed(rules, "image", "png", "local_file")
    assert ft.allowed(rules, "document", "pdf", "local_file")


def test_remote_names_and_mime_guesses() -> None:
    assert ft.remote_file_name("https://x.test/a/b/My%20File.pdf?sig=1#p") == "My File.pdf"
    assert ft.remote_file_name("https://x.test/") == ""
    assert ft.guess_mime("a.png") == "image/png"
    assert ft.guess_mime("unknown.zzz") == ""
