"""SSRF address forms an attacker can write: every one is refused, before or after DNS,
redirect hops included, and no message names an address the server resolved."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from chatflow.net import SSRFBlocked, guarded_client
from chatflow.net.ssrf import blocked


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"internal secret"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    "address",
    [
        "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
        "2002:a00:1::",  # 6to4 wrapping 10.0.0.1
        "2002:808:808::1",  # 6to4 even around a public v4: a relay the operator never chose
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo (client 127.0.0.1 obfuscated)
        "64:ff9b::7f00:1",  # NAT64 to 127.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64
        "fec0::1",  # site-local
        "::7f00:1",  # IPv4-compatible
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:0:a00:1",  # IPv4-translated
        "192.88.99.1",  # 6to4 relay anycast
        "192.0.0.8",
        "198.18.0.1",
        "192.0.2.1",
        "100::1",
        "2001:db8::1",
        "3fff::1",
        "5f00::1",
        "4000::1",  # outside global unicast
        "fe80::1%1",
    ],
)
def test_special_purpose_addresses_are_blocked(address: str) -> None:
    assert blocked(ipaddress.ip_address(address.split("%")[0]))


def test_public_addresses_pass() -> None:
    for address in ("8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001::1"):
        assert not blocked(ipaddress.ip_address(address)), address


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # decimal 127.0.0.1
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hex
        "0x7f000001",
        "127.1",  # short form
        "[::ffff:127.0.0.1]",  # IPv4-mapped literal
        "[::ffff:7f00:1]",
        "[2002:7f00:1::1]",  # 6to4 literal
        "[0:0:0:0:0:ffff:127.0.0.1]",
    ],
)
async def test_address_forms_never_reach_loopback(host: str, port: int) -> None:
    async with guarded_client() as client:
        refusals = (SSRFBlocked, httpx.ConnectError, httpx.InvalidURL, httpx.UnsupportedProtocol)
        with pytest.raises(refusals) as caught:
            await client.get(f"http://{host}:{port}/")
    # The message repeats at most what the caller wrote, never what it resolved to.
    assert "127.0.0.1" not in str(caught.value) or "127.0.0.1" in host


async def test_redirect_to_an_internal_address_is_refused(port: int) -> None:
    # `localhost` is allowed (by name) to reach the test server; its redirect is not.
    async with guarded_client("localhost") as client:
        ok = await client.get(f"http://localhost:{port}/")
        assert ok.text == "internal secret"
        with pytest.raises(SSRFBlocked):
            await client.get(f"http://localhost:{port}/redirect?to=http://127.0.0.1:{port}/")
        with pytest.raises(SSRFBlocked):
            await client.get(f"http://localhost:{port}/redirect?to=http://[::ffff:7f00:1]:{port}/")


def _fake_dns(answers: list[str]) -> Any:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "mixed.example":
            return real(host, port, *args, **kwargs)
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in answers
        ]

    return getaddrinfo


@pytest.mark.parametrize(
    "answers",
    [
        ["93.184.216.34", "127.0.0.1"],
        ["127.0.0.1", "93.184.216.34"],
        ["2606:2800:220:1::1", "::1"],
        ["93.184.216.34", "2002:7f00:1::1"],
        ["10.0.0.5"],
    ],
)
async def test_dns_answers_mixing_public_and_private_are_refused(
    answers: list[str], port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_dns(answers))
    async with guarded_client() as client:
        with pytest.raises(SSRFBlocked) as caught:
            await client.get(f"http://mixed.example:{port}/")
    message = str(caught.value)
    assert "mixed.example" in message
    for answer in answers:
        assert answer not in message  # the resolved address stays secret


async def test_connection_errors_do_not_name_the_dialled_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A public-looking answer whose port is closed: the OS error would name the address.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    free_port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setattr(socket, "getaddrinfo", _fake_dns(["127.0.0.1"]))
    async with guarded_client("mixed.example") as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.get(f"http://mixed.example:{free_port}/")
    assert "127.0.0.1" not in str(caught.value)
    assert "mixed.example" in str(caught.value)
