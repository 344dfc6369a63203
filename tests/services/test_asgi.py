"""The services behind the HTTP app on an in-process ASGI transport (in-memory SQLite):
a chat turn, the conversation and message it left, and Dify's error envelope."""

from __future__ import annotations

import httpx

from chatflow.services import Services

from .conftest import ECHO


async def _key(client: httpx.AsyncClient) -> str:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    result = await services.apps.import_dsl(ECHO)
    assert result.api_key is not None
    return result.api_key


async def test_a_blocking_turn_over_asgi(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {await _key(client)}"}
    body = {"inputs": {}, "query": "hi", "user": "ann", "response_mode": "blocking"}
    answer = await client.post("/chat-messages", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["answer"] == "echo hi #1" and data["mode"] == "advanced-chat"
    listed = await client.get("/conversations", params={"user": "ann"}, headers=headers)
    assert [c["id"] for c in listed.json()["data"]] == [data["conversation_id"]]
    messages = await client.get(
        "/messages",
        params={"user": "ann", "conversation_id": data["conversation_id"]},
        headers=headers,
    )
    assert [m["answer"] for m in messages.json()["data"]] == ["echo hi #1"]
    # Another user sees none of it.
    other = await client.get("/conversations", params={"user": "bob"}, headers=headers)
    assert other.json()["data"] == []


async def test_errors_carry_difys_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.get("/conversations", params={"user": "ann"})
    assert missing.status_code == 401 and missing.json()["code"] == "unauthorized"
    headers = {"Authorization": f"Bearer {await _key(client)}"}
    unknown = await client.post(
        "/chat-messages",
        json={"query": "hi", "user": "ann", "conversation_id": "nope", "inputs": {}},
        headers=headers,
    )
    assert unknown.status_code == 404
    assert set(unknown.json()) == {"code", "message", "status"}
