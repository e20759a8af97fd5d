"""The client as seen through the reverse proxies the operator trusts, and a warning when requests
arrive at another origin than the base URL.

Rate limits key on the client's address. Forwarding headers are believed only from a proxy
listed in the `trusted_proxies` setting, and only as far back as the chain passes through trusted
proxies: the right-most address that is not a trusted proxy is the client (any address further
left was written by the client itself and proves nothing). Both header families are read:
RFC 7239 `Forwarded: for=...` (https://www.rfc-editor.org/rfc/rfc7239#section-5.2), parsed by
aiohttp's `request.forwarded`, and the de facto `X-Forwarded-For`. A proxy writes one of them and
passes the other through from the client, so when both are present and name different clients,
neither is believed: the client is the proxy itself (the one bucket an attacker can move into).

Kluis never builds URLs from forwarded scheme or host: every URL, redirect and DPoP `htu` check
derives from `base_url`. Forwarded proto/host (X-Forwarded-Proto/-Host) serve only to warn the
operator, once, that clients reach the server at another origin than `base_url` says.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Final
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from pod.http.keys import SETTINGS, WARNED

log = logging.getLogger(__name__)

_MAX_HOPS: Final = 32
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_Networks = tuple[IPv4Network | IPv6Network, ...]


def client_address(request: web.Request) -> str:
    """The address of the client behind `request`, or "unknown" when there is none."""
    peer = request.remote or "unknown"
    networks = request.app[SETTINGS].proxy_networks
    if not networks or not _in(peer, networks):
        return peer
    headers = request.headers
    found: set[str] = set()
    if hdrs.FORWARDED in headers:
        nodes = [element.get("for", "") for element in request.forwarded]
        found.add(_walk(nodes, networks, _node_address) or peer)
    if hdrs.X_FORWARDED_FOR in headers:
        hops = [h for line in headers.getall(hdrs.X_FORWARDED_FOR) for h in line.split(",")]
        found.add(_walk(hops, networks, _parse) or peer)
    return found.pop() if len(found) == 1 else peer


def _walk(
    hops: list[str],
    networks: _Networks,
    parse: Callable[[str], IPv4Address | IPv6Address | None],
) -> str | None:
    """The right-most hop that is not a trusted proxy, or None when the chain says nothing
    believable (a malformed or obfuscated hop before it, or only trusted proxies)."""
    for hop in reversed(hops[-_MAX_HOPS:]):
        address = parse(hop)
        if address is None:
            return None  # trust nothing the chain says beyond our proxy
        if not any(address in network for network in networks):
            return str(address)
    return None


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _node_address(node: str) -> IPv4Address | IPv6Address | None:
    """The address of an RFC 7239 §6 node: `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::1]`,
    `[2001:db8::1]:4711`; None for `unknown`, an obfuscated `_name` or anything else."""
    try:
        parts = urlsplit("//" + node)
        host = parts.hostname
    except ValueError:
        return None
    if host is None or parts.path or parts.query or parts.fragment or parts.username:
        return None
    return _parse(host)


def _in(text: str, networks: _Networks) -> bool:
    address = _parse(text)
    return address is not None and any(address in network for network in networks)


_FORWARDING: Final = (hdrs.FORWARDED, hdrs.X_FORWARDED_FOR, hdrs.X_FORWARDED_PROTO)


def warn_about_origin(request: web.Request, app: web.Application) -> None:
    """Log once per app when a request shows that clients reach the server at another scheme or
    host than `base_url`, or that a proxy the settings do not trust forwards requests."""
    state = app[WARNED]
    warned = state.kinds
    if len(warned) == 2:
        return
    headers = request.headers
    if headers.keys().isdisjoint(_FORWARDING):  # case-insensitive, as the headers are
        # The common case, asked on every request: no proxy, and the Host seen last time.
        host = headers.get(hdrs.HOST)
        if host is not None and host == state.fine_host:
            return
        settings = app[SETTINGS]
        seen = f"{request.scheme}://{request.host}"
        if _same_origin(seen, settings.base_url):
            state.fine_host = host
        elif "origin" not in warned:
            peer = request.remote or "unknown"
            trusted = bool(settings.proxy_networks) and _in(peer, settings.proxy_networks)
            _warn_origin(warned, seen, settings.base_url, trusted)
        return
    settings = app[SETTINGS]
    peer = request.remote or "unknown"
    trusted = bool(settings.proxy_networks) and _in(peer, settings.proxy_networks)
    if not trusted and "untrusted" not in warned:
        warned.add("untrusted")
        log.warning(
            "requests from %s carry %s, but %s is not in trusted_proxies: if it is your reverse "
            "proxy, add it, or every client behind it shares its address in the rate limits",
            peer,
            ", ".join(n for n in _FORWARDING if n in headers),
            peer,
        )
    if "origin" in warned:
        return
    scheme, host = request.scheme, request.host
    if trusted:
        last = request.forwarded[-1] if hdrs.FORWARDED in headers else {}
        scheme = last.get("proto") or _last(headers.get(hdrs.X_FORWARDED_PROTO)) or scheme
        host = last.get("host") or _last(headers.get(hdrs.X_FORWARDED_HOST)) or host
    seen = f"{scheme}://{host}"
    if not _same_origin(seen, settings.base_url):
        _warn_origin(warned, seen, settings.base_url, trusted)


def _warn_origin(warned: set[str], seen: str, base_url: str, trusted: bool) -> None:
    warned.add("origin")
    log.warning(
        "a request arrived for %s/ but base_url is %s; every URL Kluis makes (and every "
        "DPoP proof it checks) uses base_url: if clients reach the server at %s/, set "
        "base_url to it%s",
        seen,
        base_url,
        seen,
        "" if trusted else " (behind a reverse proxy, also set trusted_proxies)",
    )


@functools.lru_cache(maxsize=64)  # bounded: the Host header is the client's to choose
def _same_origin(seen: str, base_url: str) -> bool:
    return _origin(seen) == _origin(base_url)


def _last(value: str | None) -> str | None:
    """The value the nearest proxy added to a comma-separated X-Forwarded-* header."""
    if not value:
        return None
    return value.rsplit(",", 1)[-1].strip() or None


@functools.lru_cache(maxsize=64)  # bounded: the Host header is the client's to choose
def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the scheme's default port filled in; None if malformed."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    return parts.scheme.lower(), parts.hostname or "", port
