"""A chat site may be for operators only: a session opens only for someone signed in to
the console (Argon2id password, HttpOnly cookie), through the console's
`/console/api/site-passport`; with a passcode too, both are needed. Anyone else, with
or without the passcode, gets 401 `operator_login_required` on every route and the
server keeps answering. Real server on loopback, SQLite and Postgres.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from chatflow.cli import cli
from chatflow.errors import InvalidRequest
from tests.api.conftest import ANSWER, LiveServer, assert_envelope

APP = "basic-chat"
USER, PASSWORD = "site-operator", "correct horse battery"


@pytest.fixture
def operator_login(server: LiveServer) -> Iterator[str]:
    """The app's site, for operators only (and no passcode); open again afterwards."""
    try:
        server.call(server.services.operators.create(USER, PASSWORD))
    except InvalidRequest:
        pass  # made by an earlier test of this module's server
    site = server.call(server.services.sites.configure(APP, operator_login=True))
    yield site.code
    server.call(server.services.sites.configure(APP, operator_login=False, clear_passcode=True))


def _browser(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.origin(), timeout=30)
    server.clients.append(client)
    return client


def _signed_in_operator(server: LiveServer) -> httpx.Client:
    browser = _browser(server)
    me = browser.post("/console/api/login", json={"username": USER, "password": PASSWORD})
    assert me.status_code == 200, me.text
    browser.headers["X-CSRF-Token"] = me.json()["csrf_token"]
    return browser


def _chat(browser: httpx.Client, code: str) -> httpx.Response:
    body = {"query": "hi", "inputs": {}}
    with browser.stream(
        "POST", "/api/chat-messages", json=body, headers={"X-App-Code": code}
    ) as response:
        response.read()
    return response


def _answer(response: httpx.Response) -> str:
    frames = [json.loads(line[5:]) for line in response.text.splitlines() if line[:5] == "data:"]
    return "".join(f.get("answer", "") for f in frames if f["event"] == "message")


def _alive(server: LiveServer) -> None:
    assert server.client(APP).get("/parameters").status_code == 200


def test_a_stranger_cannot_open_a_session(server: LiveServer, operator_login: str) -> None:
    site = {"X-App-Code": operator_login}
    stranger = _browser(server)
    info = stranger.get("/api/site", headers=site).json()
    assert info["operator_login_required"] is True and info["signed_in"] is False
    refused = stranger.post("/api/passport", json={}, headers=site)
    assert "console" in assert_envelope(refused, 401, "operator_login_required")["message"]
    assert stranger.get("/api/parameters", headers=site).status_code == 401
    assert _chat(stranger, operator_login).status_code == 401
    # The console's passport without a console session (or with a forged cookie).
    forged = stranger.post(
        "/console/api/site-passport",
        json={},
        headers={**site, "Cookie": "chatflow_console=forged"},
    )
    assert_envelope(forged, 401, "console_login_required")
    _alive(server)


def test_a_signed_in_operator_chats(server: LiveServer, operator_login: str) -> None:
    site = {"X-App-Code": operator_login}
    operator = _signed_in_operator(server)
    opened = operator.post("/console/api/site-passport", json={}, headers=site)
    assert opened.json() == {"result": "success"}
    cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/api" in cookie
    assert operator.get("/api/site", headers=site).json()["signed_in"] is True
    turn = _chat(operator, operator_login)
    assert turn.status_code == 200 and _answer(turn) == ANSWER
    # The operator is one end user, whichever browser: the conversation follows them.
    again = _signed_in_operator(server)
    again.post("/console/api/site-passport", json={}, headers=site).raise_for_status()
    mine = operator.get("/api/conversations", headers=site).json()["data"]
    assert [c["id"] for c in again.get("/api/conversations", headers=site).json()["data"]] == [
        c["id"] for c in mine
    ]
    assert mine


def test_the_console_passport_needs_the_csrf_token(server: LiveServer, operator_login: str) -> None:
    operator = _signed_in_operator(server)
    del operator.headers["X-CSRF-Token"]
    refused = operator.post(
        "/console/api/site-passport", json={}, headers={"X-App-Code": operator_login}
    )
    assert_envelope(refused, 403, "forbidden")


def test_with_a_passcode_both_are_needed(server: LiveServer, operator_login: str) -> None:
    server.call(server.services.sites.configure(APP, passcode="open sesame"))
    site = {"X-App-Code": operator_login}
    stranger = _browser(server)
    refused = stranger.post("/api/passport", json={"passcode": "open sesame"}, headers=site)
    assert_envelope(refused, 401, "operator_login_required")
    operator = _signed_in_operator(server)
    no_passcode = operator.post("/console/api/site-passport", json={}, headers=site)
    assert_envelope(no_passcode, 401, "passcode_required")
    opened = operator.post(
        "/console/api/site-passport", json={"passcode": "open sesame"}, headers=site
    )
    assert opened.status_code == 200, opened.text
    assert _chat(operator, operator_login).status_code == 200


def test_turning_it_on_signs_every_browser_out(server: LiveServer) -> None:
    server.call(server.services.sites.configure(APP, operator_login=False))
    browser = server.web_client(APP)  # signed in while the site was open
    assert browser.get("/parameters").status_code == 200
    try:
        server.call(server.services.sites.configure(APP, operator_login=True))
        assert_envelope(browser.get("/parameters"), 401, "web_session_required")
        assert_envelope(browser.post("/passport", json={}), 401, "operator_login_required")
    finally:
        server.call(server.services.sites.configure(APP, operator_login=False))
    browser.post("/passport", json={}).raise_for_status()
    assert browser.get("/parameters").status_code == 200


def test_cli_sets_and_shows_operator_login(tmp_path: Path) -> None:
    runner = CliRunner()
    dsl = Path(__file__).parents[1] / "api" / "dsl" / "basic_chat.yml"
    data = ["--data-dir", str(tmp_path)]
    assert runner.invoke(cli, ["app", "import", str(dsl), *data]).exit_code == 0
    closed = runner.invoke(cli, ["app", "site", "basic-chat", "--operator-login", *data])
    assert closed.exit_code == 0, closed.output
    assert "operators only" in closed.output
    opened = runner.invoke(cli, ["app", "site", "basic-chat", "--no-operator-login", *data])
    assert opened.exit_code == 0 and "operators only" not in opened.output
