"""The client's address, seen through the reverse proxies the operator trusts.

Rate limits key on it. `X-Forwarded-For` is believed only from a proxy listed in the
`trusted_proxies` setting, and only as far back as the chain passes through trusted proxies: the
right-most address that is not a trusted proxy is the client (any address further left was
written by the client itself and proves nothing).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Final

from aiohttp import web

from pod.http.keys import SETTINGS

_MAX_HOPS: Final = 32


def client_address(request: web.Request) -> str:
    """The address of the client behind `request`, or "unknown" when there is none."""
    peer = request.remote or "unknown"
    networks = request.app[SETTINGS].proxy_networks
    if not networks or not _in(peer, networks):
        return peer
    forwarded = request.headers.getall("X-Forwarded-For", [])
    hops = [h.strip() for line in forwarded for h in line.split(",")][-_MAX_HOPS:]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return peer  # a malformed hop: trust nothing the chain says beyond our proxy
        if not any(address in network for network in networks):
            return str(address)
    return peer


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip("[]"))
    except ValueError:
        return None


def _in(text: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    address = _parse(text)
    return address is not None and any(address in network for network in networks)
