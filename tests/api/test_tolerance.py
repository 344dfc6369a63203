"""What published clients send and Dify accepts (DESIGN.md section 2), and input checks."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ANSWER, LiveServer, assert_envelope, chat

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "extra",
    [
        {"files": None},
        {"files": []},
        {"conversation_id": ""},
        {"conversation_id": None},
        {"inputs": None},
        {"response_mode": None},
        {"auto_generate_name": None},
        {"unknown_field": {"nested": 1}, "workflow_id": "whatever"},
        {"files": [{"type": "image", "transfer_method": "remote_url", "url": None}]},
    ],
)
def test_chat_accepts_what_sdks_send(server: LiveServer, extra: dict[str, Any]) -> None:
    body = {"inputs": {}, "query": "hi", "user": "tolerant", **extra}
    response = server.client().post("/chat-messages", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == ANSWER


def test_get_and_delete_with_json_content_type_and_empty_bodies(server: LiveServer) -> None:
    client = server.client()
    conversation_id = chat(client, user="bodies", auto_generate_name=False)["conversation_id"]
    json_header = {"Content-Type": "application/json"}
    for content in (b"", b"{}"):
        listed = client.request(
            "GET", "/conversations", params={"user": "bodies"}, content=content, headers=json_header
        )
        assert listed.status_code == 200, listed.text
        info = client.request("GET", "/info", content=content, headers=json_header)
        assert info.status_code == 200
    deleted = client.request(
        "DELETE",
        f"/conversations/{conversation_id}",
        params={"user": "bodies"},
        content=b"",
        headers=json_header,
    )
    assert deleted.status_code == 204


def test_empty_query_params_mean_absent(server: LiveServer) -> None:
    client = server.client()
    chat(client, user="params", auto_generate_name=False)
    response = client.get("/conversations?user=params&last_id=&limit=&pinned=&sort_by=")
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 1


def test_user_param_is_accepted_on_app_routes(server: LiveServer) -> None:
    client = server.client()
    for path in ("/info", "/parameters", "/meta", "/site"):
        response = client.get(path, params={"user": "someone"})
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "city is required in input form"),
        ({"city": None}, "city is required in input form"),
        ({"city": "a-very-long-city"}, "city in input form must be less than 10 characters"),
        ({"city": "Oslo", "size": "medium"}, "size in input form must be one of the following"),
        ({"city": "Oslo", "count": "many"}, "count in input form must be a valid number"),
        ({"city": 42}, "city in input form must be a string"),
    ],
)
def test_inputs_are_checked_against_the_start_form(
    server: LiveServer, inputs: dict[str, Any], message: str
) -> None:
    response = server.client("forms").post(
        "/chat-messages", json={"inputs": inputs, "query": "q", "user": "formal"}
    )
    body = assert_envelope(response, 400, "invalid_param")
    assert message in body["message"]


def test_valid_inputs_are_stored_as_strings(server: LiveServer) -> None:
    client = server.client("forms")
    body = chat(
        client,
        user="formal",
        inputs={"city": "Oslo", "size": "large", "count": "3", "ignored": "x"},
        auto_generate_name=False,
    )
    assert body["answer"] == "city=Oslo size=large last=Hi"
    [conversation] = client.get("/conversations", params={"user": "formal"}).json()["data"]
    assert conversation["inputs"] == {"city": "Oslo", "size": "large", "count": "3"}
    assert conversation["introduction"] == "Hi from forms"
