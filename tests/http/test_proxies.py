"""`pod.http.proxies`: forwarding headers (RFC 7239 Forwarded, X-Forwarded-For) are believed only
through trusted proxies, and a request at another origin than the base URL is warned about once."""

from __future__ import annotations

import ipaddress
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request
from hypothesis import given, settings
from hypothesis import strategies as st

from pod.app import create_app
from pod.config import Settings
from pod.http.keys import SETTINGS
from pod.http.proxies import client_address
from tests.conftest import ClientFactory

PROXIES = "10.0.0.0/8, ::1"


def _request(
    peer: str, forwarded: list[str], trusted: str = PROXIES, *, rfc7239: list[str] | None = None
) -> web.Request:
    app = web.Application()
    app[SETTINGS] = Settings(trusted_proxies=trusted)
    headers = [("X-Forwarded-For", value) for value in forwarded]
    headers += [("Forwarded", value) for value in rfc7239 or []]
    request = make_mocked_request("POST", "/.account/login", headers=headers, app=app)
    return request.clone(remote=peer)


def _rfc7239(peer: str, *values: str, trusted: str = PROXIES) -> str:
    return client_address(_request(peer, [], trusted, rfc7239=list(values)))


def test_the_right_most_untrusted_hop_is_the_client() -> None:
    assert client_address(_request("10.0.0.2", ["1.2.3.4, 5.6.7.8, 10.0.0.9"])) == "5.6.7.8"
    assert client_address(_request("10.0.0.2", ["1.2.3.4", "5.6.7.8"])) == "5.6.7.8"
    assert client_address(_request("::1", ["[2001:db8::7]"])) == "2001:db8::7"


def test_forwarded_for_from_anyone_else_is_ignored() -> None:
    assert client_address(_request("192.0.2.1", ["1.2.3.4"])) == "192.0.2.1"
    assert client_address(_request("10.0.0.2", ["1.2.3.4"], trusted="")) == "10.0.0.2"


def test_a_malformed_hop_stops_the_walk_at_the_proxy() -> None:
    assert client_address(_request("10.0.0.2", ["1.2.3.4, not-an-address"])) == "10.0.0.2"
    assert client_address(_request("10.0.0.2", [])) == "10.0.0.2"


def test_rfc7239_forwarded_for_names_the_client_through_trusted_proxies() -> None:
    """RFC 7239 §5.2 `for=`, with the node forms of §6 (port, bracketed IPv6), was ignored."""
    assert _rfc7239("10.0.0.2", "for=192.0.2.60;proto=https;by=10.0.0.2") == "192.0.2.60"
    assert _rfc7239("10.0.0.2", "for=1.2.3.4, for=5.6.7.8, for=10.0.0.9") == "5.6.7.8"
    assert _rfc7239("10.0.0.2", "for=1.2.3.4", 'for="192.0.2.43:47011"') == "192.0.2.43"
    assert _rfc7239("::1", 'for="[2001:db8:cafe::17]:4711"') == "2001:db8:cafe::17"
    assert _rfc7239("::1", 'For="[2001:db8::7]"') == "2001:db8::7"
    # ... and from anyone else it is ignored.
    assert _rfc7239("192.0.2.1", "for=1.2.3.4") == "192.0.2.1"
    assert _rfc7239("10.0.0.2", "for=1.2.3.4", trusted="") == "10.0.0.2"


def test_an_unknown_or_obfuscated_node_stops_the_walk_at_the_proxy() -> None:
    """RFC 7239 §6.2/§6.3: `unknown` and `_hidden` name no address to count a client by."""
    for node in ("unknown", "_hidden", '"1.2.3.4/x"', '"[::1"', "proto=https"):
        assert _rfc7239("10.0.0.2", f"for=1.2.3.4, {node}") == "10.0.0.2", node
    # Left of the client, what the client wrote does not matter.
    assert _rfc7239("10.0.0.2", "for=unknown, for=1.2.3.4") == "1.2.3.4"


def test_both_header_families_must_agree() -> None:
    """A proxy writes one family and passes the other through from the client: a client-written
    header must not choose the address its attempts are counted under."""
    both = _request("10.0.0.2", ["5.6.7.8"], rfc7239=["for=5.6.7.8"])
    assert client_address(both) == "5.6.7.8"
    forged = _request("10.0.0.2", ["5.6.7.8"], rfc7239=["for=203.0.113.9"])
    assert client_address(forged) == "10.0.0.2"


_hops = st.one_of(
    st.ip_addresses().map(str), st.sampled_from(["10.1.2.3", "::1", "junk", "", "[::1]"])
)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


@settings(max_examples=300, deadline=None, database=None)
@given(st.sampled_from(["10.0.0.2", "192.0.2.1", "::1"]), st.lists(_hops, max_size=6))
def test_the_answer_is_the_peer_or_an_untrusted_hop_behind_trusted_ones(
    peer: str, hops: list[str]
) -> None:
    found = client_address(_request(peer, [", ".join(hops)] if hops else []))
    networks = [ipaddress.ip_network(n.strip()) for n in PROXIES.split(",")]
    if found == peer:
        return
    # Only a trusted proxy is looked through, and what it forwarded was a real address ...
    peer_address = _address(peer)
    assert peer_address is not None
    assert any(peer_address in n for n in networks)
    address = _address(found)
    assert address is not None
    assert not any(address in n for n in networks)
    # ... the right-most one that is not a trusted proxy itself.
    parsed = [_address(h) for h in hops]
    position = max(i for i, a in enumerate(parsed) if a == address)
    assert all(a is not None and any(a in n for n in networks) for a in parsed[position + 1 :])


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pod.http.proxies"]


async def _get(client: TestClient[web.Request, web.Application], **headers: str) -> None:
    async with client.get("/", headers=headers) as response:
        assert response.status < 500


async def test_another_origin_through_the_proxy_is_warned_about_once(
    aiohttp_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Kluis's URLs all come from base_url; a proxy forwarding another scheme or host means
    clients and Kluis disagree about URLs (and every DPoP proof fails): say so, once."""
    settings = Settings(
        base_url="https://pod.example/", trusted_proxies="127.0.0.1", storage="memory"
    )
    client = await aiohttp_client(create_app(settings))
    caplog.set_level(logging.WARNING, logger="pod.http.proxies")
    await _get(client, **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "pod.example"})
    await _get(client, Forwarded="for=192.0.2.1;proto=https;host=pod.example:443")
    assert _warnings(caplog) == []
    await _get(client, **{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "pod.example"})
    await _get(client, Forwarded="proto=https;host=other.example")
    [warning] = _warnings(caplog)
    assert "a request arrived for http://pod.example/ but base_url is https://pod.example/" in (
        warning
    )


async def test_a_proxy_that_is_not_trusted_is_warned_about_once(
    aiohttp_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(base_url="https://pod.example/", storage="memory")
    client = await aiohttp_client(create_app(settings))
    caplog.set_level(logging.WARNING, logger="pod.http.proxies")
    headers = {"X-Forwarded-For": "192.0.2.1", "X-Forwarded-Proto": "https"}
    for _ in range(3):
        await _get(client, **headers)
    untrusted, origin = _warnings(caplog)
    assert untrusted.startswith(
        "requests from 127.0.0.1 carry X-Forwarded-For, X-Forwarded-Proto, but 127.0.0.1 is not "
        "in trusted_proxies"
    )
    # Not believed from an untrusted peer: the connection's own scheme and Host are what counts.
    assert f"a request arrived for http://{client.host}:{client.port}/ but base_url" in origin
    assert "also set trusted_proxies" in origin


async def test_a_direct_request_at_another_host_is_warned_about_once(
    aiohttp_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a proxy the Host header decides; one that matched base_url is remembered, and a
    request at another host after it is still noticed."""
    client = await aiohttp_client(
        create_app(Settings(base_url="http://pod.example/", storage="memory"))
    )
    caplog.set_level(logging.WARNING, logger="pod.http.proxies")
    await _get(client, Host="pod.example")
    await _get(client, Host="pod.example")
    assert _warnings(caplog) == []
    await _get(client, Host="other.example")
    await _get(client, Host="other.example")
    await _get(client, Host="pod.example")
    [warning] = _warnings(caplog)
    assert "a request arrived for http://other.example/ but base_url is http://pod.example/" in (
        warning
    )
