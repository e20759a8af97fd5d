"""The guarded outbound client: SSRF refusals, size caps, timeouts, redirects."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from pod.errors import FetchError
from pod.fetch import Fetcher, _PublicOnlyResolver, is_public_address


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.1.1", False),
        ("172.16.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


class _FixedResolver(AbstractResolver):
    """A DNS answer we choose: a public-looking name that resolves to loopback."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        return None


async def test_names_resolving_to_private_addresses_are_refused() -> None:
    resolver = _PublicOnlyResolver(_FixedResolver())
    with pytest.raises(OSError, match="non-public"):
        await resolver.resolve("innocent.example", 80)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost/x",
        "http://[::1]/x",
        "http://169.254.169.254/",
        "file:///etc/passwd",
        "ftp://example.org/",
        "http://10.0.0.1:8080/",
    ],
)
async def test_private_targets_are_refused(url: str) -> None:
    fetcher = Fetcher()
    try:
        with pytest.raises(FetchError):
            await fetcher.get(url, accept="*/*")
    finally:
        await fetcher.close()


@pytest.fixture
async def peer(aiohttp_server: Any) -> str:
    async def big(_: web.Request) -> web.Response:
        return web.Response(body=b"x" * 100_000)

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/hop/{n + 1}")

    app = web.Application()
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    app.router.add_get("/hop/{n}", hop)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_size_cap(peer: str) -> None:
    fetcher = Fetcher(allow_private_networks=True, max_bytes=10_000)
    try:
        with pytest.raises(FetchError, match="10000"):
            await fetcher.get(peer + "/big", accept="*/*")
    finally:
        await fetcher.close()


async def test_timeout(peer: str) -> None:
    fetcher = Fetcher(allow_private_networks=True, timeout=0.3)
    try:
        with pytest.raises(FetchError, match="timed out"):
            await fetcher.get(peer + "/slow", accept="*/*")
    finally:
        await fetcher.close()


async def test_redirects_are_bounded(peer: str) -> None:
    fetcher = Fetcher(allow_private_networks=True, max_redirects=3)
    try:
        with pytest.raises(FetchError, match="redirects"):
            await fetcher.get(peer + "/hop/0", accept="*/*")
    finally:
        await fetcher.close()


async def test_loopback_peer_is_refused_by_default(peer: str) -> None:
    fetcher = Fetcher()
    try:
        with pytest.raises(FetchError, match="public network"):
            await fetcher.get(peer + "/big", accept="*/*")
    finally:
        await fetcher.close()
