"""A secret environment value reaches the outside service it is meant for, and nowhere
else: not in streamed node events, not in the blocking response, not in the stored run
or the run log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chatflow.services.secrets import SecretMasker
from tests.api.conftest import LiveServer, sse_events

LIVE_SETTINGS: dict[str, Any] = {"ssrf_allow": "127.0.0.1"}
SECRET = "sk-live/SECRET+42=="
RECEIVED: list[str] = []


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        RECEIVED.append(f"{self.path} {self.headers.get('Authorization')}")
        body = json.dumps({"path": self.path, "auth": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _dsl(echo: str) -> str:
    return f"""
app: {{mode: workflow, name: secret-caller}}
kind: app
version: 0.3.0
workflow:
  environment_variables:
  - {{name: api_token, value: {json.dumps(SECRET)}, value_type: secret}}
  conversation_variables: []
  graph:
    edges:
    - {{id: e1, source: start, target: call}}
    - {{id: e2, source: call, target: end}}
    nodes:
    - id: start
      data: {{type: start, title: Start, variables: []}}
    - id: call
      data:
        type: http-request
        title: Call
        method: get
        url: '{echo}/v1?key={{{{#env.api_token#}}}}'
        headers: 'Authorization: Bearer {{{{#env.api_token#}}}}'
        authorization: {{type: no-auth}}
    - id: end
      data:
        type: end
        title: End
        outputs:
        - {{variable: body, value_selector: [call, body]}}
"""


@pytest.fixture(scope="module")
def caller(live: LiveServer, echo: str) -> str:
    result = live.call(live.services.apps.import_dsl(_dsl(echo)))
    assert result.api_key is not None
    live.keys["secret-caller"] = result.api_key
    return "secret-caller"


def _leaks(text: str) -> bool:
    masker = SecretMasker([SECRET])
    return masker.text(text) != text


def test_secret_reaches_the_service_but_no_event_or_stored_run(
    server: LiveServer, caller: str
) -> None:
    client = server.client(caller)
    body = {"inputs": {}, "user": "ops", "response_mode": "streaming"}
    with client.stream("POST", "/workflows/run", json=body) as response:
        assert response.status_code == 200
        events = list(sse_events(response.iter_lines()))
    assert any(SECRET in line for line in RECEIVED)  # the service did get the secret
    finished = [e for e in events if e.get("event") == "workflow_finished"]
    assert finished and finished[0]["data"]["status"] == "succeeded"
    for event in events:
        assert not _leaks(json.dumps(event)), event
    run_id = finished[0]["workflow_run_id"]
    stored = client.get(f"/workflows/run/{run_id}")
    assert stored.status_code == 200 and not _leaks(stored.text)
    logs = client.get("/workflows/logs")
    assert logs.status_code == 200 and not _leaks(logs.text)
    blocking = client.post("/workflows/run", json={**body, "response_mode": "blocking"})
    assert blocking.status_code == 200 and not _leaks(blocking.text)


def test_every_encoding_of_a_secret_is_masked() -> None:
    import base64
    from urllib.parse import quote, quote_plus

    masker = SecretMasker([SECRET, "abc"])  # too short to mask: no secret is 3 characters
    for form in (SECRET, quote(SECRET, safe=""), quote_plus(SECRET)):
        assert masker.text(f"x {form} y") == "x ****** y"
    assert "SECRET" not in masker.text(base64.b64encode(SECRET.encode()).decode())
    assert masker.text("abc") == "abc"
