"""The set-up of the grant scenarios (h, hw; issue 14): two more accounts, an app that signs
them in, 10,000 grants in the owner's pod, and the checks that each GET is allowed as intended.

A grant names a recipient WebID and the app (client id) it may act through, an http(s) IRI
(`POST <base>.kluis/consent/<pod>/grants`). Kluis's client credentials have client ids of their
own form (`kluis-cc-...`), which the grant API refuses, so the grantee signs in as a person does
with an app: the authorization code flow with PKCE and a DPoP-bound token
(https://solidproject.org/TR/solid-oidc#authorization-code-pkce-flow), through the account's
login and consent pages. The app is a static client of Kluis (`--static-clients`, a file the
benchmark writes) whose client id is a URL, so Kluis never fetches a Client ID Document. The
member of hw signs in through the same app, so h and hw send tokens of the same kind.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp

from benchmarks.dpop import DPoPKey

GRANTS = 10_000  # in the owner's pod: the grantee's one and GRANTS - 1 to others
CONCURRENCY = 16  # grant API requests in flight during set-up
PURPOSE = "https://w3id.org/dpv#ServiceProvision"
EXPIRES = "2099-01-01T00:00:00Z"  # beyond any run
# The app the grantee and the member sign in with: a public client (PKCE, no secret) that Kluis
# knows from its static client list. Its redirect URI is never visited: the code is read from
# the Location that would send the browser there.
APP_ID = "https://app.bench.example/id"
APP_REDIRECT = "https://app.bench.example/callback"
GRANTEE_EMAIL, GRANTEE_POD = "bob@example.org", "bob"
MEMBER_EMAIL, MEMBER_POD = "carol@example.org", "carol"
# The others' grants: each to a reader of its own, through one of OTHER_APPS apps.
OTHER_APPS = 20
# The document of h and hw, in the owner's pod: the owner has full control and the member
# (hw) Read; the public nothing, and the grantee (h) is not named, so only its grant lets it in.
SHARED_ACL = """\
@prefix acl: <http://www.w3.org/ns/auth/acl#>.
<#owner> a acl:Authorization;
    acl:agent <{owner}>;
    acl:accessTo <{document}>;
    acl:mode acl:Read, acl:Write, acl:Control.
<#member> a acl:Authorization;
    acl:agent <{member}>;
    acl:accessTo <{document}>;
    acl:mode acl:Read.
"""
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def static_clients() -> list[dict[str, Any]]:
    """Kluis's static client list (setting `static_clients`): the benchmark's app."""
    return [
        {
            "client_id": APP_ID,
            "client_name": "Kluis benchmark app",
            "redirect_uris": [APP_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        }
    ]


def write_static_clients(file: Path) -> Path:
    file.write_text(json.dumps(static_clients(), indent=2))
    return file


def grant_body(*, recipient: str, client: str, resource: str) -> dict[str, Any]:
    """What the owner POSTs to the grant API for one grant: read `resource`, for PURPOSE."""
    return {
        "recipient": recipient,
        "client": client,
        "resources": [resource],
        "inherit": False,
        "modes": ["read"],
        "purposes": [PURPOSE],
        "expires": EXPIRES,
    }


def other_grant(n: int, *, resource: str) -> dict[str, Any]:
    """The n-th grant to someone else: reader n, through app n mod OTHER_APPS. None of them
    names the grantee or the benchmark's app, so none can let h's requests in."""
    return grant_body(
        recipient=f"https://reader-{n}.bench.example/profile/card#me",
        client=f"https://app-{n % OTHER_APPS}.bench.example/id",
        resource=resource,
    )


def grants_api(base: str, pod: str) -> str:
    return f"{base}.kluis/consent/{pod}/grants"


@dataclass(frozen=True, slots=True)
class GivenGrants:
    count: int
    seconds: float  # wall-clock time of the grant API requests


async def give_grants(
    session: aiohttp.ClientSession,
    api: str,
    *,
    owner: Callable[[str, str], dict[str, str]],
    first: dict[str, Any],
    others: Callable[[int], dict[str, Any]],
    count: int = GRANTS,
    concurrency: int = CONCURRENCY,
) -> GivenGrants:
    """Give `first`, then `count` - 1 grants `others(n)` with `concurrency` requests in flight,
    as the owner (`owner(method, url)`: its Authorization and DPoP headers). Each must be 201."""
    started = time.monotonic()

    async def give(body: dict[str, Any]) -> None:
        async with session.post(api, json=body, headers=owner("POST", api)) as response:
            if response.status != 201 or "Location" not in response.headers:
                raise RuntimeError(
                    f"setup: grant API answered {response.status}: {await response.text()}"
                )

    # Alone first: the first grant makes the pod's consent container and its ACL.
    await give(first)
    limit = asyncio.Semaphore(concurrency)

    async def other(n: int) -> None:
        async with limit:
            await give(others(n))

    await asyncio.gather(*(other(n) for n in range(1, count)))
    return GivenGrants(count, round(time.monotonic() - started, 1))


def code_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2): base64url(SHA-256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    if found is None:
        raise RuntimeError(f"setup: no CSRF token on the page: {page[:500]!r}")
    return found.group(1)


async def app_token(
    base: str, *, email: str, password: str, webid: str, key: DPoPKey
) -> dict[str, Any]:
    """Sign `email` in with the benchmark's app, as a person in a browser would; return the
    token response (a DPoP-bound access token for `webid`, bound to `key`)."""
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(12)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": APP_ID,
            "redirect_uri": APP_REDIRECT,
            "scope": "openid webid",
            "state": state,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    # The browser keeps cookies from 127.0.0.1 too (the session and its CSRF token).
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:

        async def see(location: str) -> tuple[str, str]:
            """GET a page Kluis sent the browser to; its URL and HTML."""
            url = base + location.lstrip("/") if location.startswith("/") else location
            async with browser.get(url) as response:
                return url, await response.text()

        async def submit(url: str, form: dict[str, str]) -> str:
            async with browser.post(url, data=form, allow_redirects=False) as response:
                if response.status != 303:
                    raise RuntimeError(
                        f"setup: {url} answered {response.status}: {await response.text()}"
                    )
                return response.headers["Location"]

        async with browser.get(f"{base}.oidc/auth?{query}", allow_redirects=False) as response:
            if response.status != 303:
                raise RuntimeError(f"setup: authorize: {response.status} {await response.text()}")
            login = response.headers["Location"]
        auth = parse_qs(urlsplit(login).query)["auth"][0]
        _, page = await see(login)
        form = {"csrf": csrf_of(page), "auth": auth, "email": email, "password": password}
        consent = await submit(f"{base}.account/login", form)
        _, page = await see(consent)
        form = {"csrf": csrf_of(page), "auth": auth, "webid": webid, "decision": "allow"}
        callback = await submit(f"{base}.account/consent", form)
    if not callback.startswith(APP_REDIRECT):
        raise RuntimeError(f"setup: the sign-in ended at {callback}, not the app")
    params = parse_qs(urlsplit(callback).query)
    if params.get("state") != [state] or "code" not in params:
        raise RuntimeError(f"setup: the app got no code: {callback}")
    token_url = f"{base}.oidc/token"
    form = {
        "grant_type": "authorization_code",
        "code": params["code"][0],
        "redirect_uri": APP_REDIRECT,
        "client_id": APP_ID,
        "code_verifier": verifier,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(token_url, data=form, headers={"DPoP": key.proof("POST", token_url)}) as r,
    ):
        issued: dict[str, Any] = await r.json()
    if r.status != 200 or issued.get("token_type") != "DPoP":
        raise RuntimeError(f"setup: no DPoP-bound token for {email}: {r.status} {issued}")
    return issued


def wac_allow_user(header: str) -> set[str]:
    """The modes of `user="..."` in a WAC-Allow header (https://solidproject.org/TR/wac#wac-allow),
    empty when it names none."""
    found = re.search(r'user="([^"]*)"', header)
    return set(found.group(1).split()) if found else set()
