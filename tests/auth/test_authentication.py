"""Solid-OIDC on the resource server: good tokens get in, each kind of bad one gets 401.

A real issuer (tests/support.py) serves discovery, JWKS and WebID profiles over HTTP; keys are
made with `cryptography`. Every refusal must be a 401 naming the error in WWW-Authenticate, and
must grant nothing.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc.jwk import OctKey, thumbprint

from tests.conftest import POD, Client
from tests.support import (
    BASE_URL,
    RSA_CASES,
    Agent,
    TestIssuer,
    absolute,
    make_public,
    new_ec_key,
    new_ed25519_key,
    rsa_key,
)

SECRET = POD + "secret"


@pytest.fixture
async def secret(client: Client) -> str:
    r = await client.put(SECRET, data="<#s> <#t> 1 .", headers={"Content-Type": "text/turtle"})
    assert r.status == 201
    return SECRET


def auth(token: str, proof: str | None) -> dict[str, str]:
    headers = {"Authorization": f"DPoP {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return headers


async def refused(client: Client, headers: dict[str, str], error: str, reason: str = "") -> None:
    r = await client.get(SECRET, as_agent=None, headers=headers)
    assert r.status == 401, await r.text()
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("DPoP ")
    assert f'error="{error}"' in challenge
    assert reason in (await r.json())["detail"]


async def test_owner_gets_in(client: Client, secret: str, alice: Agent) -> None:
    r = await client.get(secret)
    assert r.status == 200
    assert r.headers["WAC-Allow"] == 'user="read write append control",public=""'


async def test_anonymous_gets_401_with_challenge(client: Client, secret: str) -> None:
    r = await client.get(secret, as_agent=None)
    assert r.status == 401
    assert r.headers["WWW-Authenticate"].startswith('DPoP realm="http://pod.example/"')


async def test_eddsa_proofs_work(client: Client, secret: str, issuer: TestIssuer) -> None:
    eve = Agent(issuer, "alice", key=new_ed25519_key())
    r = await client.get(secret, as_agent=eve)
    assert r.status == 200


@pytest.mark.parametrize(("bits", "alg"), RSA_CASES)
async def test_rsa_proofs_work(
    client: Client, secret: str, issuer: TestIssuer, bits: int, alg: str
) -> None:
    """Older clients (solid-auth-fetcher) prove with RSA keys: their header, which embeds the
    key, is 550-1,000 bytes, past joserfc's default bound of 512."""
    rsa_alice = Agent(issuer, "alice", key=rsa_key(bits), alg=alg)
    r = await client.get(secret, as_agent=rsa_alice)
    assert r.status == 200, await r.text()


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
async def test_token_from_an_issuer_signing_with_a_4096_bit_rsa_key(
    client: Client, secret: str, alice: Agent, aiohttp_server: Any, alg: str
) -> None:
    other = TestIssuer(key=rsa_key(4096), alg=alg)
    server = await aiohttp_server(other.app())
    other.url = str(server.make_url("")).rstrip("/")
    carol = Agent(other, "carol", key=rsa_key(4096), alg=alg)
    target = BASE_URL.rstrip("/") + secret
    acl = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#owner> a acl:Authorization; acl:agent <{alice.webid}>; acl:accessTo <{target}>;
  acl:mode acl:Read, acl:Write, acl:Control .
<#carol> a acl:Authorization; acl:agent <{carol.webid}>; acl:accessTo <{target}>;
  acl:mode acl:Read ."""
    r = await client.put(secret + ".acl", data=acl, headers={"Content-Type": "text/turtle"})
    assert r.status in (201, 204), await r.text()
    r = await client.get(secret, as_agent=carol)
    assert r.status == 200, await r.text()
    assert r.headers["WAC-Allow"].startswith('user="read"')


async def test_oversized_jose_headers_are_refused(
    client: Client, secret: str, alice: Agent, issuer: TestIssuer
) -> None:
    """Headers stay bounded (2 KB, twice a 4096-bit RSA key's) below the 8 KB proof limit."""
    padded = {**alice.dpop_key.as_dict(private=False), "padding": "p" * 2_500}
    proof = alice.proof("GET", absolute(secret), jwk=padded)
    assert len(proof) < 8192
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "Header size")
    token = issuer.mint(webid=alice.webid, jkt=alice.jkt, kid="k" * 2_500)
    proof = alice.proof("GET", absolute(secret), token=token)
    await refused(client, auth(token, proof), "invalid_token", "Header size")


async def test_expired_token(client: Client, secret: str, alice: Agent, issuer: TestIssuer) -> None:
    token = issuer.mint(webid=alice.webid, jkt=alice.jkt, issued=time.time() - 3600, lifetime=60)
    proof = alice.proof("GET", absolute(secret), token=token)
    await refused(client, auth(token, proof), "invalid_token", "expired")


async def test_wrong_audience(
    client: Client, secret: str, alice: Agent, issuer: TestIssuer
) -> None:
    token = issuer.mint(webid=alice.webid, jkt=alice.jkt, audience=["https://elsewhere"])
    proof = alice.proof("GET", absolute(secret), token=token)
    await refused(client, auth(token, proof), "invalid_token", "aud")


async def test_missing_client_id(
    client: Client, secret: str, alice: Agent, issuer: TestIssuer
) -> None:
    token = issuer.mint(webid=alice.webid, jkt=alice.jkt, client_id=None, audience=["solid"])
    proof = alice.proof("GET", absolute(secret), token=token)
    await refused(client, auth(token, proof), "invalid_token", "client_id")


async def test_wrong_htm(client: Client, secret: str, alice: Agent) -> None:
    proof = alice.proof("POST", absolute(secret))
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "htm")


async def test_wrong_htu(client: Client, secret: str, alice: Agent) -> None:
    proof = alice.proof("GET", absolute(POD + "other"))
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "htu")


async def test_htu_ignores_query(client: Client, secret: str, alice: Agent) -> None:
    headers = auth(alice.token, alice.proof("GET", absolute(secret)))
    r = await client.get(secret + "?x=1", as_agent=None, headers=headers)
    assert r.status == 200


async def test_replayed_proof(client: Client, secret: str, alice: Agent) -> None:
    headers = auth(alice.token, alice.proof("GET", absolute(secret)))
    assert (await client.get(secret, as_agent=None, headers=headers)).status == 200
    await refused(client, headers, "invalid_dpop_proof", "replayed")


async def test_stale_proof(client: Client, secret: str, alice: Agent) -> None:
    proof = alice.proof("GET", absolute(secret), iat=time.time() - 600)
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "iat")


async def test_proof_from_the_future(client: Client, secret: str, alice: Agent) -> None:
    proof = alice.proof("GET", absolute(secret), iat=time.time() + 600)
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "iat")


async def test_key_mismatch(client: Client, secret: str, alice: Agent, issuer: TestIssuer) -> None:
    thief = Agent(issuer, "mallory")
    proof = thief.proof("GET", absolute(secret), token=alice.token)
    await refused(client, auth(alice.token, proof), "invalid_token", "different key")


async def test_wrong_ath(client: Client, secret: str, alice: Agent, issuer: TestIssuer) -> None:
    other = issuer.mint(webid=alice.webid, jkt=alice.jkt)
    proof = alice.proof("GET", absolute(secret), token=other)
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "ath")


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def b64(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(payload)}."


async def test_unsigned_token(
    client: Client, secret: str, alice: Agent, issuer: TestIssuer
) -> None:
    claims = {
        "iss": issuer.url,
        "aud": "solid",
        "webid": alice.webid,
        "client_id": "x",
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "cnf": {"jkt": alice.jkt},
    }
    token = unsigned({"alg": "none", "typ": "JWT"}, claims)
    proof = alice.proof("GET", absolute(secret), token=token)
    await refused(client, auth(token, proof), "invalid_token", "alg")


async def test_unsigned_proof(client: Client, secret: str, alice: Agent) -> None:
    payload = {"htm": "GET", "htu": absolute(secret), "iat": int(time.time()), "jti": "x1"}
    header = {"alg": "none", "typ": "dpop+jwt", "jwk": alice.dpop_key.as_dict(private=False)}
    await refused(client, auth(alice.token, unsigned(header, payload)), "invalid_dpop_proof", "alg")


async def test_hmac_token(client: Client, secret: str, alice: Agent, issuer: TestIssuer) -> None:
    key = OctKey.generate_key(256)
    token = issuer.mint(webid=alice.webid, jkt=alice.jkt, key=key, alg="HS256")
    proof = alice.proof("GET", absolute(secret), token=token)
    await refused(client, auth(token, proof), "invalid_token", "HS256")


async def test_hmac_proof(client: Client, secret: str, alice: Agent) -> None:
    key = OctKey.generate_key(256)
    proof = alice.proof(
        "GET", absolute(secret), key=key, alg="HS256", jwk=key.as_dict(private=False)
    )
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "HS256")


async def test_proof_with_private_key_material(client: Client, secret: str, alice: Agent) -> None:
    proof = alice.proof("GET", absolute(secret), jwk=alice.dpop_key.as_dict(private=True))
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "private")


async def test_proof_wrong_typ(client: Client, secret: str, alice: Agent) -> None:
    proof = alice.proof("GET", absolute(secret), typ="JWT")
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "typ")


async def test_proof_signed_by_another_key(client: Client, secret: str, alice: Agent) -> None:
    proof = alice.proof("GET", absolute(secret), key=new_ec_key())
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "signature")


async def test_token_signed_by_unknown_key(
    client: Client, secret: str, alice: Agent, issuer: TestIssuer
) -> None:
    token = issuer.mint(webid=alice.webid, jkt=alice.jkt, key=new_ec_key(), kid="rogue")
    proof = alice.proof("GET", absolute(secret), token=token)
    await refused(client, auth(token, proof), "invalid_token", "signature")


async def test_issuer_not_in_webid_profile(
    client: Client, secret: str, alice: Agent, issuer: TestIssuer, aiohttp_server: Any
) -> None:
    # A second, honest-looking issuer that alice's profile does not list.
    rogue = TestIssuer()
    server = await aiohttp_server(rogue.app())
    rogue.url = str(server.make_url("")).rstrip("/")
    token = rogue.mint(webid=alice.webid, jkt=alice.jkt)
    proof = alice.proof("GET", absolute(secret), token=token)
    await refused(client, auth(token, proof), "invalid_token", "oidcIssuer")


async def test_unreachable_webid(client: Client, secret: str, issuer: TestIssuer) -> None:
    ghost = Agent(issuer, "ghost")
    issuer.profile_status["ghost"] = 404
    proof = ghost.proof("GET", absolute(secret))
    await refused(client, auth(ghost.token, proof), "invalid_token", "WebID")


async def test_oversized_webid(client: Client, secret: str, issuer: TestIssuer) -> None:
    big = Agent(issuer, "big")
    issuer.profile_extra["big"] = "# " + "x" * 400_000
    proof = big.proof("GET", absolute(secret))
    await refused(client, auth(big.token, proof), "invalid_token", "bytes")


async def test_missing_dpop_header(client: Client, secret: str, alice: Agent) -> None:
    await refused(client, auth(alice.token, None), "invalid_dpop_proof", "DPoP proof")


async def test_bearer_refused_by_default(client: Client, secret: str, alice: Agent) -> None:
    await refused(client, {"Authorization": f"Bearer {alice.token}"}, "invalid_token", "Bearer")


async def test_garbage_tokens(client: Client, secret: str, alice: Agent) -> None:
    await refused(
        client,
        auth("not.a.jwt", alice.proof("GET", absolute(secret), token="not.a.jwt")),
        "invalid_token",
    )
    await refused(client, auth(alice.token, "garbage"), "invalid_dpop_proof")
    await refused(client, {"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_request")
    await refused(client, auth("x" * 3_000, "y" * 3_000), "invalid_dpop_proof")
    # Headers beyond aiohttp's 8 KB line limit never reach Kluis: aiohttp answers 400 itself.
    r = await client.get(SECRET, as_agent=None, headers=auth("x" * 20_000, "y"))
    assert r.status == 400


async def test_keys_are_fetched_once(
    client: Client, secret: str, alice: Agent, issuer: TestIssuer
) -> None:
    for _ in range(3):
        assert (await client.get(secret)).status == 200
    assert issuer.requests.count("/jwks") == 1
    assert issuer.requests.count("/people/alice") == 1


async def test_local_webid(client: Client, issuer: TestIssuer, alice: Agent) -> None:
    """A WebID hosted in a pod on this server is read locally, not fetched."""
    card = POD + "profile/card"
    local_webid = "http://pod.example" + card + "#me"
    profile = f"<#me> <http://www.w3.org/ns/solid/terms#oidcIssuer> <{issuer.url}> ."
    await client.put(card, data=profile, headers={"Content-Type": "text/turtle"})
    acl = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#o> a acl:Authorization; acl:agent <{alice.webid}>; acl:accessTo <{"http://pod.example" + POD}>;
  acl:default <{"http://pod.example" + POD}>; acl:mode acl:Read, acl:Write, acl:Control .
<#l> a acl:Authorization; acl:agent <{local_webid}>; acl:accessTo <{"http://pod.example" + POD}>;
  acl:default <{"http://pod.example" + POD}>; acl:mode acl:Read ."""
    assert (
        await client.put(POD + ".acl", data=acl, headers={"Content-Type": "text/turtle"})
    ).status == 204
    await make_public(client, alice, card)
    local = Agent(issuer, "unused")
    local.webid = local_webid
    local.token = issuer.mint(webid=local_webid, jkt=local.jkt)
    r = await client.get(card, as_agent=local)
    assert r.status == 200
    assert "/people/unused" not in issuer.requests
    assert thumbprint(local.dpop_key.as_dict(private=False)) == local.jkt


async def test_failed_authentication_grants_nothing_even_for_public(
    client: Client, alice: Agent
) -> None:
    """A bad token is refused even where anonymous access would be allowed."""
    public = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#p> a acl:Authorization; acl:agentClass <http://xmlns.com/foaf/0.1/Agent>;
  acl:accessTo <http://pod.example{POD}open>; acl:mode acl:Read .
<#o> a acl:Authorization; acl:agent <{alice.webid}>; acl:accessTo <http://pod.example{POD}open>;
  acl:mode acl:Read, acl:Write, acl:Control ."""
    await client.put(POD + "open", data="<#a> <#b> 1 .", headers={"Content-Type": "text/turtle"})
    await client.put(POD + "open.acl", data=public, headers={"Content-Type": "text/turtle"})
    assert (await client.get(POD + "open", as_agent=None)).status == 200
    bad = auth(alice.token, alice.proof("GET", absolute(POD + "other")))
    r = await client.get(POD + "open", as_agent=None, headers=bad)
    assert r.status == 401


async def test_extra_jwk_members_do_not_change_the_thumbprint(
    client: Client, secret: str, alice: Agent
) -> None:
    """Inrupt's clients put alg (and others kid, use) in the proof's jwk; RFC 7638 ignores them."""
    jwk = {**alice.dpop_key.as_dict(private=False), "alg": "ES256", "kid": "k1", "use": "sig"}
    headers = auth(alice.token, alice.proof("GET", absolute(secret), jwk=jwk))
    r = await client.get(secret, as_agent=None, headers=headers)
    assert r.status == 200


async def test_local_webid_issuer_change_applies_at_once(
    client: Client, issuer: TestIssuer, alice: Agent
) -> None:
    """Removing solid:oidcIssuer from a local profile stops that issuer at the next request."""
    card = POD + "profile/card"
    webid = "http://pod.example" + card + "#me"
    profile = f"<#me> <http://www.w3.org/ns/solid/terms#oidcIssuer> <{issuer.url}> ."
    await client.put(card, data=profile, headers={"Content-Type": "text/turtle"})
    pod_url = "http://pod.example" + POD
    acl = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#o> a acl:Authorization; acl:agent <{alice.webid}>; acl:accessTo <{pod_url}>;
  acl:default <{pod_url}>; acl:mode acl:Read, acl:Write, acl:Control .
<#l> a acl:Authorization; acl:agent <{webid}>; acl:accessTo <{pod_url}>;
  acl:default <{pod_url}>; acl:mode acl:Read ."""
    await client.put(POD + ".acl", data=acl, headers={"Content-Type": "text/turtle"})
    await make_public(client, alice, card)
    local = Agent(issuer, "unused")
    local.webid = webid
    local.token = issuer.mint(webid=webid, jkt=local.jkt)
    assert (await client.get(card, as_agent=local)).status == 200
    await client.put(
        card,
        data="<#me> a <http://xmlns.com/foaf/0.1/Person> .",
        headers={"Content-Type": "text/turtle"},
    )
    r = await client.get(card, as_agent=local)
    assert r.status == 401
    assert "oidcIssuer" in (await r.json())["detail"]


async def test_a_local_profile_made_private_stops_vouching_at_the_next_request(
    client: Client, issuer: TestIssuer, alice: Agent
) -> None:
    """A local WebID's issuers are kept between requests (pod.auth.webid), only until a write:
    a profile whose ACL no longer lets the public read it vouches for nothing from then on."""
    card = POD + "profile/card"
    webid = "http://pod.example" + card + "#me"
    profile = f"<#me> <http://www.w3.org/ns/solid/terms#oidcIssuer> <{issuer.url}> ."
    await client.put(card, data=profile, headers={"Content-Type": "text/turtle"})
    await make_public(client, alice, card)
    local = Agent(issuer, "unused")
    local.webid = webid
    local.token = issuer.mint(webid=webid, jkt=local.jkt)
    for _ in range(2):  # the second with the issuers kept
        assert (await client.get(card, as_agent=local)).status == 200
    owner_only = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#o> a acl:Authorization; acl:agent <{alice.webid}>; acl:accessTo <http://pod.example{card}>;
  acl:mode acl:Read, acl:Write, acl:Control ."""
    r = await client.put(card + ".acl", data=owner_only, headers={"Content-Type": "text/turtle"})
    assert r.status == 204
    r = await client.get(card, as_agent=local)
    assert r.status == 401
    assert "cannot be read" in (await r.json())["detail"]


async def test_a_token_naming_a_private_document_learns_nothing_about_it(
    client: Client, issuer: TestIssuer, alice: Agent, secret: str
) -> None:
    """Issue 10 item 5: the WebID check read a local profile without access control, and its 401
    said "does not exist" or "not an RDF document". A local profile is read only as the public
    could read it, and every reason it cannot be looks the same."""
    await client.put(POD + "private.bin", data=b"\x00", headers={"Content-Type": "x/y"})
    listing = f"<#me> <http://www.w3.org/ns/solid/terms#oidcIssuer> <{issuer.url}> ."
    await client.put(POD + "lists-issuer", data=listing, headers={"Content-Type": "text/turtle"})
    details = set()
    for path in (secret, POD + "private.bin", POD + "missing", POD + "lists-issuer"):
        webid = "http://pod.example" + path + "#me"
        stranger = Agent(issuer, "unused")
        stranger.webid = webid
        stranger.token = issuer.mint(webid=webid, jkt=stranger.jkt)
        r = await client.get(POD + "anything", as_agent=stranger)
        assert r.status == 401, path
        details.add((await r.json())["detail"].replace(webid.split("#")[0], "<profile>"))
    assert len(details) == 1, details
    # The same private document made public vouches for the issuer it lists.
    await make_public(client, alice, POD + "lists-issuer")
    trusted = Agent(issuer, "unused")
    trusted.webid = "http://pod.example" + POD + "lists-issuer#me"
    trusted.token = issuer.mint(webid=trusted.webid, jkt=trusted.jkt)
    r = await client.get(POD + "anything", as_agent=trusted)
    assert r.status == 403  # authenticated, but not allowed there
