"""The SSRF guard against real loopback servers: refused by default, reachable when allowed."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from chatflow.net import SSRFBlocked, SSRFPolicy, guarded_client
from chatflow.net.ssrf import blocked


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = f"hello from {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::",
    ],
)
def test_internal_addresses_are_blocked(address: str) -> None:
    assert blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert not blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("ftp://example.com/x", "scheme 'ftp'"),
        ("gopher://example.com/", "scheme 'gopher'"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[fd00:ec2::254]/latest/", "fd00:ec2::254"),
        ("http://localhost:8080/", "localhost"),
        ("http://[::1]/", "::1"),
    ],
)
def test_urls_refused_before_connecting(url: str, message: str) -> None:
    with pytest.raises(SSRFBlocked, match="not allowed") as caught:
        SSRFPolicy.parse("").check_url(url)
    assert message in str(caught.value)


async def test_loopback_server_refused_by_default(server: str) -> None:
    async with guarded_client() as client:
        with pytest.raises(SSRFBlocked, match=r"127\.0\.0\.1"):
            await client.get(f"{server}/x")


def _loopback_name() -> str:
    """A name (not `localhost`) that the system resolver maps to an internal address."""
    name = socket.gethostname()
    try:
        address = ipaddress.ip_address(socket.gethostbyname(name))
    except OSError:
        pytest.skip("host name does not resolve")
    if not blocked(address):
        pytest.skip("host name resolves to a public address")
    return name


async def test_name_resolving_to_loopback_is_refused_after_dns(server: str) -> None:
    name = _loopback_name()
    SSRFPolicy.parse("").check_url(f"http://{name}/")  # nothing to refuse by name alone
    port = server.rsplit(":", 1)[1]
    async with guarded_client() as client:
        with pytest.raises(SSRFBlocked, match="not a public address"):
            await client.get(f"http://{name}:{port}/")


async def test_allow_list_by_cidr(server: str) -> None:
    async with guarded_client("127.0.0.0/8") as client:
        response = await client.get(f"{server}/ok")
    assert response.text == "hello from /ok"


async def test_allow_list_by_host(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    async with guarded_client("localhost") as client:
        response = await client.get(f"http://localhost:{port}/named")
    assert response.text == "hello from /named"


async def test_redirect_to_internal_target_is_refused(server: str) -> None:
    # The first hop is allowed; the redirect goes to the metadata address and is refused.
    async with guarded_client("127.0.0.0/8") as client:
        with pytest.raises(SSRFBlocked, match=r"169\.254\.169\.254"):
            await client.get(f"{server}/redirect?to=http://169.254.169.254/latest/meta-data/")


async def test_redirect_to_another_scheme_is_refused(server: str) -> None:
    async with guarded_client("127.0.0.0/8") as client:
        with pytest.raises((SSRFBlocked, httpx.UnsupportedProtocol)):
            await client.get(f"{server}/redirect?to=file:///etc/passwd")


async def test_allowed_redirect_is_followed(server: str) -> None:
    async with guarded_client("127.0.0.0/8") as client:
        response = await client.get(f"{server}/redirect?to={server}/final")
    assert response.text == "hello from /final"
    assert len(response.history) == 1


def test_policy_parsing() -> None:
    policy = SSRFPolicy.parse(" localhost , 10.0.0.0/8, *.corp.example, ::1 ")
    assert policy.host_allowed("LOCALHOST")
    assert policy.host_allowed("api.corp.example")
    assert not policy.host_allowed("corp.example.org")
    assert policy.address_allowed(ipaddress.ip_address("10.9.8.7"))
    assert policy.address_allowed(ipaddress.ip_address("::1"))
    assert not policy.address_allowed(ipaddress.ip_address("11.0.0.1"))
