"""Code nodes get the libraries Dify's sandbox offers (requests, httpx, jinja2), and
their HTTP goes through the server's SSRF guard: a loopback server is reachable only
when the allow-list admits it, and the job itself still has no sockets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from chatflow.sandbox import SandboxError, SandboxExecutor
from tests.tools.loopback import serve


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "query": dict(request.query_params),
            "token": request.headers.get("x-token"),
            "body": body.decode(),
        },
        status_code=201 if request.method == "POST" else 200,
    )


async def redirect(request: Request) -> Response:
    return RedirectResponse(str(request.query_params["to"]))


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    app = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"]),
                            Route("/redirect", redirect)])  # fmt: skip
    with serve(app) as base:
        yield base


@pytest.fixture
async def allowed() -> AsyncIterator[SandboxExecutor]:
    async with SandboxExecutor(workers=2, ssrf_allow="127.0.0.1") as sandbox:
        yield sandbox


@pytest.fixture
async def guarded() -> AsyncIterator[SandboxExecutor]:
    async with SandboxExecutor(workers=1) as sandbox:
        yield sandbox


REQUESTS_POST = """
import requests

def main(url: str) -> dict:
    r = requests.post(url + "/echo?a=1", json={"x": [1, 2]}, headers={"X-Token": "t1"},
                      timeout=5)
    return {"status": r.status_code, "ok": r.ok, "data": r.json(), "reason": r.reason}
"""


async def test_requests_post_as_in_a_real_export(allowed: SandboxExecutor, api: str) -> None:
    result = await allowed.run("python3", REQUESTS_POST, {"url": api}, timeout=15)
    assert result["status"] == 201 and result["ok"] is True and result["reason"] == "Created"
    data = result["data"]
    assert (data["method"], data["query"], data["token"]) == ("POST", {"a": "1"}, "t1")
    assert json.loads(data["body"]) == {"x": [1, 2]}
    assert allowed.info.libraries == ("requests", "httpx", "jinja2")


async def test_httpx_and_jinja2(allowed: SandboxExecutor, api: str) -> None:
    code = (
        "import httpx\nfrom jinja2 import Template\n"
        "def main(url: str) -> dict:\n"
        "    with httpx.Client(timeout=5) as client:\n"
        "        r = client.get(url + '/echo', params={'q': 'é'})\n"
        "    return {'q': r.json()['query']['q'], 'status': r.status_code,\n"
        "            'text': Template('Hi {{ name|upper }}').render(name='ann')}\n"
    )
    result = await allowed.run("python3", code, {"url": api}, timeout=15)
    assert result == {"q": "é", "status": 200, "text": "Hi ANN"}


async def test_the_ssrf_guard_decides(guarded: SandboxExecutor, api: str) -> None:
    # Default allow-list: loopback refused, as for an http-request node.
    code = (
        "import requests\n"
        "def main(url: str) -> dict:\n"
        "    try:\n"
        "        requests.get(url + '/echo', timeout=5)\n"
        "    except requests.exceptions.ConnectionError as exc:\n"
        "        return {'error': str(exc)}\n"
        "    return {'error': ''}\n"
    )
    result = await guarded.run("python3", code, {"url": api}, timeout=15)
    assert "not allowed" in result["error"]
    metadata = await guarded.run(
        "python3", code, {"url": "http://169.254.169.254/latest"}, timeout=15
    )
    assert "not allowed" in metadata["error"]


async def test_redirects_are_checked_hop_by_hop(allowed: SandboxExecutor, api: str) -> None:
    code = (
        "import httpx\n"
        "def main(url: str) -> dict:\n"
        "    try:\n"
        "        httpx.get(url + '/redirect?to=http://169.254.169.254/', timeout=5)\n"
        "    except httpx.ConnectError as exc:\n"
        "        return {'error': str(exc)}\n"
        "    return {'error': ''}\n"
    )
    result = await allowed.run("python3", code, {"url": api}, timeout=15)
    assert "not allowed" in result["error"]


@pytest.mark.parametrize(
    "code",
    [
        "import socket\ndef main() -> dict:\n    socket.create_connection(('127.0.0.1', 80))\n"
        "    return {}\n",
        "import urllib3\ndef main() -> dict:\n    urllib3.PoolManager().request('GET', "
        "'http://127.0.0.1/')\n    return {}\n",
    ],
    ids=["socket", "urllib3"],
)
async def test_jobs_still_have_no_sockets(allowed: SandboxExecutor, code: str) -> None:
    with pytest.raises(SandboxError, match="not allowed"):
        await allowed.run("python3", code, {}, timeout=15)


async def test_other_site_packages_stay_out_of_reach(allowed: SandboxExecutor) -> None:
    for module in ("sqlalchemy", "chatflow.settings", "mcp"):
        code = f"import {module}\ndef main() -> dict:\n    return {{}}\n"
        with pytest.raises(SandboxError):
            await allowed.run("python3", code, {}, timeout=15)


async def test_network_can_be_switched_off(api: str) -> None:
    async with SandboxExecutor(workers=1, network=False, ssrf_allow="127.0.0.1") as sandbox:
        result = await sandbox.run(
            "python3",
            "import requests\ndef main(url: str) -> dict:\n    try:\n"
            "        requests.get(url + '/echo')\n    except Exception as exc:\n"
            "        return {'error': str(exc)}\n    return {'error': ''}\n",
            {"url": api},
            timeout=15,
        )
    assert "not allowed" in result["error"]


@pytest.fixture
def upload_code() -> str:
    """financial-report-html.yml's upload node's code, as exported."""
    import yaml

    from tests.engine.corpus_cases import DSL_DIR

    path = Path(DSL_DIR, "financial-report-html.yml")
    if not path.is_file():
        pytest.skip("DSL corpus not present")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    (node,) = [n for n in document["workflow"]["graph"]["nodes"] if n["id"] == "1747128616679"]
    return str(node["data"]["code"])


async def test_the_corpus_code_node_that_imports_requests(
    allowed: SandboxExecutor, upload_code: str
) -> None:
    """The export's code: `import requests`, POST the HTML with a bearer token, read
    `html_url` back (run unchanged)."""
    received: list[dict[str, object]] = []

    async def upload(request: Request) -> Response:
        payload = await request.json()
        received.append({"auth": request.headers.get("authorization"), **payload})
        return JSONResponse({"html_url": "https://files.example/r.html", "filename": "r.html"})

    with serve(Starlette(routes=[Route("/upload", upload, methods=["POST"])])) as base:
        inputs = {
            "json_html": "<think>x</think>```html\n<html><body>Q3</body></html>\n```",
            "apikey": "k-1",
            "apiurl": f"{base}/upload",
            "strtype": "report",
        }
        result = await allowed.run("python3", upload_code, inputs, timeout=15)
    assert result == {
        "html_url": "https://files.example/r.html",
        "filename": "r.html",
        "markdown_result": "[点击查看](https://files.example/r.html)",
    }
    (sent,) = received
    assert sent["auth"] == "Bearer k-1" and sent["html_content"] == "<html><body>Q3</body></html>"
