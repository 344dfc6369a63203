"""`PUT /conversations/{id}/variables/{variable_id}`: typed updates that the next turn sees."""

from __future__ import annotations

import pytest

from .conftest import LiveServer, assert_envelope, chat

pytestmark = pytest.mark.timeout(60)

LAST_QUERY = "7a3c0c62-5a6e-4ad1-9a0a-0b5c5c1f0001"
COUNTER = "7a3c0c62-5a6e-4ad1-9a0a-0b5c5c1f0002"


def _conversation(server: LiveServer, user: str) -> str:
    client = server.client("forms")
    reply = chat(client, "first", user=user, inputs={"city": "Oslo"})
    return str(reply["conversation_id"])


def test_update_returns_the_variable_and_the_next_turn_sees_it(server: LiveServer) -> None:
    cid = _conversation(server, "cv-1")
    client = server.client("forms")
    url = f"/conversations/{cid}/variables/{COUNTER}"
    response = client.put(url, json={"value": 41, "user": "cv-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == COUNTER and body["name"] == "counter"
    assert body["value_type"] == "number" and body["value"] == "41"
    assert isinstance(body["updated_at"], int)
    listed = client.get(f"/conversations/{cid}/variables", params={"user": "cv-1"}).json()
    assert {v["name"]: v["value"] for v in listed["data"]}["counter"] == "41"

    url = f"/conversations/{cid}/variables/{LAST_QUERY}"
    assert client.put(url, json={"value": "set by PUT", "user": "cv-1"}).status_code == 200
    # The next turn starts from the stored values: the assigner overwrites last_query,
    # the PUT counter is kept.
    chat(client, "second", user="cv-1", conversation_id=cid, inputs={"city": "Oslo"})
    listed = client.get(f"/conversations/{cid}/variables", params={"user": "cv-1"}).json()
    values = {v["name"]: v["value"] for v in listed["data"]}
    assert values == {"last_query": "second", "counter": "41"}


def test_type_mismatch_is_bad_request(server: LiveServer) -> None:
    cid = _conversation(server, "cv-2")
    client = server.client("forms")
    response = client.put(
        f"/conversations/{cid}/variables/{COUNTER}", json={"value": "x", "user": "cv-2"}
    )
    body = assert_envelope(response, 400, "bad_request")
    assert body["message"] == "Value type mismatch: expected number, got string."
    response = client.put(
        f"/conversations/{cid}/variables/{LAST_QUERY}", json={"value": 3, "user": "cv-2"}
    )
    assert_envelope(response, 400, "bad_request")
    response = client.put(
        f"/conversations/{cid}/variables/{COUNTER}", json={"value": True, "user": "cv-2"}
    )
    assert_envelope(response, 400, "bad_request")


def test_unknown_conversation_variable_user_and_missing_value(server: LiveServer) -> None:
    cid = _conversation(server, "cv-3")
    client = server.client("forms")
    body = assert_envelope(
        client.put(f"/conversations/{cid}/variables/nope", json={"value": 1, "user": "cv-3"}), 404
    )
    assert body["message"] == "Conversation Variable Not Exists."
    response = client.put(
        f"/conversations/{cid}/variables/{COUNTER}", json={"value": 1, "user": "x"}
    )
    assert_envelope(response, 404, "not_found")
    response = client.put(f"/conversations/{cid}/variables/{COUNTER}", json={"user": "cv-3"})
    assert_envelope(response, 400, "invalid_param")
    workflow = server.client("workflow").put(
        f"/conversations/{cid}/variables/{COUNTER}", json={"value": 1, "user": "cv-3"}
    )
    assert_envelope(workflow, 400, "not_chat_app")
