"""The identity provider end to end over HTTP, with authlib's OAuth client playing the app.

Authorization code + PKCE + DPoP through the log-in and consent pages, refresh-token rotation,
client credentials, and each kind of refusal; every flow ends by using the token on a pod.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import InvalidClientError
from joserfc.jwk import thumbprint

from pod.feed import Actor, Change, LocalFeed, RecordChanged, encode
from pod.fetch import Fetcher
from pod.http.keys import AUTHENTICATOR, FEED, PROVIDER
from pod.idp.clients import REGISTRATIONS_PER_HOUR, Clients
from pod.idp.keys import IDP, KeyRing, _new_key
from pod.idp.revocations import REVOCATIONS, Revocation, Revocations, record_key
from pod.storage.kv import MemoryKeyValueStore
from pod.storage.records import AnnouncingKeyValueStore, Records
from tests.idp.conftest import (
    PASSWORD,
    ClientApp,
    Kluis,
    api_token,
    browser_session,
    csrf_of,
    sign_up,
)
from tests.support import RSA_CASES, new_ec_key, rsa_key, sign_proof

TURTLE = {"Content-Type": "text/turtle"}


class DPoPKey:
    """The app's DPoP key pair (made with `cryptography`; P-256 unless given) and its proofs."""

    def __init__(self, key: Any = None, alg: str = "ES256") -> None:
        self.key = key or new_ec_key()
        self.alg = alg
        self.jkt = thumbprint(self.key.as_dict(private=False))

    def proof(self, method: str, url: str, token: str | None = None) -> str:
        return sign_proof(self.key, method, url, token=token, alg=self.alg)


def dpop_headers(key: DPoPKey, method: str, url: str, token: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": key.proof(method, url, token)}


async def browser_login(
    kluis: Kluis,
    authorize_url: str,
    *,
    email: str,
    remember: bool = False,
    decide: str = "allow",
    browser: aiohttp.ClientSession | None = None,
) -> str:
    """Act as a person in a browser without JavaScript (a new one, unless `browser` is given,
    which keeps its cookies afterwards); return where the app gets sent."""
    if browser is None:
        async with browser_session() as new:
            return await browser_login(
                kluis, authorize_url, email=email, remember=remember, decide=decide, browser=new
            )
    async with browser.get(authorize_url, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        login = r.headers["Location"]
    assert "/.account/login?auth=" in login
    async with browser.get(kluis.url(login)) as r:
        page = await r.text()
    auth = parse_qs(urlsplit(login).query)["auth"][0]
    async with browser.post(
        kluis.url(".account/login"),
        data={"csrf": csrf_of(page), "auth": auth, "email": email, "password": PASSWORD},
        allow_redirects=False,
    ) as r:
        assert r.status == 303, await r.text()
        consent = r.headers["Location"]
    if "/.account/consent" not in consent:
        return consent  # consent remembered earlier
    async with browser.get(kluis.url(consent)) as r:
        page = await r.text()
        assert "Test App" in page
        assert "wants to use your identity" in page
    webid = (
        kluis.url("alice/profile/card#me") if "alice" in email else kluis.url("bob/profile/card#me")
    )
    form = {"csrf": csrf_of(page), "auth": auth, "webid": webid, "decision": decide}
    if remember:
        form["remember"] = "yes"
    async with browser.post(kluis.url(".account/consent"), data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return r.headers["Location"]


def return_link(page: str) -> str:
    """The link back to the app on a page that stops a sign-in."""
    found = re.search(r'<a href="([^"]+)">Return to', page)
    assert found, page
    return html.unescape(found[1])


def oauth_client(client_app: ClientApp, **kwargs: Any) -> OAuth2Session:
    return OAuth2Session(
        client_id=client_app.client_id,
        redirect_uri=client_app.redirect_uri,
        scope="openid webid offline_access",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        **kwargs,
    )


async def authorize(
    kluis: Kluis, client_app: ClientApp, *, email: str = "alice@example.org", **login: Any
) -> tuple[OAuth2Session, str, str]:
    """Run the app's side: build the PKCE request, let the person log in, return the callback."""
    client = oauth_client(client_app)
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(
        kluis.url(".oidc/auth"), code_verifier=verifier, nonce="n-0S6_WzA2Mj"
    )
    callback = await browser_login(kluis, url, email=email, **login)
    assert callback.startswith(client_app.redirect_uri), callback
    params = parse_qs(urlsplit(callback).query)
    assert params["state"] == [state]
    assert params["iss"] == [kluis.issuer]
    return client, callback, verifier


async def fetch_token(
    client: OAuth2Session, kluis: Kluis, callback: str, verifier: str, key: DPoPKey
) -> dict[str, Any]:
    token_url = kluis.url(".oidc/token")
    proof = key.proof("POST", token_url)
    return await asyncio.to_thread(
        client.fetch_token,
        token_url,
        authorization_response=callback,
        code_verifier=verifier,
        headers={"DPoP": proof},
    )


@pytest.fixture
async def people(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    await sign_up(kluis, "bob@example.org", "bob")
    # Something private in each pod, written by its owner below.


async def put_private(kluis: Kluis, key: DPoPKey, token: str, path: str) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.put(
            kluis.url(path),
            data="<#x> <#y> 1 .",
            headers={**TURTLE, **dpop_headers(key, "PUT", kluis.url(path), token)},
        ) as r,
    ):
        assert r.status == 201, await r.text()


async def get_status(kluis: Kluis, key: DPoPKey, token: str, path: str) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.get(kluis.url(path), headers=dpop_headers(key, "GET", kluis.url(path), token)) as r,
    ):
        return r.status


async def test_discovery(kluis: Kluis) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(kluis.url(".well-known/openid-configuration")) as r,
    ):
        config = await r.json()
    assert config["issuer"] == kluis.issuer
    assert config["solid_oidc_supported"] == "https://solidproject.org/TR/solid-oidc"
    for scope in ("openid", "webid", "offline_access"):
        assert scope in config["scopes_supported"]
    assert set(config["grant_types_supported"]) >= {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert "ES256" in config["dpop_signing_alg_values_supported"]
    assert set(config["token_endpoint_auth_methods_supported"]) >= {
        "none",
        "client_secret_basic",
        "client_secret_post",
    }
    async with aiohttp.ClientSession() as s, s.get(config["jwks_uri"]) as r:
        keys = (await r.json())["keys"]
    assert keys
    assert all("d" not in k for k in keys)


async def test_authorization_code_flow_with_pkce_and_dpop(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    client, callback, verifier = await authorize(kluis, client_app, remember=True)
    key = DPoPKey()
    token = await fetch_token(client, kluis, callback, verifier, key)
    assert token["token_type"] == "DPoP"
    assert "refresh_token" in token
    from joserfc import jwt as jose_jwt

    from pod.http.keys import PROVIDER

    keyset = kluis.app[PROVIDER].keys.key_set()
    access = jose_jwt.decode(token["access_token"], keyset).claims
    assert access["webid"] == kluis.url("alice/profile/card#me")
    assert "solid" in access["aud"]
    assert access["client_id"] == client_app.client_id
    assert access["cnf"]["jkt"] == key.jkt
    id_token = jose_jwt.decode(token["id_token"], keyset).claims
    assert id_token["webid"] == access["webid"]
    assert id_token["nonce"] == "n-0S6_WzA2Mj"
    assert id_token["aud"] == client_app.client_id
    # The token works on alice's pod, and only there.
    await put_private(kluis, key, token["access_token"], "alice/private/doc")
    assert await get_status(kluis, key, token["access_token"], "alice/private/doc") == 200
    bob_token = await client_credentials_token(kluis, "bob@example.org", "bob", DPoPKey())
    bob_key = bob_token[1]
    await put_private(kluis, bob_key, bob_token[0], "bob/private/doc")
    assert await get_status(kluis, key, token["access_token"], "bob/private/doc") == 403


async def test_refresh_tokens_rotate_and_stay_bound(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    client, callback, verifier = await authorize(kluis, client_app, remember=True)
    key = DPoPKey()
    first = await fetch_token(client, kluis, callback, verifier, key)

    async def refresh(refresh_token: str, with_key: DPoPKey) -> tuple[int, dict[str, Any]]:
        return await refresh_tokens(kluis, client_app, refresh_token, with_key)

    status, second = await refresh(first["refresh_token"], key)
    assert status == 200, second
    assert second["refresh_token"] != first["refresh_token"]
    # another key cannot use it
    status, body = await refresh(second["refresh_token"], DPoPKey())
    assert (status, body["error"]) == (400, "invalid_grant")
    # the used one is dead, and replaying it revokes the family
    status, body = await refresh(first["refresh_token"], key)
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await refresh(second["refresh_token"], key)
    assert (status, body["error"]) == (400, "invalid_grant")


async def refresh_tokens(
    kluis: Kluis, client_app: ClientApp, refresh_token: str, key: DPoPKey
) -> tuple[int, dict[str, Any]]:
    """The token endpoint's status and answer to the app's refresh with `key`."""
    token_url = kluis.url(".oidc/token")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_app.client_id,
            },
            headers={"DPoP": key.proof("POST", token_url)},
        ) as r,
    ):
        return r.status, await r.json()


@pytest.mark.parametrize(("bits", "alg"), RSA_CASES)
async def test_rsa_dpop_keys_at_the_token_endpoint(
    kluis: Kluis, client_app: ClientApp, people: None, bits: int, alg: str
) -> None:
    """Older clients (solid-auth-fetcher) prove with RSA keys; each grant binds the tokens to
    them, and the pod takes the tokens with proofs by the same key."""
    key = DPoPKey(rsa_key(bits), alg)
    client, callback, verifier = await authorize(kluis, client_app, remember=True)
    token = await fetch_token(client, kluis, callback, verifier, key)
    assert token["token_type"] == "DPoP"
    await put_private(kluis, key, token["access_token"], "alice/rsa/code")
    status, refreshed = await refresh_tokens(kluis, client_app, token["refresh_token"], key)
    assert status == 200, refreshed
    assert await get_status(kluis, key, refreshed["access_token"], "alice/rsa/code") == 200
    machine, _, _ = await client_credentials_token(kluis, "alice@example.org", "alice", key)
    assert await get_status(kluis, key, machine, "alice/rsa/code") == 200


async def test_oversized_dpop_header_at_the_token_endpoint(kluis: Kluis, people: None) -> None:
    """The header bound stays (2 KB): a bigger one is a 400 naming it, not a 500."""
    key = DPoPKey()
    token_url = kluis.url(".oidc/token")
    padded = {**key.key.as_dict(private=False), "padding": "p" * 2_500}
    proof = sign_proof(key.key, "POST", token_url, jwk=padded)
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            token_url,
            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
            headers={"DPoP": proof},
        ) as r,
    ):
        assert r.status == 400
        body = await r.json()
    assert body["error"] == "invalid_request"
    assert "Header size" in body["error_description"]


async def client_credentials_token(
    kluis: Kluis, email: str, pod: str, key: DPoPKey
) -> tuple[str, DPoPKey, dict[str, Any]]:
    api = await api_token(kluis, email)
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            kluis.url(".account/api/credentials"),
            json={"webId": kluis.url(f"{pod}/profile/card#me"), "name": "publisher back end"},
            headers={"Authorization": f"Bearer {api}"},
        ) as r,
    ):
        assert r.status == 201, await r.text()
        credential = await r.json()
    token_url = kluis.url(".oidc/token")
    client = OAuth2Session(
        client_id=credential["clientId"],
        client_secret=credential["clientSecret"],
        token_endpoint_auth_method="client_secret_basic",
    )
    token = await asyncio.to_thread(
        client.fetch_token,
        token_url,
        grant_type="client_credentials",
        headers={"DPoP": key.proof("POST", token_url)},
    )
    assert token["token_type"] == "DPoP"
    return str(token["access_token"]), key, credential


async def test_client_credentials_flow(kluis: Kluis, people: None) -> None:
    token, key, credential = await client_credentials_token(
        kluis, "alice@example.org", "alice", DPoPKey()
    )
    await put_private(kluis, key, token, "alice/data/prefs")
    assert await get_status(kluis, key, token, "alice/data/prefs") == 200
    bob_token, bob_key, _ = await client_credentials_token(
        kluis, "bob@example.org", "bob", DPoPKey()
    )
    await put_private(kluis, bob_key, bob_token, "bob/data/prefs")
    assert await get_status(kluis, key, token, "bob/data/prefs") == 403
    # client_secret_post works too
    token_url = kluis.url(".oidc/token")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": credential["clientId"],
                "client_secret": credential["clientSecret"],
            },
            headers={"DPoP": key.proof("POST", token_url)},
        ) as r,
    ):
        assert r.status == 200


# --- refusals ---------------------------------------------------------------------------


async def test_wrong_password(kluis: Kluis, people: None) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            kluis.url(".account/api/login"), json={"email": "alice@example.org", "password": "nope"}
        ) as r,
    ):
        assert r.status == 401
    async with browser_session() as browser:
        async with browser.get(kluis.url(".account/login")) as r:
            page = await r.text()
        async with browser.post(
            kluis.url(".account/login"),
            data={"csrf": csrf_of(page), "email": "alice@example.org", "password": "wrong"},
            allow_redirects=False,
        ) as r:
            assert r.status == 401
            assert "Wrong e-mail address or password" in await r.text()


@pytest.mark.parametrize("kluis", [{"storage": "file"}], indirect=True, ids=["file"])
async def test_api_tokens_are_kept_only_as_hashes(kluis: Kluis, people: None) -> None:
    token = await api_token(kluis, "alice@example.org")
    state = kluis.settings.data_dir / ".kluis"
    kept = [f.read_bytes() for f in sorted(state.rglob("*")) if f.is_file()]
    assert kept
    assert not any(token.encode() in data for data in kept)  # a copy of the disk signs no one in
    async with (
        aiohttp.ClientSession() as s,
        s.get(kluis.url(".account/api/me"), headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        assert r.status == 200, await r.text()
        assert (await r.json())["email"] == "alice@example.org"


async def test_login_attempts_are_rate_limited(kluis: Kluis, people: None) -> None:
    async with aiohttp.ClientSession() as s:
        statuses = []
        retry = None
        for _ in range(7):
            async with s.post(
                kluis.url(".account/api/login"),
                json={"email": "alice@example.org", "password": "nope"},
            ) as r:
                statuses.append(r.status)
                retry = r.headers.get("Retry-After")
        assert statuses[:5] == [401] * 5
        assert statuses[5:] == [429, 429]
        assert retry is not None
        # even the right password is refused while limited
        async with s.post(
            kluis.url(".account/api/login"),
            json={"email": "alice@example.org", "password": PASSWORD},
        ) as r:
            assert r.status == 429


async def test_unknown_client(kluis: Kluis, people: None) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            kluis.url(".oidc/auth"),
            params={
                "client_id": "nobody-registered-this",
                "redirect_uri": "https://x.example/cb",
                "response_type": "code",
                "scope": "openid",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            },
            allow_redirects=False,
        ) as r,
    ):
        assert r.status == 400  # shown to the user, never redirected to an unknown URI
        assert "unknown client" in await r.text()


async def test_redirect_uri_not_in_client_document(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            kluis.url(".oidc/auth"),
            params={
                "client_id": client_app.client_id,
                "redirect_uri": "https://evil.example/cb",
                "response_type": "code",
                "scope": "openid",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            },
            allow_redirects=False,
        ) as r,
    ):
        assert r.status == 400
        assert "not registered" in await r.text()
        assert "Location" not in r.headers


async def test_pkce_is_required(kluis: Kluis, client_app: ClientApp, people: None) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            kluis.url(".oidc/auth"),
            params={
                "client_id": client_app.client_id,
                "redirect_uri": client_app.redirect_uri,
                "response_type": "code",
                "scope": "openid",
                "state": "s1",
            },
            allow_redirects=False,
        ) as r,
    ):
        # This browser never let the app sign it in: a page links back, nothing redirects.
        assert r.status == 400
        link = return_link(await r.text())
        assert link.startswith(client_app.redirect_uri)
        params = parse_qs(urlsplit(link).query)
        assert params["error"] == ["invalid_request"]
        assert params["state"] == ["s1"]


async def test_pkce_verifier_mismatch(kluis: Kluis, client_app: ClientApp, people: None) -> None:
    client, callback, _ = await authorize(kluis, client_app)
    with pytest.raises(Exception, match="invalid_grant"):
        await fetch_token(client, kluis, callback, "the-wrong-verifier" * 3, DPoPKey())


async def test_a_bad_token_request_does_not_burn_the_code(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    """Issue 10 item 11: whoever sends the code with a wrong verifier, redirect URI or client
    is refused without consuming it; the real client still redeems it."""
    client, callback, verifier = await authorize(kluis, client_app)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    token_url = kluis.url(".oidc/token")
    for wrong in (
        {"code_verifier": "the-wrong-verifier" * 3},
        {"redirect_uri": "https://elsewhere.example/cb"},
        {"client_id": "another-client"},
    ):
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_app.client_id,
            "redirect_uri": client_app.redirect_uri,
            "code_verifier": verifier,
            **wrong,
        }
        async with aiohttp.ClientSession() as s, s.post(token_url, data=form) as r:
            assert r.status in (400, 401), await r.text()
    token = await fetch_token(client, kluis, callback, verifier, DPoPKey())
    assert token["access_token"]


async def test_a_thief_without_the_dpop_key_cannot_revoke_the_family(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    """A stolen refresh token presented with another DPoP key used to be consumed first, so
    the real client's next refresh looked like a replay and revoked the whole family."""
    client, callback, verifier = await authorize(kluis, client_app, remember=True)
    key = DPoPKey()
    first = await fetch_token(client, kluis, callback, verifier, key)
    token_url = kluis.url(".oidc/token")

    async def refresh(with_key: DPoPKey) -> tuple[int, dict[str, Any]]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": client_app.client_id,
        }
        headers = {"DPoP": with_key.proof("POST", token_url)}
        async with aiohttp.ClientSession() as s, s.post(token_url, data=form, headers=headers) as r:
            return r.status, await r.json()

    for _ in range(3):
        status, body = await refresh(DPoPKey())
        assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await refresh(key)
    assert status == 200, body
    assert body["refresh_token"] != first["refresh_token"]


async def test_replayed_authorization_code(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    client, callback, verifier = await authorize(kluis, client_app, remember=True)
    key = DPoPKey()
    token = await fetch_token(client, kluis, callback, verifier, key)
    assert token["refresh_token"]
    with pytest.raises(Exception, match="invalid_grant"):
        await fetch_token(oauth_client(client_app), kluis, callback, verifier, key)
    # the replay revoked the refresh token issued with the code
    token_url = kluis.url(".oidc/token")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
                "client_id": client_app.client_id,
            },
            headers={"DPoP": key.proof("POST", token_url)},
        ) as r,
    ):
        assert r.status == 400


async def test_revoked_client_credentials(kluis: Kluis, people: None) -> None:
    token, key, credential = await client_credentials_token(
        kluis, "alice@example.org", "alice", DPoPKey()
    )
    await put_private(kluis, key, token, "alice/before-revoke")
    other, other_key, _ = await client_credentials_token(
        kluis, "alice@example.org", "alice", DPoPKey()
    )
    api = await api_token(kluis, "alice@example.org")
    async with (
        aiohttp.ClientSession() as s,
        s.delete(
            kluis.url(".account/api/credentials/" + credential["clientId"]),
            headers={"Authorization": f"Bearer {api}"},
        ) as r,
    ):
        assert r.status == 204
    # Issue 10 item 14: the token issued before stops working on the next request ...
    assert await get_status(kluis, key, token, "alice/before-revoke") == 401
    # ... while other credentials of the same WebID keep theirs.
    assert await get_status(kluis, other_key, other, "alice/before-revoke") == 200
    token_url = kluis.url(".oidc/token")
    basic = base64.b64encode(f"{credential['clientId']}:{credential['clientSecret']}".encode())
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            token_url,
            data={"grant_type": "client_credentials"},
            headers={
                "Authorization": "Basic " + basic.decode(),
                "DPoP": key.proof("POST", token_url),
            },
        ) as r,
    ):
        assert r.status == 401
        assert (await r.json())["error"] == "invalid_client"


async def test_revoking_an_app_ends_its_access_at_once(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    client, callback, verifier = await authorize(kluis, client_app, remember=True)
    key = DPoPKey()
    token = await fetch_token(client, kluis, callback, verifier, key)
    await put_private(kluis, key, token["access_token"], "alice/app-doc")
    api = await api_token(kluis, "alice@example.org")
    async with (
        aiohttp.ClientSession() as s,
        s.delete(
            kluis.url(".account/api/apps"),
            params={"client_id": client_app.client_id},
            headers={"Authorization": f"Bearer {api}"},
        ) as r,
    ):
        assert r.status == 204
    assert await get_status(kluis, key, token["access_token"], "alice/app-doc") == 401
    # Signing in again afterwards gives the app a token that works.
    await asyncio.sleep(1.1)  # a token issued in the second of the revocation counts as revoked
    client, callback, verifier = await authorize(kluis, client_app)
    fresh = await fetch_token(client, kluis, callback, verifier, key)
    assert await get_status(kluis, key, fresh["access_token"], "alice/app-doc") == 200


async def test_a_revocation_another_process_wrote_holds_at_the_next_request(
    kluis: Kluis, people: None
) -> None:
    token, key, credential = await client_credentials_token(
        kluis, "alice@example.org", "alice", DPoPKey()
    )
    await put_private(kluis, key, token, "alice/elsewhere")
    # Another worker revokes the credential: it writes the record to the store the workers share
    # (not through this process's store, so nothing here hears of it) ...
    webid, client_id = kluis.url("alice/profile/card#me"), credential["clientId"]
    shared = kluis.app[PROVIDER].kv
    assert isinstance(shared, AnnouncingKeyValueStore)
    await Records(shared.inner, REVOCATIONS).put(
        record_key(webid, client_id), Revocation(webid, client_id, time.time()), ttl=60
    )
    # ... which this process does not read on every request ...
    assert await get_status(kluis, key, token, "alice/elsewhere") == 200
    # ... until that worker's change reaches this one through the feed.
    kluis.app[FEED].publish(
        RecordChanged(
            Change.UPDATE,
            REVOCATIONS.name,
            record_key(webid, client_id),
            Actor(webid, None, "another-worker-request"),
        )
    )
    assert await get_status(kluis, key, token, "alice/elsewhere") == 401
    # Other credentials of the same WebID keep working.
    other, other_key, _ = await client_credentials_token(
        kluis, "alice@example.org", "alice", DPoPKey()
    )
    assert await get_status(kluis, other_key, other, "alice/elsewhere") == 200


async def test_account_records_are_announced_with_the_request_and_no_secrets(
    kluis: Kluis,
) -> None:
    heard: list[RecordChanged] = []
    kluis.app[FEED].subscribe(lambda e: heard.append(e) if isinstance(e, RecordChanged) else None)
    created = await sign_up(kluis, "dora@example.org", "dora")
    api = await api_token(kluis, "dora@example.org")
    by_namespace = {e.namespace: e for e in heard}
    assert by_namespace["accounts"].key == created["accountId"]
    assert by_namespace["pod_names"].key == "dora"
    # an e-mail address is personal data, an API token a secret: neither goes on the feed
    assert by_namespace["emails"].change == Change.CREATE
    assert by_namespace["emails"].key == hashlib.sha256(b"dora@example.org").hexdigest()
    assert by_namespace["api_tokens"].key == hashlib.sha256(api.encode()).hexdigest()
    wire = "\n".join(encode(e) for e in heard)
    assert "dora@example.org" not in wire
    assert api not in wire
    assert "scrypt$" not in wire  # nor the password hash
    # every write names the request it was made in
    assert all(e.actor.request_id for e in heard)


async def test_revocations_follow_the_feed_whoever_wrote() -> None:
    kv, feed = MemoryKeyValueStore(), LocalFeed()
    revocations = Revocations(kv, keep=60)
    revocations.follow(feed)
    webid, key = "https://a.example/#me", record_key("https://a.example/#me", "app")
    now = time.time()
    records = Records(kv, REVOCATIONS)
    await records.put(key, Revocation(webid, "app", now), ttl=60)
    feed.publish(RecordChanged(Change.UPDATE, REVOCATIONS.name, key))
    # concurrent checks all wait for the re-read, none answers from the copy before it
    answers = await asyncio.gather(
        *(revocations.is_revoked(webid=webid, client_id="app", issued_at=now) for _ in range(5))
    )
    assert answers == [True] * 5
    await records.delete(key)  # gone elsewhere (a maintenance command, say)
    feed.publish(RecordChanged(Change.DELETE, REVOCATIONS.name, key))
    assert not await revocations.is_revoked(webid=webid, client_id="app", issued_at=now)
    # other namespaces' changes are none of its business
    feed.publish(RecordChanged(Change.UPDATE, "sessions", key))
    assert not await revocations.is_revoked(webid=webid, client_id="app", issued_at=now)


async def test_revocations_outlive_a_restart() -> None:
    kv = MemoryKeyValueStore()
    await Revocations(kv, keep=60).revoke(webid="https://a.example/#me", client_id="app")
    restarted = Revocations(kv, keep=60)
    await restarted.load()
    now = time.time()
    assert await restarted.is_revoked(
        webid="https://a.example/#me", client_id="app", issued_at=now - 5
    )
    assert not await restarted.is_revoked(
        webid="https://a.example/#me", client_id="app", issued_at=now + 5
    )
    assert not await restarted.is_revoked(
        webid="https://a.example/#me", client_id="b", issued_at=now - 5
    )


async def test_expired_refresh_token(kluis: Kluis, client_app: ClientApp, people: None) -> None:
    client, callback, verifier = await authorize(kluis, client_app, remember=True)
    key = DPoPKey()
    token = await fetch_token(client, kluis, callback, verifier, key)
    from pod.http.keys import PROVIDER
    from pod.idp.provider import _hash

    kv = kluis.app[PROVIDER].kv
    record = await kv.get("refresh", _hash(token["refresh_token"]))
    assert record is not None
    await kv.put("refresh", _hash(token["refresh_token"]), record, ttl=-1)  # it has expired
    token_url = kluis.url(".oidc/token")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
                "client_id": client_app.client_id,
            },
            headers={"DPoP": key.proof("POST", token_url)},
        ) as r,
    ):
        assert r.status == 400
        assert (await r.json())["error"] == "invalid_grant"


async def test_csrf_token_is_required(kluis: Kluis, people: None) -> None:
    async with browser_session() as browser:
        async with browser.get(kluis.url(".account/login")) as r:
            await r.text()
        async with browser.post(
            kluis.url(".account/login"),
            data={"email": "alice@example.org", "password": PASSWORD},
            allow_redirects=False,
        ) as r:
            assert r.status == 403
        async with browser.post(
            kluis.url(".account/login"),
            data={"csrf": "forged", "email": "alice@example.org", "password": PASSWORD},
            allow_redirects=False,
        ) as r:
            assert r.status == 403


async def test_denied_consent_grants_nothing(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    client = oauth_client(client_app)
    url, _ = client.create_authorization_url(
        kluis.url(".oidc/auth"), code_verifier=secrets.token_urlsafe(48)
    )
    callback = await browser_login(kluis, url, email="alice@example.org", decide="deny")
    params = parse_qs(urlsplit(callback).query)
    assert params["error"] == ["access_denied"]
    assert "code" not in params


async def test_remembered_consent_and_prompt_none(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    client = oauth_client(client_app)
    async with browser_session() as browser:
        url, _ = client.create_authorization_url(
            kluis.url(".oidc/auth"), code_verifier=secrets.token_urlsafe(48)
        )
        await browser_login(kluis, url, email="alice@example.org", remember=True, browser=browser)
        # the same browser, logged in, which let this app in: straight back with a code
        url, _ = client.create_authorization_url(
            kluis.url(".oidc/auth"), code_verifier=secrets.token_urlsafe(48), prompt="none"
        )
        async with browser.get(url, allow_redirects=False) as r:
            assert r.status == 303
            assert "code=" in r.headers["Location"]
    async with aiohttp.ClientSession() as s, s.get(url, allow_redirects=False) as r:
        # no session in this browser: login_required, through a page that shows where it goes
        assert r.status == 200
        params = parse_qs(urlsplit(return_link(await r.text())).query)
        assert params["error"] == ["login_required"]


async def test_no_automatic_redirect_to_an_app_nobody_let_in(
    kluis: Kluis, aiohttp_server: Any, people: None
) -> None:
    """Issue 10 item 12: anyone can publish a Client ID Document listing any redirect URI, so
    error answers to a never-approved one would make Kluis an open redirector."""
    state: dict[str, str] = {}

    async def document(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "client_id": state["base"] + "/id",
                "client_name": "Your Bank",
                "client_uri": "https://bank.example",
                "redirect_uris": ["https://evil.example/phish"],
                "token_endpoint_auth_method": "none",
            }
        )

    app = web.Application()
    app.router.add_get("/id", document)
    server = await aiohttp_server(app)
    state["base"] = str(server.make_url("")).rstrip("/")
    common = {"client_id": state["base"] + "/id", "redirect_uri": "https://evil.example/phish"}
    attempts = [
        {
            **common,
            "response_type": "code",
            "scope": "openid",
            "prompt": "none",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
        {**common, "response_type": "token", "scope": "openid"},
        {**common, "response_type": "code", "scope": "profile"},
    ]
    async with browser_session() as browser:
        for logged_in in (False, True):
            if logged_in:
                async with browser.get(kluis.url(".account/login")) as r:
                    token = csrf_of(await r.text())
                async with browser.post(
                    kluis.url(".account/login"),
                    data={"csrf": token, "email": "alice@example.org", "password": PASSWORD},
                    allow_redirects=False,
                ) as r:
                    assert r.status == 303
            for params in attempts:
                async with browser.get(
                    kluis.url(".oidc/auth"), params=params, allow_redirects=False
                ) as r:
                    assert r.status in (200, 400), (params, r.headers.get("Location"))
                    page = await r.text()
                    assert "Return to https://evil.example" in page
                    assert "Location" not in r.headers


async def test_dynamic_registration(kluis: Kluis) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(
            kluis.url(".oidc/reg"),
            json={"redirect_uris": ["https://app.example/cb"], "client_name": "Registered"},
        ) as r:
            assert r.status == 201
            body = await r.json()
        assert body["client_secret"]
        assert body["redirect_uris"] == ["https://app.example/cb"]
        async with s.post(kluis.url(".oidc/reg"), json={"redirect_uris": ["not a uri"]}) as r:
            assert r.status == 400
            assert (await r.json())["error"] == "invalid_client_metadata"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("client_name", "x" * 5000),
        ("redirect_uris", [f"https://app.example/cb{i}" for i in range(100)]),
        ("redirect_uris", ["https://app.example/" + "x" * 3000]),
        ("logo_uri", "javascript:alert(1)"),
        ("client_uri", ["not", "a", "string"]),
        ("post_logout_redirect_uris", ["https://app.example/bye"] * 11),
        ("token_endpoint_auth_method", "private_key_jwt"),
        ("grant_types", ["implicit"]),
    ],
)
async def test_registration_refuses_oversized_or_invalid_metadata(
    kluis: Kluis, field: str, value: Any
) -> None:
    """Issue 10 item 7: anyone may register, so what is kept is checked and bounded."""
    metadata: dict[str, Any] = {"redirect_uris": ["https://app.example/cb"], field: value}
    async with aiohttp.ClientSession() as s, s.post(kluis.url(".oidc/reg"), json=metadata) as r:
        assert r.status == 400, await r.text()
        assert (await r.json())["error"] == "invalid_client_metadata"
    assert await kluis.app[PROVIDER].kv.items("clients") == []


async def test_registration_keeps_only_what_it_uses(kluis: Kluis) -> None:
    metadata = {
        "redirect_uris": ["https://app.example/cb"],
        "client_name": "Registered",
        "contacts": ["x" * 2000] * 7,
        "software_statement": "y" * 1000,
    }
    async with aiohttp.ClientSession() as s, s.post(kluis.url(".oidc/reg"), json=metadata) as r:
        assert r.status == 201
        client_id = (await r.json())["client_id"]
    record = await kluis.app[PROVIDER].kv.get("clients", client_id)
    assert record is not None
    assert set(record) <= {
        "client_id",
        "redirect_uris",
        "post_logout_redirect_uris",
        "token_endpoint_auth_method",
        "client_name",
        "secret_hash",
    }


async def test_registration_is_limited_per_address(kluis: Kluis) -> None:
    async with aiohttp.ClientSession() as s:
        statuses = []
        for _ in range(REGISTRATIONS_PER_HOUR + 2):
            async with s.post(
                kluis.url(".oidc/reg"), json={"redirect_uris": ["https://app.example/cb"]}
            ) as r:
                statuses.append(r.status)
    assert statuses == [201] * REGISTRATIONS_PER_HOUR + [429, 429]
    assert len(await kluis.app[PROVIDER].kv.items("clients")) == REGISTRATIONS_PER_HOUR


async def test_unused_registrations_expire_and_used_ones_stay() -> None:
    clients = Clients(
        MemoryKeyValueStore(),
        Fetcher(timeout=1, allow_private_networks=False),
        registration_lifetime=0.3,
    )
    unused, _ = await clients.register({"redirect_uris": ["https://a.example/cb"]}, address="a")
    used, _ = await clients.register({"redirect_uris": ["https://b.example/cb"]}, address="a")
    await clients.mark_used(used.client_id)
    await asyncio.sleep(0.4)
    assert (await clients.find(used.client_id)).client_id == used.client_id
    with pytest.raises(InvalidClientError):
        await clients.find(unused.client_id)


async def test_signing_in_with_a_registered_client_keeps_it(kluis: Kluis, people: None) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            kluis.url(".oidc/reg"),
            json={
                "redirect_uris": ["https://app.example/cb"],
                "client_name": "Test App",
                "token_endpoint_auth_method": "none",
            },
        ) as r,
    ):
        client_id = (await r.json())["client_id"]
    kv = kluis.app[PROVIDER].kv
    assert not (await kv.get("clients", client_id) or {}).get("used")
    client = OAuth2Session(
        client_id=client_id,
        redirect_uri="https://app.example/cb",
        scope="openid webid",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    url, _ = client.create_authorization_url(
        kluis.url(".oidc/auth"), code_verifier=secrets.token_urlsafe(48)
    )
    callback = await browser_login(kluis, url, email="alice@example.org")
    assert "code=" in callback
    assert (await kv.get("clients", client_id) or {}).get("used") is True


async def test_signup_seeds_a_pod(kluis: Kluis) -> None:
    created = await sign_up(kluis, "carol@example.org", "carol")
    assert created["webId"] == kluis.url("carol/profile/card#me")
    assert created["podRoot"] == kluis.url("carol/")
    assert created["issuer"] == kluis.issuer
    async with aiohttp.ClientSession() as s:
        async with s.get(kluis.url("carol/profile/card"), headers={"Accept": "text/turtle"}) as r:
            assert r.status == 200
            card = await r.text()
        from rdflib import Graph, URIRef

        me = URIRef(created["webId"])
        # As every client does, relative IRIs resolve against the document's URL.
        graph = Graph().parse(data=card, format="turtle", publicID=kluis.url("carol/profile/card"))
        predicates = {str(p) for p in graph.predicates(me)}
        for needed in (
            "http://www.w3.org/ns/solid/terms#oidcIssuer",
            "http://www.w3.org/ns/pim/space#storage",
            "http://www.w3.org/ns/ldp#inbox",
            "http://www.w3.org/ns/solid/terms#publicTypeIndex",
            "http://www.w3.org/ns/solid/terms#privateTypeIndex",
            "http://www.w3.org/ns/pim/space#preferencesFile",
        ):
            assert needed in predicates
        async with s.get(kluis.url("carol/")) as r:
            assert r.status == 401  # the pod is private
        async with s.get(kluis.url("carol/settings/prefs.ttl")) as r:
            assert r.status == 401
        async with s.get(kluis.url("carol/settings/publicTypeIndex.ttl")) as r:
            assert r.status == 200
        async with s.post(kluis.url("carol/inbox/"), data="<#n> <#m> 1 .", headers=TURTLE) as r:
            assert r.status == 201  # anyone may append to the inbox
        async with s.get(kluis.url("carol/inbox/")) as r:
            assert r.status == 401  # but not read it
        async with s.get(kluis.url("carol/.well-known/solid")) as r:
            assert r.status == 200
    # taken names and bad names are refused
    async with aiohttp.ClientSession() as s:
        for pod, status in (("carol", 409), ("Bad Name", 400), ("well-known", 400)):
            async with s.post(
                kluis.url(".account/api/accounts"),
                json={
                    "email": f"x{secrets.token_hex(3)}@example.org",
                    "password": PASSWORD,
                    "pod": pod,
                },
            ) as r:
                assert r.status == status, (pod, await r.text())


async def test_logout_with_id_token_hint(kluis: Kluis, client_app: ClientApp, people: None) -> None:
    client = oauth_client(client_app)
    async with browser_session() as browser:
        verifier = secrets.token_urlsafe(48)
        url, _ = client.create_authorization_url(kluis.url(".oidc/auth"), code_verifier=verifier)
        callback = await browser_login(kluis, url, email="alice@example.org", browser=browser)
        token = await fetch_token(client, kluis, callback, verifier, DPoPKey())
        params = {
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": client_app.base + "/bye",
            "state": "z",
        }
        # Item 17: a link, from anywhere, only asks; nothing is logged out yet ...
        async with browser.get(
            kluis.url(".oidc/session/end"), params=params, allow_redirects=False
        ) as r:
            assert r.status == 200
            page = await r.text()
            assert "Log out of Kluis?" in page
            assert client_app.base in page  # where the browser goes afterwards
        async with browser.get(kluis.url(".account/"), allow_redirects=False) as r:
            assert r.status == 200  # still logged in
        # ... as does an app's POST (RP-Initiated Logout allows both), and a wrong token fails ...
        async with browser.post(
            kluis.url(".oidc/session/end"), data=params, allow_redirects=False
        ) as r:
            assert r.status == 200
            assert "Log out of Kluis?" in await r.text()
        async with browser.post(
            kluis.url(".oidc/session/end"),
            data={**params, "csrf": "forged"},
            allow_redirects=False,
        ) as r:
            assert r.status == 403
        async with browser.get(kluis.url(".account/"), allow_redirects=False) as r:
            assert r.status == 200  # still logged in
        # ... and confirming logs out, then follows the registered redirect.
        async with browser.post(
            kluis.url(".oidc/session/end"),
            data={**params, "csrf": csrf_of(page)},
            allow_redirects=False,
        ) as r:
            assert r.status == 303
            assert r.headers["Location"] == client_app.base + "/bye?state=z"
        async with browser.get(kluis.url(".account/"), allow_redirects=False) as r:
            assert r.status == 303  # logged out: sent to log in
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            kluis.url(".oidc/session/end"),
            params={
                "id_token_hint": token["id_token"],
                "post_logout_redirect_uri": "https://evil.example/",
            },
            allow_redirects=False,
        ) as r,
    ):
        assert r.status == 400


async def test_userinfo(kluis: Kluis, people: None) -> None:
    token, key, _ = await client_credentials_token(kluis, "alice@example.org", "alice", DPoPKey())
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            kluis.url(".oidc/userinfo"),
            headers=dpop_headers(key, "GET", kluis.url(".oidc/userinfo"), token),
        ) as r,
    ):
        assert r.status == 200
        assert (await r.json())["webid"] == kluis.url("alice/profile/card#me")


async def test_key_rotation_keeps_tokens_valid(kluis: Kluis, people: None) -> None:
    token, key, _ = await client_credentials_token(kluis, "alice@example.org", "alice", DPoPKey())
    await put_private(kluis, key, token, "alice/rot/doc")
    from pod.http.keys import PROVIDER

    await kluis.app[PROVIDER].keys.rotate()
    assert await get_status(kluis, key, token, "alice/rot/doc") == 200
    fresh, fresh_key, _ = await client_credentials_token(
        kluis, "alice@example.org", "alice", DPoPKey()
    )
    assert await get_status(kluis, fresh_key, fresh, "alice/rot/doc") == 200
    async with aiohttp.ClientSession() as s, s.get(kluis.url(".oidc/jwks")) as r:
        assert len((await r.json())["keys"]) == 2


@pytest.mark.parametrize("kluis", [{"allow_bearer": True}], indirect=True)
async def test_bearer_tokens_when_allowed(kluis: Kluis, people: None) -> None:
    """Without a DPoP proof the token is a Bearer token; a server that allows them takes it."""
    api = await api_token(kluis, "alice@example.org")
    async with aiohttp.ClientSession() as s:
        async with s.post(
            kluis.url(".account/api/credentials"),
            json={"webId": kluis.url("alice/profile/card#me"), "name": "curl"},
            headers={"Authorization": f"Bearer {api}"},
        ) as r:
            credential = await r.json()
        async with s.post(
            kluis.url(".oidc/token"),
            data={
                "grant_type": "client_credentials",
                "client_id": credential["clientId"],
                "client_secret": credential["clientSecret"],
            },
        ) as r:
            token = await r.json()
        assert token["token_type"] == "Bearer"
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        async with s.put(
            kluis.url("alice/notes/card"), data="<#a> <#b> 1 .", headers={**TURTLE, **bearer}
        ) as r:
            assert r.status == 201
        async with s.get(kluis.url("alice/notes/card"), headers=bearer) as r:
            assert r.status == 200


async def test_bearer_tokens_refused_by_default(kluis: Kluis, people: None) -> None:
    token, _, _ = await client_credentials_token(kluis, "alice@example.org", "alice", DPoPKey())
    async with (
        aiohttp.ClientSession() as s,
        s.get(kluis.url("alice/"), headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        assert r.status == 401


async def test_max_age_and_prompt_login_force_a_fresh_login(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    async with browser_session() as browser:
        # log in once, remembering consent
        client = oauth_client(client_app)
        url, _ = client.create_authorization_url(
            kluis.url(".oidc/auth"), code_verifier=secrets.token_urlsafe(48)
        )
        async with browser.get(url, allow_redirects=False) as r:
            login = r.headers["Location"]
        async with browser.get(kluis.url(login)) as r:
            page = await r.text()
        auth = parse_qs(urlsplit(login).query)["auth"][0]
        async with browser.post(
            kluis.url(".account/login"),
            data={
                "csrf": csrf_of(page),
                "auth": auth,
                "email": "alice@example.org",
                "password": PASSWORD,
            },
            allow_redirects=False,
        ) as r:
            consent = r.headers["Location"]
        async with browser.get(kluis.url(consent)) as r:
            page = await r.text()
        async with browser.post(
            kluis.url(".account/consent"),
            data={
                "csrf": csrf_of(page),
                "auth": auth,
                "decision": "allow",
                "remember": "yes",
                "webid": kluis.url("alice/profile/card#me"),
            },
            allow_redirects=False,
        ) as r:
            assert r.headers["Location"].startswith(client_app.redirect_uri)
        # the session and the remembered consent let a new request straight through...
        url, _ = client.create_authorization_url(
            kluis.url(".oidc/auth"), code_verifier=secrets.token_urlsafe(48)
        )
        async with browser.get(url, allow_redirects=False) as r:
            assert r.headers["Location"].startswith(client_app.redirect_uri)
            assert "code=" in r.headers["Location"]
        # ...unless the app asks for a fresh log-in
        for extra in ({"prompt": "login"}, {"max_age": "0"}):
            await asyncio.sleep(1.1 if "max_age" in extra else 0)
            url, _ = client.create_authorization_url(
                kluis.url(".oidc/auth"), code_verifier=secrets.token_urlsafe(48), **extra
            )
            async with browser.get(url, allow_redirects=False) as r:
                assert "/.account/login?auth=" in r.headers["Location"], extra
                auth = parse_qs(urlsplit(r.headers["Location"]).query)["auth"][0]
            # Item 13: opening the consent page of that request directly skips nothing.
            async with browser.get(
                kluis.url(f".account/consent?auth={auth}"), allow_redirects=False
            ) as r:
                assert r.status == 303
                assert "/.account/login?auth=" in r.headers["Location"]
            async with browser.get(kluis.url(".account/")) as r:
                token = csrf_of(await r.text())
            async with browser.post(
                kluis.url(".account/consent"),
                data={
                    "csrf": token,
                    "auth": auth,
                    "decision": "allow",
                    "webid": kluis.url("alice/profile/card#me"),
                },
                allow_redirects=False,
            ) as r:
                assert r.status == 303
                assert "/.account/login?auth=" in r.headers["Location"], extra
        # and prompt=consent shows the consent page again
        url, _ = client.create_authorization_url(
            kluis.url(".oidc/auth"), code_verifier=secrets.token_urlsafe(48), prompt="consent"
        )
        async with browser.get(url, allow_redirects=False) as r:
            assert "/.account/consent?auth=" in r.headers["Location"]


@pytest.mark.parametrize(
    "kluis", [{"static_clients": "STATIC"}], indirect=True, ids=["static-clients"]
)
async def test_static_client(kluis: Kluis, people: None) -> None:
    from pod.http.keys import PROVIDER

    client = await kluis.app[PROVIDER].clients.find("static-app")
    assert client.redirect_uris == ("https://static.example/cb",)
    assert client.check_secret("s3cret")
    assert not client.check_secret("wrong")


# --- response types ---------------------------------------------------------------------

STATIC_REDIRECT = "https://static.example/cb"


def static_request(**params: str) -> dict[str, str]:
    return {
        "client_id": "static-app",
        "redirect_uri": STATIC_REDIRECT,
        "scope": "openid webid",
        "state": "st-1",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
        **params,
    }


@pytest.mark.parametrize(
    "kluis", [{"static_clients": "STATIC"}], indirect=True, ids=["static-clients"]
)
@pytest.mark.parametrize(
    "response_type", ["id_token code", "code id_token", "token", "id_token", "code token", ""]
)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unsupported_response_types_go_back_to_the_app(
    kluis: Kluis, response_type: str, method: str
) -> None:
    """RFC 6749 §4.1.2.1: an unsupported response type (in any order, OAuth 2.0 Multiple
    Response Types §2) is an error at the client's registered redirect URI; authlib before 1.6
    made building that error fail (500)."""
    params = static_request(response_type=response_type)
    async with aiohttp.ClientSession() as s:
        if method == "GET":
            sent = s.get(kluis.url(".oidc/auth"), params=params, allow_redirects=False)
        else:
            sent = s.post(kluis.url(".oidc/auth"), data=params, allow_redirects=False)
        async with sent as r:
            assert r.status == 303, await r.text()
            location = r.headers["Location"]
    assert location.startswith(STATIC_REDIRECT + "?")
    answer = parse_qs(urlsplit(location).query)
    assert answer["error"] == ["unsupported_response_type"]
    assert answer["state"] == ["st-1"]
    assert answer["iss"] == [kluis.issuer]
    assert "response_types_supported" in answer["error_description"][0]


async def test_discovery_advertises_only_the_code_flow(kluis: Kluis) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(kluis.url(".well-known/openid-configuration")) as r,
    ):
        config = await r.json()
    assert config["response_types_supported"] == ["code"]
    assert config["response_modes_supported"] == ["query"]


async def test_unsupported_response_type_to_an_unregistered_redirect_is_a_page(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    """Never an error redirect to a redirect URI the client did not register."""
    params = {
        "client_id": client_app.client_id,
        "redirect_uri": "https://elsewhere.example/cb",
        "response_type": "code id_token",
        "scope": "openid",
    }
    async with (
        aiohttp.ClientSession() as s,
        s.get(kluis.url(".oidc/auth"), params=params, allow_redirects=False) as r,
    ):
        assert r.status == 400
        assert "Location" not in r.headers
        assert "not registered" in await r.text()


@pytest.mark.parametrize(
    "redirect_uri", ["https://app.example/it's", "https://app.example/caf\u00e9", 'x"y\\z']
)
async def test_values_an_oauth_error_cannot_carry_are_not_a_500(
    kluis: Kluis, client_app: ClientApp, people: None, redirect_uri: str
) -> None:
    """authlib refuses `"`, `\\` and non-ASCII in error_description (RFC 6749 §5.2) by raising;
    an error naming what the client sent must still be a 400."""
    params = {
        "client_id": client_app.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid",
    }
    async with (
        aiohttp.ClientSession() as s,
        s.get(kluis.url(".oidc/auth"), params=params, allow_redirects=False) as r,
    ):
        assert r.status == 400
        assert "is not registered for this client" in await r.text()
    token_url = kluis.url(".oidc/token")
    key = DPoPKey()
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            token_url,
            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
            headers={"DPoP": sign_proof(key.key, "POST", "https://caf\u00e9.example/")},
        ) as r,
    ):
        assert r.status == 400
        body = await r.json()
    assert body["error"] == "invalid_request"
    assert "caf%C3%A9" in body["error_description"]


# --- offline access: only for apps the person keeps connected ---------------------------


async def account_page(kluis: Kluis, browser: aiohttp.ClientSession) -> str:
    async with browser.get(kluis.url(".account/")) as r:
        assert r.status == 200
        assert str(r.url) == kluis.url(".account/")
        return await r.text()


def listed_apps(page: str) -> str:
    """The Connected apps section of the account page."""
    found = re.search(r'<section aria-labelledby="apps">(.*?)</section>', page, re.S)
    assert found, page
    return found[1]


async def test_allowing_once_gives_no_refresh_token(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    """An app allowed once, without "Keep ... connected", got a rotating 14-day refresh token
    (it asked for offline_access) that the account page did not list."""
    async with browser_session() as browser:
        client, callback, verifier = await authorize(kluis, client_app, browser=browser)
        key = DPoPKey()
        token = await fetch_token(client, kluis, callback, verifier, key)
        assert "refresh_token" not in token
        assert token["scope"].split() == ["openid", "webid"]  # RFC 6749 §3.3: what it got
        await put_private(kluis, key, token["access_token"], "alice/once")  # it works meanwhile
        apps = listed_apps(await account_page(kluis, browser))
    assert client_app.client_id not in apps
    assert "No app is connected" in apps


async def test_a_connected_app_is_listed_and_disconnecting_ends_its_tokens(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    async with browser_session() as browser:
        client, callback, verifier = await authorize(
            kluis, client_app, remember=True, browser=browser
        )
        key = DPoPKey()
        token = await fetch_token(client, kluis, callback, verifier, key)
        assert "offline_access" in token["scope"].split()
        await put_private(kluis, key, token["access_token"], "alice/kept")
        page = await account_page(kluis, browser)
        apps = listed_apps(page)
        assert client_app.client_id in apps
        assert "Uses your data while you are away." in apps
        assert "Signs you in without asking again." in apps
        async with browser.post(
            kluis.url(".account/apps/revoke"),
            data={"csrf": csrf_of(page), "client_id": client_app.client_id},
        ) as r:
            assert r.status == 200
            assert "No app is connected" in listed_apps(await r.text())
    assert await get_status(kluis, key, token["access_token"], "alice/kept") == 401
    status, body = await refresh_tokens(kluis, client_app, token["refresh_token"], key)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_every_app_holding_a_refresh_token_is_listed(
    kluis: Kluis, client_app: ClientApp, people: None
) -> None:
    """A refresh token without a remembered consent (one issued before one-time consent stopped
    giving them) is listed too, and disconnecting the app ends it."""
    async with browser_session() as browser:
        client, callback, verifier = await authorize(
            kluis, client_app, remember=True, browser=browser
        )
        key = DPoPKey()
        token = await fetch_token(client, kluis, callback, verifier, key)
        kv = kluis.app[PROVIDER].kv
        for consent, record in await kv.items("consents"):
            if record["client_id"] == client_app.client_id:
                await kv.delete("consents", consent)
        page = await account_page(kluis, browser)
        apps = listed_apps(page)
        assert client_app.client_id in apps
        assert "Uses your data while you are away." in apps
        assert "Signs you in without asking again." not in apps
        async with browser.post(
            kluis.url(".account/apps/revoke"),
            data={"csrf": csrf_of(page), "client_id": client_app.client_id},
        ) as r:
            assert r.status == 200
    status, body = await refresh_tokens(kluis, client_app, token["refresh_token"], key)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert await get_status(kluis, key, token["access_token"], "alice/x") == 401


async def test_a_retired_signing_key_stops_its_kept_tokens(kluis: Kluis, people: None) -> None:
    """A verified token is kept, but only while our signing keys are the ones it verified with:
    when the ring changes (here, another worker leaves only a new key), the next request checks
    it again and a token the removed key signed is refused."""
    token, key, _ = await client_credentials_token(kluis, "alice@example.org", "alice", DPoPKey())
    await put_private(kluis, key, token, "alice/signed-by-old")
    tokens = kluis.app[AUTHENTICATOR].tokens
    assert token in tokens.verified._entries
    shared = kluis.app[PROVIDER].kv
    assert isinstance(shared, AnnouncingKeyValueStore)
    signing = kluis.app[PROVIDER].keys
    old_kids = {k.kid for k in signing.key_set().keys}
    await Records(shared, IDP).put("signing_keys", KeyRing((_new_key(),)))
    assert len(tokens.verified) == 0  # the announcement emptied the cache
    for _ in range(100):  # the keys are re-read in a task of their own
        if not old_kids & {k.kid for k in signing.key_set().keys}:
            break
        await asyncio.sleep(0.01)
    assert await get_status(kluis, key, token, "alice/signed-by-old") == 401
