"""GuardedFileFetcher (issue 9.12): provider files are fetched from public addresses only, within a size limit.

Real aiohttp servers on loopback (127.0.0.1, and 127.0.0.2 standing in for a "public" CDN through
``allowed_networks``), real httpx over the provider stack; host names resolve through an injected resolver, since
the machine has no DNS beyond localhost. No test connects to any address outside 127.0.0.0/8: refused addresses
are refused before a connection is made.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from bot.providers.files import GuardedFileFetcher, is_public_address

FILE = bytes(range(256)) * 40  # 10,240 bytes
CDN = "127.0.0.2"  # allowed by name in the tests that need a first hop to succeed


@dataclass
class Origin:
    """A file server; ``streamed`` counts what /endless managed to send before the client hung up."""

    host: str = "127.0.0.1"
    port: int = 0
    streamed: int = 0
    hits: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def file(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.Response(body=FILE, content_type="audio/wav")

    async def redirect(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        raise web.HTTPFound(request.query["to"])

    async def loop(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        raise web.HTTPFound("/loop")

    async def declared(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(10**9)})
        await response.prepare(request)
        await response.write(b"x" * 100)
        return response

    async def endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"y" * 65536
        try:
            for _ in range(1600):  # 100 MiB at most; the client stops long before
                await response.write(chunk)
                self.streamed += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return response


@asynccontextmanager
async def origin(host: str = "127.0.0.1") -> AsyncIterator[Origin]:
    state = Origin(host=host)
    app = web.Application()
    app.router.add_get("/file.wav", state.file)
    app.router.add_get("/redirect", state.redirect)
    app.router.add_get("/loop", state.loop)
    app.router.add_get("/declared", state.declared)
    app.router.add_get("/endless", state.endless)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    state.port = runner.addresses[0][1]
    try:
        yield state
    finally:
        await runner.cleanup()


def resolver(table: dict[str, Sequence[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


async def test_loopback_is_refused_unless_allowed() -> None:
    async with origin() as server:
        async with GuardedFileFetcher() as guarded:
            assert await guarded.fetch(f"{server.base}/file.wav", limit=1 << 20) is None
        async with GuardedFileFetcher(allow_private=True) as sandbox_only:
            assert await sandbox_only.fetch(f"{server.base}/file.wav", limit=1 << 20) == FILE
    assert server.hits == ["/file.wav"]  # the refused fetch never reached the server


async def test_a_host_name_resolving_to_a_private_address_is_refused() -> None:
    names = resolver({"cdn.example": ["127.0.0.1"], "mixed.example": [CDN, "10.1.2.3"]})
    async with origin() as server, origin(CDN) as cdn:
        async with GuardedFileFetcher(resolve=names) as guarded:
            assert await guarded.fetch(f"http://cdn.example:{server.port}/file.wav", limit=1 << 20) is None
        # The connection goes to the address the resolver gave: with private addresses allowed, the name that
        # exists only in the injected table reaches the loopback server.
        async with GuardedFileFetcher(resolve=names, allow_private=True) as sandbox_only:
            assert await sandbox_only.fetch(f"http://cdn.example:{server.port}/file.wav", limit=1 << 20) == FILE
        # Every resolved address is checked: one private address among allowed ones refuses the name.
        async with GuardedFileFetcher(resolve=names, allowed_networks=[f"{CDN}/32"]) as guarded:
            assert await guarded.fetch(f"http://mixed.example:{cdn.port}/file.wav", limit=1 << 20) is None
    assert server.hits == ["/file.wav"] and cdn.hits == []


async def test_a_redirect_to_a_private_address_is_refused() -> None:
    names = resolver({"cdn.example": [CDN], "internal.example": ["127.0.0.1"]})
    async with (
        origin() as internal,
        origin(CDN) as cdn,
        GuardedFileFetcher(resolve=names, allowed_networks=[f"{CDN}/32"]) as guarded,
    ):
        # the allowed CDN serves directly, and through a redirect to itself
        assert await guarded.fetch(f"{cdn.base}/file.wav", limit=1 << 20) == FILE
        hop = f"{cdn.base}/redirect?to=/file.wav"
        assert await guarded.fetch(hop, limit=1 << 20) == FILE
        # but not to an internal address, by number or by name, nor to another scheme
        for target in (
            f"{internal.base}/file.wav",
            f"http://internal.example:{internal.port}/file.wav",
            f"http://[::ffff:127.0.0.1]:{internal.port}/file.wav",
            "file:///etc/passwd",
        ):
            assert await guarded.fetch(f"{cdn.base}/redirect?to={target}", limit=1 << 20) is None, target
        assert await guarded.fetch(f"{cdn.base}/loop", limit=1 << 20) is None  # too many redirects
    assert internal.hits == []
    assert cdn.hits.count("/loop") == 4  # the first request and three redirects, then it stops


async def test_an_oversize_body_is_cut_at_the_limit() -> None:
    async with origin() as server, GuardedFileFetcher(allow_private=True) as fetcher:
        assert await fetcher.fetch(f"{server.base}/file.wav", limit=len(FILE)) == FILE
        assert await fetcher.fetch(f"{server.base}/file.wav", limit=len(FILE) - 1) is None
        assert await fetcher.fetch(f"{server.base}/declared", limit=1000) is None
        assert await fetcher.fetch(f"{server.base}/endless", limit=100_000) is None
    assert server.streamed < 1600 * 65536  # the client stopped reading; the server never sent it all


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://0.0.0.0/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[::ffff:169.254.169.254]/latest/meta-data",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/x",
        "http://192.168.1.1/x",
        "http://172.16.0.1/x",
        "http://100.64.0.1/x",
        "http://224.0.0.1/x",
        "http://[fd00:ec2::254]/x",
        "http://[64:ff9b::a9fe:a9fe]/x",
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http://user:pass@example.com/x",
        "not a url at all",
        "http://",
        "",
    ],
)
async def test_internal_and_odd_urls_are_refused_before_any_connection(url: str) -> None:
    async with GuardedFileFetcher(resolve=resolver({})) as guarded:
        assert await guarded.fetch(url, limit=1000) is None


async def test_refusals_are_logged_without_path_or_query(caplog: pytest.LogCaptureFixture) -> None:
    async with GuardedFileFetcher(resolve=resolver({"files.example": ["192.168.7.7"]})) as guarded:
        with caplog.at_level(logging.INFO, logger="bot.providers.files"):
            assert await guarded.fetch("http://files.example/a.wav?X-Amz-Signature=sig-secret-99", limit=10) is None
            assert await guarded.fetch("http://127.0.0.1:9/private/path?token=tok-secret-42", limit=10) is None
    assert "refused" in caplog.text and "files.example" in caplog.text
    assert "secret" not in caplog.text and "/private/path" not in caplog.text


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("168.63.129.16", False),
        ("224.0.0.251", False),
        ("255.255.255.255", False),
        ("0.0.0.0", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::7f00:1", False),
        ("2002:7f00:1::", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
