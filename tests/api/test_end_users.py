"""`GET /end-users/{id}`: the end user behind an upload's `created_by`."""

from __future__ import annotations

import pytest

from .conftest import LiveServer, assert_envelope

pytestmark = pytest.mark.timeout(60)


def test_end_user_from_an_uploads_created_by(server: LiveServer) -> None:
    client = server.client()
    files = {"file": ("a.txt", b"a", "text/plain")}
    created_by = client.post("/files/upload", files=files, data={"user": "eve-1"}).json()[
        "created_by"
    ]
    response = client.get(f"/end-users/{created_by}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == created_by
    assert body["session_id"] == body["external_user_id"] == "eve-1"
    assert body["type"] == "service_api"
    assert body["is_anonymous"] is False
    assert body["name"] is None
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    assert set(body) == {
        "id", "tenant_id", "app_id", "type", "external_user_id", "name",
        "is_anonymous", "session_id", "created_at", "updated_at",
    }  # fmt: skip


def test_unknown_or_foreign_end_user_is_404(server: LiveServer) -> None:
    client = server.client()
    assert_envelope(client.get("/end-users/nope"), 404, "end_user_not_found")
    files = {"file": ("a.txt", b"a", "text/plain")}
    created_by = client.post("/files/upload", files=files, data={"user": "eve-2"}).json()[
        "created_by"
    ]
    # Another app's key never sees this app's end users.
    assert_envelope(server.client("forms").get(f"/end-users/{created_by}"), 404)
