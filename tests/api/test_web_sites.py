"""Chat sites (`/api`): each browser's end-user session reaches only its own data.

The sites' API is what the chat page at `/chat/{code}` talks to; no Service API key is
involved. Each `web_client` is a fresh browser: its own cookie, so its own end user.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import ANSWER, LiveServer

pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)


def chat(client: httpx.Client, query: str, conversation_id: str = "") -> dict[str, Any]:
    """One streamed turn; the frames folded into {conversation_id, message_id, answer}."""
    body = {"query": query, "inputs": {}, "conversation_id": conversation_id}
    answer, ids = "", {}
    with client.stream("POST", "/chat-messages", json=body) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            frame = json.loads(line[5:])
            if frame["event"] == "message":
                answer += frame["answer"]
            if frame["event"] == "message_end":
                ids = {"conversation_id": frame["conversation_id"], "message_id": frame["id"]}
    return {**ids, "answer": answer}


def test_passport_sets_an_httponly_strict_cookie_and_returns_no_token(server: LiveServer) -> None:
    code = server.site()
    with httpx.Client(base_url=server.origin() + "/api", headers={"X-App-Code": code}) as c:
        site = c.get("/site").json()
        assert site["signed_in"] is False and site["site"]["title"] == "assistant"
        assert c.get("/parameters").status_code == 401
        response = c.post("/passport", json={})
        assert response.json() == {"result": "success"}
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/api" in cookie
        assert "app-" not in response.text
        assert c.get("/site").json()["signed_in"] is True
        assert c.get("/parameters").status_code == 200


def test_a_session_reaches_only_its_own_conversations(server: LiveServer) -> None:
    alice, bob = server.web_client(), server.web_client()
    turn = chat(alice, "hello")
    assert turn["answer"] == ANSWER
    conversation, message = turn["conversation_id"], turn["message_id"]
    listed = alice.get("/conversations").json()["data"]
    assert [c["id"] for c in listed] == [conversation]
    assert bob.get("/conversations").json()["data"] == []
    # Naming another user in the request changes nothing: the session decides.
    assert bob.get("/conversations", params={"user": "anyone"}).json()["data"] == []
    page = bob.get("/messages", params={"conversation_id": conversation})
    assert page.status_code == 404
    assert set(page.json()) == {"code", "message", "status"}
    assert bob.delete(f"/conversations/{conversation}").status_code == 404
    assert bob.post(f"/conversations/{conversation}/name", json={"name": "x"}).status_code == 404
    assert bob.post(f"/messages/{message}/feedbacks", json={"rating": "like"}).status_code == 404
    assert bob.get(f"/messages/{message}/suggested-questions").status_code == 404
    assert bob.get(f"/messages/{message}/trace").status_code == 404
    nodes = alice.get(f"/messages/{message}/trace").json()["data"]
    assert [n["node_type"] for n in nodes] == ["start", "llm", "answer"]
    # Continuing someone else's conversation is refused too.
    with bob.stream(
        "POST", "/chat-messages", json={"query": "x", "inputs": {}, "conversation_id": conversation}
    ) as response:
        assert response.status_code == 404
    # Alice still has it all.
    mine = alice.get("/messages", params={"conversation_id": conversation}).json()["data"]
    assert [m["answer"] for m in mine] == [ANSWER]
    assert alice.post(f"/messages/{message}/feedbacks", json={"rating": "like"}).json() == {
        "result": "success"
    }


def test_a_session_is_bound_to_its_site(server: LiveServer) -> None:
    """A cookie of one app's site opens nothing on another's."""
    alice = server.web_client("assistant")
    other = next(name for name in server.keys if name != "assistant")
    code = server.site(other)
    token = next(iter(alice.cookies.jar)).value
    with httpx.Client(base_url=server.origin() + "/api", headers={"X-App-Code": code}) as c:
        c.cookies.set(f"chatflow_site_{code}", token, path="/api")
        response = c.get("/conversations")
        assert response.status_code == 401
        assert response.json()["code"] == "web_session_required"


def test_unknown_codes_and_missing_headers_are_refused(server: LiveServer) -> None:
    with httpx.Client(base_url=server.origin() + "/api") as c:
        assert c.get("/site").status_code == 401
        assert c.get("/site", headers={"X-App-Code": "nosuchsite"}).json()["code"] == (
            "site_not_found"
        )
        assert c.post("/passport", headers={"X-App-Code": "../../x"}).status_code == 401


def test_cross_site_writes_are_refused(server: LiveServer) -> None:
    alice = server.web_client()
    response = alice.post(
        "/chat-messages",
        json={"query": "x", "inputs": {}},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_uploads_belong_to_their_session(server: LiveServer) -> None:
    """Bob cannot send Alice's upload (the app must take files for an upload at all)."""
    name = next((n for n in server.keys if "file" in n.lower() or "vision" in n.lower()), None)
    if name is None:
        pytest.skip("no file-taking example app")
    alice, bob = server.web_client(name), server.web_client(name)
    upload = alice.post("/files/upload", files={"file": ("a.txt", b"secret", "text/plain")})
    assert upload.status_code == 201, upload.text
    file_ref = {"type": "document", "transfer_method": "local_file",
                "upload_file_id": upload.json()["id"]}  # fmt: skip
    body = {"query": "read it", "inputs": {}, "files": [file_ref]}
    with bob.stream("POST", "/chat-messages", json=body) as response:
        text = response.read().decode()
    assert "secret" not in text
    assert response.status_code in (400, 404) or '"event": "error"' in text


def test_disable_and_passcode(server: LiveServer) -> None:
    sites = server.services.sites
    alice = server.web_client()
    code = server.site()
    try:
        server.call(sites.configure("assistant", passcode="open sesame"))
        # A new passcode signs every browser out.
        assert alice.get("/conversations").status_code == 401
        with httpx.Client(base_url=server.origin() + "/api", headers={"X-App-Code": code}) as c:
            assert c.get("/site").json()["passcode_required"] is True
            assert c.post("/passport", json={}).json()["code"] == "passcode_required"
            wrong = c.post("/passport", json={"passcode": "nope"})
            assert wrong.status_code == 401
            # Guessing is throttled per site: after a burst of wrong passcodes, 429.
            for _ in range(20):
                last = c.post("/passport", json={"passcode": "guess"})
                if last.status_code == 429:
                    break
            assert last.status_code == 429 and last.json()["code"] == "too_many_requests"
            server.services.sites.forget_failures(code)
            assert c.post("/passport", json={"passcode": "open sesame"}).status_code == 200
            assert c.get("/conversations").status_code == 200
            server.call(sites.configure("assistant", enabled=False))
            gone = c.get("/conversations")
            assert gone.status_code == 404 and gone.json()["code"] == "site_not_found"
            assert httpx.get(f"{server.origin()}/chat/{code}").status_code == 200  # the shell
    finally:
        server.call(sites.configure("assistant", enabled=True, clear_passcode=True))
