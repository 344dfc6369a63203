"""`POST /messages/{id}/feedbacks` and `GET /app/feedbacks`."""

from __future__ import annotations

import pytest

from .conftest import LiveServer, assert_envelope, chat

pytestmark = pytest.mark.timeout(60)


def _rating(server: LiveServer, message: dict[str, object], user: str) -> object:
    client = server.client()
    page = client.get(
        "/messages", params={"conversation_id": message["conversation_id"], "user": user}
    ).json()
    return next(m["feedback"] for m in page["data"] if m["id"] == message["id"])


def test_like_change_and_revoke(server: LiveServer) -> None:
    client = server.client()
    message = chat(client, user="fb-1")
    url = f"/messages/{message['id']}/feedbacks"
    response = client.post(url, json={"rating": "like", "user": "fb-1", "content": None})
    assert response.status_code == 200 and response.json() == {"result": "success"}
    assert _rating(server, message, "fb-1") == {"rating": "like"}

    body = {"rating": "dislike", "user": "fb-1", "content": "too short"}
    assert client.post(url, json=body).status_code == 200
    assert _rating(server, message, "fb-1") == {"rating": "dislike"}
    items = client.get("/app/feedbacks", params={"limit": 100}).json()["data"]
    mine = [f for f in items if f["message_id"] == message["id"]]
    assert len(mine) == 1
    item = mine[0]
    assert item["rating"] == "dislike" and item["content"] == "too short"
    assert item["from_source"] == "user" and item["from_account_id"] is None
    assert item["conversation_id"] == message["conversation_id"]
    assert item["created_at"].endswith("Z")

    assert client.post(url, json={"rating": None, "user": "fb-1"}).status_code == 200
    assert _rating(server, message, "fb-1") is None
    # Revoking again: Dify's "rating cannot be None when feedback not exists".
    assert_envelope(client.post(url, json={"rating": None, "user": "fb-1"}), 400, "invalid_param")


def test_feedback_errors(server: LiveServer) -> None:
    client = server.client()
    message = chat(client, user="fb-2")
    url = f"/messages/{message['id']}/feedbacks"
    assert_envelope(client.post(url, json={"rating": "like", "user": "fb-other"}), 404, "not_found")
    assert_envelope(
        client.post("/messages/nope/feedbacks", json={"rating": "like", "user": "fb-2"}), 404
    )
    assert_envelope(client.post(url, json={"rating": "love", "user": "fb-2"}), 400, "invalid_param")
    assert_envelope(client.post(url, json={"rating": "like"}), 400, "invalid_param")


def test_app_feedbacks_paging_and_limit_101(server: LiveServer) -> None:
    client = server.client()
    for _ in range(3):
        message = chat(client, user="fb-3")
        url = f"/messages/{message['id']}/feedbacks"
        assert client.post(url, json={"rating": "like", "user": "fb-3"}).status_code == 200
    response = client.get("/app/feedbacks", params={"limit": 101})
    assert response.status_code == 200
    everything = response.json()["data"]
    assert len(everything) >= 3
    first = client.get("/app/feedbacks", params={"page": 1, "limit": 2}).json()["data"]
    second = client.get("/app/feedbacks", params={"page": 2, "limit": 2}).json()["data"]
    assert [f["id"] for f in first + second] == [f["id"] for f in everything[:4]]
    # Newest first.
    stamps = [f["created_at"] for f in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert client.get("/app/feedbacks", params={"limit": 1000, "page": 0}).status_code == 200
    assert client.get("/app/feedbacks?page=&limit=").status_code == 200
