"""`pod.http.proxies.client_address`: X-Forwarded-For is believed only through trusted proxies."""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import given, settings
from hypothesis import strategies as st

from pod.config import Settings
from pod.http.keys import SETTINGS
from pod.http.proxies import client_address

PROXIES = "10.0.0.0/8, ::1"


def _request(peer: str, forwarded: list[str], trusted: str = PROXIES) -> web.Request:
    app = web.Application()
    app[SETTINGS] = Settings(trusted_proxies=trusted)
    headers = [("X-Forwarded-For", value) for value in forwarded]
    request = make_mocked_request("POST", "/.account/login", headers=headers, app=app)
    return request.clone(remote=peer)


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
