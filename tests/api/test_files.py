"""`POST /files/upload` and `GET /files/{id}/preview` on the wire, and files in chat."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import LiveServer, assert_envelope, chat, sse_events

pytestmark = pytest.mark.timeout(60)

TEXT = b"The quick brown fox jumps over the lazy dog.\n"
FIELDS = ("id", "name", "size", "extension", "mime_type", "created_by", "created_at")


def upload(
    server: LiveServer, app: str = "assistant", user: str = "alice", files: Any = None
) -> httpx.Response:
    files = files or {"file": ("notes.txt", TEXT, "text/plain")}
    return server.client(app).post("/files/upload", files=files, data={"user": user})


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
    # Dify says `public`; uploads are private data, so shared caches must not keep them.
    assert response.headers["cache-control"] == "private, max-age=3600"
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


def _local(file_id: str, kind: str = "document") -> dict[str, str]:
    return {"type": kind, "transfer_method": "local_file", "upload_file_id": file_id}


def test_chat_reads_the_users_upload_and_lists_it_in_history(server: LiveServer) -> None:
    file_id = upload(server, "files_chat", user="filer").json()["id"]
    client = server.client("files_chat")
    reply = chat(client, "read it", user="filer", files=[_local(file_id)])
    assert "quick brown fox" in reply["answer"]
    page = client.get(
        "/messages", params={"conversation_id": reply["conversation_id"], "user": "filer"}
    ).json()
    (item,) = page["data"][0]["message_files"]
    assert item["id"] == item["upload_file_id"] == file_id
    assert item["filename"] == "notes.txt" and item["type"] == "document"
    assert item["transfer_method"] == "local_file" and item["belongs_to"] == "user"
    assert item["mime_type"] == "text/plain" and item["size"] == len(TEXT)
    # Used in a message, the upload previews for its owner.
    preview = client.get(f"/files/{file_id}/preview", params={"user": "filer"})
    assert preview.content == TEXT


def test_streamed_answer_files_become_message_file_events(server: LiveServer) -> None:
    file_id = upload(server, "files_chat", user="filer").json()["id"]
    payload = {
        "inputs": {},
        "query": "show it",
        "user": "filer",
        "response_mode": "streaming",
        "files": [_local(file_id)],
    }
    with server.client("files_chat").stream("POST", "/chat-messages", json=payload) as response:
        raw = response.read().decode()
    frames = [e for e in sse_events(iter(raw.split("\n"))) if e["event"] != "ping"]
    names = [f["event"] for f in frames]
    files = [f for f in frames if f["event"] == "message_file"]
    assert len(files) == 1
    assert files[0]["id"] == file_id and files[0]["belongs_to"] == "assistant"
    assert files[0]["type"] == "document"
    assert files[0]["conversation_id"] == frames[0]["conversation_id"]
    assert names.index("message_file") < names.index("message_end")


def test_files_in_chat_are_checked(server: LiveServer) -> None:
    client = server.client("files_chat")
    theirs = upload(server, "files_chat", user="owner").json()["id"]
    response = client.post(
        "/chat-messages",
        json={"query": "q", "user": "thief", "inputs": {}, "files": [_local(theirs)]},
    )
    assert_envelope(response, 400, "invalid_param")
    remote = {"type": "custom", "transfer_method": "remote_url", "url": "https://x.test/a.zip"}
    response = client.post(
        "/chat-messages", json={"query": "q", "user": "u", "inputs": {}, "files": [remote]}
    )
    body = assert_envelope(response, 400, "invalid_param")
    assert body["message"] == "File validation failed for file: a.zip"


def test_remote_files_go_through_the_ssrf_guard(server: LiveServer) -> None:
    remote = {
        "type": "document",
        "transfer_method": "remote_url",
        "url": "http://127.0.0.1:9/a.txt",
    }
    response = server.client("files_chat").post(
        "/chat-messages", json={"query": "q", "user": "u", "inputs": {}, "files": [remote]}
    )
    body = assert_envelope(response, 400, "invalid_param")
    assert body["message"].startswith("Run failed:")


def test_files_are_ignored_when_the_app_does_not_enable_upload(server: LiveServer) -> None:
    file_id = upload(server, user="plain").json()["id"]
    client = server.client()
    reply = chat(client, user="plain", files=[_local(file_id)])
    page = client.get(
        "/messages", params={"conversation_id": reply["conversation_id"], "user": "plain"}
    ).json()
    assert page["data"][0]["message_files"] == []
    assert chat(client, user="plain", files=None)["answer"]


def test_workflow_run_reads_uploaded_files(server: LiveServer) -> None:
    file_id = upload(server, "workflow", user="wf-files").json()["id"]
    response = server.client("workflow").post(
        "/workflows/run",
        json={"inputs": {"topic": "t"}, "user": "wf-files", "files": [_local(file_id)]},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "succeeded"
    assert data["outputs"]["docs"] == [TEXT.decode()]
