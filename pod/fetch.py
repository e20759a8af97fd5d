"""Fetcher: the one HTTP client for outbound requests (JWKS, discovery, WebIDs, groups, client IDs).

Imports errors only. Every fetch has a timeout and a response-size cap, follows a bounded number
of redirects, and by default refuses targets on private, loopback and link-local networks (SSRF):
the check runs in the DNS resolver, on the addresses actually connected to, so a name that
re-resolves to 127.0.0.1 between check and use cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Final, final
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from pod.errors import FetchError

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@final
class _PublicOnlyResolver(AbstractResolver):
    """Resolves names, then refuses the answer if any address is not public."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not is_public_address(result["host"]):
                raise OSError(f"{host} resolves to a non-public address; refused")
        return results

    async def close(self) -> None:
        await self._inner.close()


@final
@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    body: bytes


@final
class Fetcher:
    """Guarded outbound GETs. Create inside a running loop; `close()` when done."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        max_bytes: int = 512 * 1024,
        allow_private_networks: bool = False,
        max_redirects: int = 3,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allow_private_networks = allow_private_networks
        self.max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver: AbstractResolver = DefaultResolver()
            if not self.allow_private_networks:
                resolver = _PublicOnlyResolver(resolver)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver, limit=100, ttl_dns_cache=60),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": "Kluis (Solid pod server)"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str, *, accept: str, max_bytes: int | None = None) -> Fetched:
        """GET `url`. Raises FetchError for refused targets, failures and oversized answers.

        A non-2xx final status is returned, not raised: callers decide what it means.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        current = url
        for _ in range(self.max_redirects + 1):
            self._check_target(current)
            try:
                async with self._client().get(
                    current, headers={"Accept": accept}, allow_redirects=False
                ) as response:
                    if response.status in _REDIRECTS and "Location" in response.headers:
                        current = urljoin(current, response.headers["Location"])
                        continue
                    body = await _read_capped(response, limit, current)
                    return Fetched(current, response.status, response.content_type, body)
            except TimeoutError as exc:
                raise FetchError(f"fetching {current} timed out after {self.timeout} s") from exc
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                raise FetchError(f"fetching {current} failed: {exc}") from exc
        raise FetchError(f"fetching {url}: more than {self.max_redirects} redirects")

    def _check_target(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refusing to fetch {url!r}: only http(s) URLs")
        host = parts.hostname
        if not self.allow_private_networks and (
            host == "localhost"
            or host.endswith(".localhost")
            or (_is_ip_literal(host) and not is_public_address(host.strip("[]")))
        ):
            raise FetchError(f"refusing to fetch {url}: the target is not on a public network")


async def _read_capped(response: aiohttp.ClientResponse, limit: int, url: str) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise FetchError(f"{url} answered {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise FetchError(f"{url} answered more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
