"""`POST /files/upload` and `GET /files/{id}/preview` on the wire, and files in chat."""

from __future__ import annotations

import pytest

from .conftest import LiveServer, assert_envelope

pytestmark = pytest.mark.timeout(60)

TEXT = b"The quick brown fox jumps over the lazy dog.\n"
FIELDS = ("id", "name", "size", "extension", "mime_type", "created_by", "created_at")


def upload(server: LiveServer, app: str = "assistant", user: str = "alice", **kwargs: object):  # type: ignore[no-untyped-def]
    files = kwargs.pop("files", {"file": ("notes.txt", TEXT, "text/plain")})
    return server.client(app).post("/files/upload", files=files, data={"user": user})  # type: ignore[arg-type]


def test_upload_returns_201_with_difys_fields(server: LiveServer) -> None:
    response = upload(server)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    for key in FIELDS:
        assert body[key] is not None, key
    assert body["name"] == "notes.txt"
    assert body["size"] == len(TEXT)
    assert body["extension"] == "txt"
    assert body["mime_type"] == "text/plain"
    assert isinstance(body["created_at"], int)


def test_upload_errors_use_difys_envelope(server: LiveServer) -> None:
    client = server.client()
    assert_envelope(client.post("/files/upload", data={"user": "alice"}), 400, "no_file_uploaded")
    two = [("file", ("a.txt", b"a", "text/plain")), ("other", ("b.txt", b"b", "text/plain"))]
    response = client.post("/files/upload", files=two, data={"user": "alice"})
    assert_envelope(response, 400, "too_many_files")
    slashes = {"file": ("a\\b.txt", b"a", "text/plain")}
    assert_envelope(upload(server, files=slashes), 400, "invalid_param")


def test_size_limits_come_from_the_apps_file_upload_config(server: LiveServer) -> None:
    big = b"x" * (1024 * 1024 + 1)  # files_chat allows 1 MB documents and images
    response = upload(server, "files_chat", files={"file": ("big.txt", big, "text/plain")})
    body = assert_envelope(response, 413, "file_too_large")
    assert body["message"] == "File size exceeded."
    # The assistant app keeps Dify's default 15 MB for documents.
    assert upload(server, files={"file": ("big.txt", big, "text/plain")}).status_code == 201


def test_types_the_app_does_not_accept_are_415(server: LiveServer) -> None:
    archive = {"file": ("x.zip", b"PK\x03\x04", "application/zip")}
    assert_envelope(upload(server, "files_chat", files=archive), 415, "unsupported_file_type")
    # An app without file upload stores anything, as Dify does.
    assert upload(server, files=archive).status_code == 201


def test_preview_streams_the_bytes_with_difys_headers(server: LiveServer) -> None:
    file_id = upload(server).json()["id"]
    client = server.client()
    response = client.get(f"/files/{file_id}/preview", params={"user": "alice"})
    assert response.status_code == 200
    assert response.content == TEXT
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-length"] == str(len(TEXT))
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert "content-disposition" not in response.headers

    download = client.get(f"/files/{file_id}/preview", params={"as_attachment": "true"})
    assert download.status_code == 200 and download.content == TEXT
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''notes.txt"


def test_preview_is_scoped_to_the_user_and_the_app(server: LiveServer) -> None:
    file_id = upload(server).json()["id"]
    client = server.client()
    response = client.get(f"/files/{file_id}/preview", params={"user": "mallory"})
    assert_envelope(response, 404, "file_not_found")
    other_app = server.client("forms").get(f"/files/{file_id}/preview")
    assert_envelope(other_app, 404, "file_not_found")
    assert_envelope(client.get("/files/nope/preview"), 404, "file_not_found")


def test_html_is_always_downloaded(server: LiveServer) -> None:
    page = {"file": ("x.html", b"<script>alert(1)</script>", "text/html")}
    file_id = upload(server, files=page).json()["id"]
    response = server.client().get(f"/files/{file_id}/preview")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")


def test_uploads_live_on_disk_under_the_data_dir(server: LiveServer) -> None:
    file_id = upload(server).json()["id"]
    root = server.services.settings.data_dir / "uploads"
    stored = list(root.rglob(f"{file_id}.txt"))
    assert len(stored) == 1 and stored[0].read_bytes() == TEXT
