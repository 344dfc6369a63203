"""Conversations, messages and variables: paging, rename, delete, user scoping."""

from __future__ import annotations

import time

import pytest

from chatflow.providers.fake import FakeLLM

from .conftest import ANSWER, LiveServer, assert_envelope, chat

pytestmark = pytest.mark.timeout(60)


def _conversations(server: LiveServer, user: str, count: int) -> list[str]:
    client = server.client()
    return [
        chat(client, f"question {i}", user=user, auto_generate_name=False)["conversation_id"]
        for i in range(count)
    ]


def test_list_pages_newest_first_with_last_id(server: LiveServer) -> None:
    created = _conversations(server, "pager", 5)
    client = server.client()
    first = client.get("/conversations", params={"user": "pager", "limit": 2}).json()
    assert first["limit"] == 2 and first["has_more"] is True
    assert [c["id"] for c in first["data"]] == created[::-1][:2]
    item = first["data"][0]
    assert set(item) == {
        "id",
        "name",
        "inputs",
        "status",
        "introduction",
        "created_at",
        "updated_at",
    }
    assert item["status"] == "normal" and item["name"] == "New conversation"
    assert item["introduction"] == "Hello! I'm your assistant. Ask me anything."
    seen = [c["id"] for c in first["data"]]
    last_id = seen[-1]
    while True:
        page = client.get(
            "/conversations", params={"user": "pager", "limit": 2, "last_id": last_id}
        ).json()
        seen += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        last_id = page["data"][-1]["id"]
    assert seen == created[::-1]
    oldest_first = client.get(
        "/conversations", params={"user": "pager", "sort_by": "created_at"}
    ).json()
    assert [c["id"] for c in oldest_first["data"]] == created


def test_rename_and_auto_generate(server: LiveServer) -> None:
    [conversation_id] = _conversations(server, "namer", 1)
    client = server.client()
    renamed = client.post(
        f"/conversations/{conversation_id}/name", json={"name": "Trip plans", "user": "namer"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Trip plans" and renamed.json()["id"] == conversation_id
    server.registry.fake = FakeLLM(["Questions", " about", " things"])
    auto = client.post(
        f"/conversations/{conversation_id}/name",
        json={"name": "", "auto_generate": True, "user": "namer"},
    )
    assert auto.json()["name"] == "Questions about things"
    listed = client.get("/conversations", params={"user": "namer"}).json()["data"]
    assert listed[0]["name"] == "Questions about things"
    missing_name = client.post(f"/conversations/{conversation_id}/name", json={"user": "namer"})
    assert_envelope(missing_name, 400, "invalid_param")


def test_new_conversation_is_named_by_the_model(server: LiveServer) -> None:
    client = server.client()
    conversation_id = chat(client, "plan a trip", user="autoname")["conversation_id"]
    for _ in range(100):
        names = [
            c["name"]
            for c in client.get("/conversations", params={"user": "autoname"}).json()["data"]
        ]
        if names != ["New conversation"]:
            break
        time.sleep(0.02)
    assert names == [ANSWER]
    assert conversation_id


def test_delete_with_json_body_and_with_query(server: LiveServer) -> None:
    first, second = _conversations(server, "deleter", 2)
    client = server.client()
    response = client.request("DELETE", f"/conversations/{first}", json={"user": "deleter"})
    assert response.status_code == 204 and response.content == b""
    response = client.delete(f"/conversations/{second}", params={"user": "deleter"})
    assert response.status_code == 204
    assert client.get("/conversations", params={"user": "deleter"}).json()["data"] == []
    again = client.request("DELETE", f"/conversations/{first}", json={"user": "deleter"})
    assert_envelope(again, 404, "not_found")
    assert_envelope(
        client.get("/messages", params={"conversation_id": first, "user": "deleter"}), 404
    )


def test_messages_page_newest_first_items_oldest_first(server: LiveServer) -> None:
    client = server.client()
    conversation_id = chat(client, "q0", user="historian", auto_generate_name=False)[
        "conversation_id"
    ]
    for i in range(1, 5):
        chat(client, f"q{i}", user="historian", conversation_id=conversation_id)
    params = {"conversation_id": conversation_id, "user": "historian", "limit": 2}
    page = client.get("/messages", params=params).json()
    assert [m["query"] for m in page["data"]] == ["q3", "q4"] and page["has_more"] is True
    item = page["data"][0]
    assert item["answer"] == ANSWER and item["status"] == "normal" and item["error"] is None
    assert item["feedback"] is None and item["message_files"] == []
    assert item["conversation_id"] == conversation_id
    older = client.get("/messages", params={**params, "first_id": item["id"]}).json()
    assert [m["query"] for m in older["data"]] == ["q1", "q2"] and older["has_more"] is True
    oldest = client.get("/messages", params={**params, "first_id": older["data"][0]["id"]}).json()
    assert [m["query"] for m in oldest["data"]] == ["q0"] and oldest["has_more"] is False


def test_conversation_variables_are_initialised_updated_and_paged(server: LiveServer) -> None:
    client = server.client("forms")
    body = chat(client, "remember me", user="vars", inputs={"city": "Oslo"})
    conversation_id = body["conversation_id"]
    assert body["answer"] == "city=Oslo size= last=remember me"
    url = f"/conversations/{conversation_id}/variables"
    page = client.get(url, params={"user": "vars"}).json()
    by_name = {v["name"]: v for v in page["data"]}
    assert by_name["last_query"]["value"] == "remember me"
    assert by_name["last_query"]["value_type"] == "string"
    assert by_name["last_query"]["id"] == "7a3c0c62-5a6e-4ad1-9a0a-0b5c5c1f0001"
    assert by_name["counter"]["value"] == "0"
    assert set(by_name["counter"]) == {
        "id",
        "name",
        "value_type",
        "value",
        "description",
        "created_at",
        "updated_at",
    }
    first = client.get(url, params={"user": "vars", "limit": 1}).json()
    assert first["has_more"] is True and len(first["data"]) == 1
    rest = client.get(url, params={"user": "vars", "limit": 1, "last_id": first["data"][0]["id"]})
    assert rest.json()["has_more"] is False
    named = client.get(url, params={"user": "vars", "variable_name": "counter"}).json()
    assert [v["name"] for v in named["data"]] == ["counter"]
    # The next turn sees the stored value and keeps the conversation's inputs.
    again = chat(client, "second", user="vars", conversation_id=conversation_id, inputs={})
    assert again["answer"] == "city=Oslo size= last=second"


def test_other_users_get_404_never_data(server: LiveServer) -> None:
    client = server.client()
    body = chat(client, "secret", user="owner", auto_generate_name=False)
    conversation_id, message_id = body["conversation_id"], body["message_id"]
    intruder = {"user": "intruder"}
    assert client.get("/conversations", params=intruder).json()["data"] == []
    assert_envelope(
        client.get("/messages", params={"conversation_id": conversation_id, **intruder}), 404
    )
    assert_envelope(client.get(f"/conversations/{conversation_id}/variables", params=intruder), 404)
    assert_envelope(
        client.post(f"/conversations/{conversation_id}/name", json={"name": "x", **intruder}), 404
    )
    assert_envelope(
        client.request("DELETE", f"/conversations/{conversation_id}", json=intruder), 404
    )
    assert_envelope(client.get(f"/messages/{message_id}/suggested", params=intruder), 404)
    continued = client.post(
        "/chat-messages",
        json={"query": "hi", "conversation_id": conversation_id, "inputs": {}, **intruder},
    )
    assert_envelope(continued, 404)
    # Another app's key does not see the owner's conversation either.
    other_app = server.client("forms")
    assert_envelope(
        other_app.get("/messages", params={"conversation_id": conversation_id, "user": "owner"}),
        404,
    )
    # ...and the owner still has it.
    assert len(client.get("/conversations", params={"user": "owner"}).json()["data"]) == 1


def test_suggested_questions_use_the_model(server: LiveServer) -> None:
    client = server.client()
    message_id = chat(client, "Tell me about cats", user="curious")["message_id"]
    server.registry.fake = FakeLLM(
        ['["Do cats sleep a lot?",', ' "Why do cats purr?", "Are cats social?"]']
    )
    response = client.get(f"/messages/{message_id}/suggested", params={"user": "curious"})
    assert response.json() == {
        "result": "success",
        "data": ["Do cats sleep a lot?", "Why do cats purr?", "Are cats social?"],
    }
    server.registry.fake = FakeLLM(["no", " json", " here"])
    unusable = client.get(f"/messages/{message_id}/suggested", params={"user": "curious"})
    assert unusable.json() == {"result": "success", "data": []}


def test_suggested_questions_disabled_is_bad_request(server: LiveServer) -> None:
    client = server.client("forms")
    message_id = chat(client, "x", user="curious", inputs={"city": "Rome"})["message_id"]
    response = client.get(f"/messages/{message_id}/suggested", params={"user": "curious"})
    body = assert_envelope(response, 400, "bad_request")
    assert body["message"] == "Suggested Questions Is Disabled."
