"""`/info`, `/parameters`, `/meta`, `/site` for the bundled example and a form app."""

from __future__ import annotations

import pytest

from .conftest import LiveServer

pytestmark = pytest.mark.timeout(60)


def test_info(server: LiveServer) -> None:
    body = server.client().get("/info").json()
    assert body == {
        "name": "assistant",
        "description": "A friendly general-purpose assistant that remembers the conversation.",
        "tags": [],
        "mode": "advanced-chat",
        "author_name": "",
    }


def test_parameters_of_the_example_app(server: LiveServer) -> None:
    body = server.client().get("/parameters").json()
    assert body["opening_statement"] == "Hello! I'm your assistant. Ask me anything."
    assert body["suggested_questions"] == [
        "What can you do?",
        "Tell me a fun fact.",
        "Help me write a short poem.",
    ]
    assert body["suggested_questions_after_answer"] == {"enabled": True}
    assert body["speech_to_text"] == {"enabled": False}
    assert body["user_input_form"] == []
    assert body["file_upload"]["image"]["enabled"] is False
    assert body["system_parameters"]["file_size_limit"] == 15
    for key in ("text_to_speech", "retriever_resource", "annotation_reply", "more_like_this"):
        assert isinstance(body[key]["enabled"], bool)


def test_parameters_user_input_form(server: LiveServer) -> None:
    form = server.client("forms").get("/parameters").json()["user_input_form"]
    assert [next(iter(item)) for item in form] == ["text-input", "select", "number"]
    city = form[0]["text-input"]
    assert city["variable"] == "city" and city["required"] is True and city["max_length"] == 10
    assert form[1]["select"]["options"] == ["small", "large"]


def test_meta_and_site(server: LiveServer) -> None:
    client = server.client()
    assert client.get("/meta").json() == {"tool_icons": {}}
    site = client.get("/site").json()
    assert site["title"] == "assistant"
    assert site["icon"] == "🤖" and site["icon_type"] == "emoji"
    assert site["icon_background"] == "#FFEAD5"
    assert site["use_icon_as_answer_icon"] is False
    assert site["default_language"] == "en-US"
