"""What authentication attempts leave behind: bounded state, however many distinct issuers, keys,
tokens and WebIDs an attacker names (issue 10, item 10)."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.web import Application

from pod.http.keys import AUTHENTICATOR
from tests.conftest import POD, Client, ServerFactory
from tests.support import Agent, TestIssuer, absolute, make_public, new_ec_key, sign_proof

DOC = POD + "doc"
TURTLE = {"Content-Type": "text/turtle"}


@pytest.fixture
def backend_kind() -> str:
    """Authentication does not touch storage: one backend is enough."""
    return "memory"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens on it any more: connections are refused at once


async def send(client: Client, agent: Agent, token: str, **proof: Any) -> int:
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": agent.proof("GET", absolute(DOC), token=token, **proof),
    }
    r = await client.get(DOC, as_agent=None, headers=headers)
    return r.status


async def test_many_unknown_issuers_leave_bounded_state(
    client: Client, app: Application, alice: Agent, issuer: TestIssuer
) -> None:
    """Each token naming a new issuer that cannot be reached left a lock for that issuer, for
    good; now the lock goes when its lookup ends, and the failure is remembered, boundedly."""
    keys = app[AUTHENTICATOR].tokens.keys
    port = closed_port()
    tokens = [
        issuer.mint(webid=alice.webid, jkt=alice.jkt, issuer=f"http://127.0.0.1:{port}/i{n}")
        for n in range(2_000)
    ]
    for batch in range(0, len(tokens), 100):
        statuses = await asyncio.gather(
            *(send(client, alice, token) for token in tokens[batch : batch + 100])
        )
        assert set(statuses) == {401}
    assert len(keys.locks) == 0
    assert len(keys.cache) == 0
    assert len(keys.failures) == keys.failures.max_entries < 2_000  # the newest failures
    assert keys.failures.bytes <= keys.failures.max_bytes


async def test_an_issuer_that_fails_is_asked_once_while_its_failure_is_remembered(
    client: Client, alice: Agent, issuer: TestIssuer, aiohttp_server: ServerFactory
) -> None:
    asked: list[str] = []

    async def not_found(request: web.Request) -> web.Response:
        asked.append(request.path)
        raise web.HTTPNotFound()

    nowhere = web.Application()
    nowhere.router.add_get("/{tail:.*}", not_found)
    server = await aiohttp_server(nowhere)
    token = issuer.mint(webid=alice.webid, jkt=alice.jkt, issuer=str(server.make_url("/x")))
    for _ in range(5):
        assert await send(client, alice, token) == 401
    assert asked == ["/x/.well-known/openid-configuration"]


async def test_proof_keys_are_counted_by_size(client: Client, app: Application) -> None:
    """Anyone may sign a proof with a key of their own, and pad its JWK with extra members (as
    far as joserfc's 512-byte limit on a JWS header lets them)."""
    proof_keys = app[AUTHENTICATOR].proofs.keys
    before = proof_keys.bytes
    for n in range(30):
        key = new_ec_key()
        jwk = {**key.as_dict(private=False), "x-pad": f"{n:02d}" + "p" * 200}
        proof = sign_proof(key, "GET", absolute(DOC), jwk=jwk)
        headers = {"Authorization": "DPoP not.a.token", "DPoP": proof}
        assert (await client.get(DOC, as_agent=None, headers=headers)).status == 401
    assert proof_keys.bytes - before >= 30 * 200
    assert proof_keys.bytes <= proof_keys.max_bytes


async def test_verified_tokens_are_counted_by_size(
    client: Client, app: Application, bob: Agent, issuer: TestIssuer
) -> None:
    """A token is kept until it expires; an issuer can pad its claims as it likes."""
    verified = app[AUTHENTICATOR].tokens.verified
    before = verified.bytes
    for n in range(30):
        token = issuer.mint(webid=bob.webid, jkt=bob.jkt, pad=f"{n}" + "p" * 3000)
        assert await send(client, bob, token) == 403  # bob may not read alice's pod
    assert verified.bytes - before >= 30 * 3000
    assert verified.bytes <= verified.max_bytes


async def test_remote_webids_are_counted_by_size(
    client: Client, app: Application, issuer: TestIssuer
) -> None:
    profiles = app[AUTHENTICATOR].profiles
    before = profiles._remote.bytes
    for n in range(30):
        agent = Agent(issuer, f"{n}-" + "w" * 1000)
        assert await send(client, agent, agent.token) == 403
    assert profiles._remote.bytes - before >= 30 * 1000
    assert profiles._remote.bytes <= profiles._remote.max_bytes


async def test_local_webids_are_kept_per_profile_document(
    client: Client, app: Application, issuer: TestIssuer
) -> None:
    """Tokens for many WebIDs in one local document read it once and keep it once."""
    card = POD + "profile/card"
    profile = f"<#me> <http://www.w3.org/ns/solid/terms#oidcIssuer> <{issuer.url}> ."
    assert (await client.put(card, data=profile, headers=TURTLE)).status == 201
    assert client.agent is not None
    await make_public(client, client.agent, card)  # a profile is read only if public
    profiles = app[AUTHENTICATOR].profiles
    for n in range(50):
        agent = Agent(issuer, "unused")
        agent.webid = f"http://pod.example{card}#{n}-" + "f" * 1000
        agent.token = issuer.mint(webid=agent.webid, jkt=agent.jkt)
        assert await send(client, agent, agent.token) == 401  # the profile does not list it
    assert len(profiles._local) == 1
    assert profiles._local.bytes < 10_000


async def put_document(client: Client) -> None:
    assert (await client.put(DOC, data="<#s> <#p> 1 .", headers=TURTLE)).status == 201


async def test_proof_headers_are_kept_per_header_and_counted_by_size(
    client: Client, app: Application, alice: Agent
) -> None:
    """A client's proofs share one protected header, checked once; each new header (here, each
    new key) is one more entry, bounded in bytes like the keys."""
    headers = app[AUTHENTICATOR].proofs.headers
    await put_document(client)  # as alice: her proofs' header is kept
    before = len(headers)
    for _ in range(3):
        assert await send(client, alice, alice.token) == 200
    assert len(headers) == before
    for n in range(30):
        key = new_ec_key()
        jwk = {**key.as_dict(private=False), "x-pad": f"{n:02d}" + "p" * 200}
        proof = sign_proof(key, "GET", absolute(DOC), jwk=jwk)
        headers_sent = {"Authorization": "DPoP not.a.token", "DPoP": proof}
        assert (await client.get(DOC, as_agent=None, headers=headers_sent)).status == 401
    assert len(headers) == before + 30
    assert headers.bytes <= headers.max_bytes


async def test_a_cached_token_is_refused_once_it_expires(
    client: Client, app: Application, alice: Agent, issuer: TestIssuer
) -> None:
    tokens = app[AUTHENTICATOR].tokens
    tokens.skew = 0.0  # else a token counts for 30 s past its exp
    await put_document(client)
    token = issuer.mint(webid=alice.webid, jkt=alice.jkt, lifetime=2)
    assert await send(client, alice, token) == 200
    assert token in tokens.verified._entries  # verified once, kept
    expires = tokens.verified._entries[token][0].access.expires
    await asyncio.sleep(max(0.0, expires - time.time()) + 1.1)
    r = await client.get(
        DOC,
        as_agent=None,
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": alice.proof("GET", absolute(DOC), token=token),
        },
    )
    assert r.status == 401
    assert "expired" in (await r.json())["detail"]


async def test_a_cached_token_is_checked_again_when_its_issuer_keys_change(
    client: Client, app: Application, alice: Agent, issuer: TestIssuer
) -> None:
    """The issuer replaces its signing key: a token the old key signed was verified and kept,
    but once Kluis holds the new key set it is checked again, and refused."""
    tokens = app[AUTHENTICATOR].tokens
    tokens.keys.refetch_after = 0.0  # an unknown kid may fetch the keys at once
    await put_document(client)
    old = alice.token
    assert await send(client, alice, old) == 200
    assert await send(client, alice, old) == 200  # from the cache
    issuer.key, issuer.kid = new_ec_key(), "rotated"
    new = issuer.mint(webid=alice.webid, jkt=alice.jkt)
    assert await send(client, alice, new) == 200  # an unknown kid: the keys are fetched again
    assert await send(client, alice, old) == 401
