"""User content never acts with the account's authority (pod/http/middlewares.py), over HTTP.

Every response (pod resources of any media type, containers, errors, preflights) carries
`Content-Security-Policy: sandbox` and `X-Content-Type-Options: nosniff`, except the server's own
pages, which keep their strict policy. Every unsafe request to `.account/` that a browser sent for
a page of another origin (by `Sec-Fetch-Site`, else `Origin`, `null` included) is refused with 403
before anything is read or changed; the same requests from the server's own pages, or from no
page at all (the CLI, curl), work. tests/idp/test_browser_isolation.py runs the attack
this prevents in Chromium.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from aiohttp.web import Application, Request
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pod.config import Settings
from pod.http.middlewares import ACCOUNT, SAFE_METHODS, is_from_own_origin
from pod.idp.provider import origin_of
from tests.conftest import POD, Client
from tests.idp.conftest import PASSWORD, csrf_of
from tests.support import BASE_URL

PROPERTY = hypothesis_settings(max_examples=300, deadline=None, database=None)
OWN_ORIGIN: Final = "http://pod.example"
SANDBOX: Final = "sandbox"
ATTACK: Final = "<script>fetch('/.account/').then(r => r.text()).then(alert)</script>"

CONTENT: Final = {
    "html": ("text/html", f"<!doctype html><title>hi</title>{ATTACK}"),
    "svg": (
        "image/svg+xml",
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>',
    ),
    "xhtml": (
        "application/xhtml+xml",
        f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{ATTACK}</body></html>',
    ),
    "xml": ("application/xml", "<doc><script>alert(1)</script></doc>"),
    "plain": ("text/plain", ATTACK),
    "octets": ("application/octet-stream", ATTACK),
    "turtle": ("text/turtle", '<#it> <#says> "<script>alert(1)</script>" .'),
}

# A browser page of another origin, as the browser describes it; `null` is a sandboxed document.
FOREIGN: Final = {
    "cross-site": {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    "same-site": {"Sec-Fetch-Site": "same-site", "Origin": "http://pod.example:8080"},
    "opaque": {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
    "origin-only": {"Origin": "https://evil.example"},
    "null-only": {"Origin": "null"},
    "other-port-only": {"Origin": "http://pod.example:8080"},
    "other-scheme-only": {"Origin": "https://pod.example"},
    "fetch-site-lies-about-origin": {"Sec-Fetch-Site": "cross-site", "Origin": OWN_ORIGIN},
}
# This server's own pages, as a browser describes them.
OWN: Final = {
    "fetch-metadata": {"Sec-Fetch-Site": "same-origin", "Origin": OWN_ORIGIN},
    "origin-only": {"Origin": OWN_ORIGIN},
    "user-typed": {"Sec-Fetch-Site": "none"},
    "no-browser": {},
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # scrypt's default cost proves nothing here and takes a tenth of a second per sign-up.
    return dataclasses.replace(settings, password_cost=10)


def assert_isolated(r: ClientResponse) -> None:
    assert r.headers.getall("Content-Security-Policy") == [SANDBOX], (r.status, r.url)
    assert r.headers["X-Content-Type-Options"] == "nosniff", (r.status, r.url)


# --- every response is sandboxed ---------------------------------------------------------


@pytest.mark.parametrize("kind", CONTENT)
async def test_every_pod_resource_is_sandboxed_and_never_sniffed(client: Client, kind: str) -> None:
    content_type, body = CONTENT[kind]
    path = f"{POD}page-{kind}"
    r = await client.put(path, data=body, headers={"Content-Type": content_type})
    assert r.status == 201, await r.text()
    assert_isolated(r)
    for method in ("GET", "HEAD"):
        r = await client.request(method, path)  # the owner
        assert r.status == 200
        assert r.headers["Content-Type"].startswith(content_type)
        assert_isolated(r)
        r = await client.request(method, path, as_agent=None)  # anyone: 401
        assert r.status == 401
        assert_isolated(r)
    r = await client.get(path, headers={"Origin": "https://app.example"})  # an app reads it
    assert r.status == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert_isolated(r)


async def test_containers_errors_and_server_endpoints_are_sandboxed(client: Client) -> None:
    r = await client.put(POD + "public/a.html", data=ATTACK, headers={"Content-Type": "text/html"})
    assert r.status == 201
    checks: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", POD, {}, 200),
        ("GET", POD, {"Accept": "text/html"}, 406),
        ("GET", POD + "public/", {"Accept": "application/ld+json"}, 200),
        ("GET", POD + "missing.html", {}, 404),
        ("GET", POD + "a%2Fb", {}, 400),
        ("DELETE", POD + "public/", {}, 409),
        ("POST", POD + "public/a.html", {"Content-Type": "text/html"}, 405),
        ("OPTIONS", POD + "public/a.html", {}, 204),
        (
            "OPTIONS",
            POD + "public/a.html",
            {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"},
            204,
        ),
        ("GET", "/.well-known/openid-configuration", {}, 200),
        ("GET", "/.oidc/jwks", {}, 200),
        ("GET", "/.oidc/userinfo", {}, 200),
        ("GET", "/.account/api/me", {}, 401),
        ("GET", "/.account/", {}, 303),
    ]
    for method, path, headers, status in checks:
        r = await client.request(method, path, headers=headers, allow_redirects=False)
        assert r.status == status, (method, path, await r.text())
        assert_isolated(r)


async def test_the_servers_own_pages_keep_their_strict_policy(client: Client) -> None:
    for path in ("/.account/login", "/.account/signup"):
        r = await client.get(path, as_agent=None)
        assert r.status == 200
        [policy] = r.headers.getall("Content-Security-Policy")
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src" not in policy  # no script at all (default-src 'none')
        assert r.headers["X-Content-Type-Options"] == "nosniff"


# --- the account pages accept changes from their own pages only ---------------------------


def browser(client: Client) -> TestClient[Request, Application]:
    """The raw test client: a cookie jar and no DPoP, as a browser on the account pages."""
    return client.client


async def sign_up_on_the_page(client: Client, email: str, pod: str) -> str:
    """Sign up through the form (own origin); the account page's CSRF token."""
    http = browser(client)
    r = await http.get("/.account/signup")
    r = await http.post(
        "/.account/signup",
        data={"csrf": csrf_of(await r.text()), "email": email, "password": PASSWORD, "pod": pod},
        headers=OWN["fetch-metadata"],
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    # Locations are absolute, from the base URL (which this test server is not reached by)
    assert r.headers["Location"] == BASE_URL + ".account/"
    r = await http.get("/.account/")
    assert r.status == 200
    return csrf_of(await r.text())


async def api_me(client: Client, email: str) -> dict[str, Any]:
    http = browser(client)
    r = await http.post("/.account/api/login", json={"email": email, "password": PASSWORD})
    assert r.status == 200, await r.text()
    token = (await r.json())["token"]
    r = await http.get("/.account/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200
    me: dict[str, Any] = await r.json()
    return me


async def assert_refused(r: ClientResponse) -> None:
    assert r.status == 403, await r.text()
    assert r.headers["Content-Type"] == "application/problem+json"
    assert "another origin" in (await r.json())["detail"]
    assert_isolated(r)


@pytest.mark.parametrize("foreign", FOREIGN)
async def test_foreign_page_cannot_create_credentials_even_with_the_csrf_token(
    client: Client, foreign: str
) -> None:
    csrf = await sign_up_on_the_page(client, "carol@example.org", "carol")
    webid = BASE_URL + "carol/profile/card#me"
    # The session cookie goes along (same-site, or a browser that sends it) and the CSRF token is
    # right: only where the request came from is wrong.
    r = await browser(client).post(
        "/.account/credentials",
        data={"csrf": csrf, "webid": webid, "name": "stolen"},
        headers=FOREIGN[foreign],
    )
    await assert_refused(r)
    assert (await api_me(client, "carol@example.org"))["credentials"] == []
    # The same form from the account page itself works.
    r = await browser(client).post(
        "/.account/credentials",
        data={"csrf": csrf, "webid": webid, "name": "mine"},
        headers=OWN["fetch-metadata"],
    )
    assert r.status == 200, await r.text()
    assert "Created credentials" in await r.text()
    [credential] = (await api_me(client, "carol@example.org"))["credentials"]
    assert credential["name"] == "mine"


@pytest.mark.parametrize("own", OWN)
async def test_own_pages_and_clients_without_a_page_change_accounts(
    client: Client, own: str
) -> None:
    http = browser(client)
    r = await http.post(
        "/.account/api/accounts",
        json={"email": "dan@example.org", "password": PASSWORD, "pod": "dan"},
        headers=OWN[own],
    )
    assert r.status == 201, await r.text()
    r = await http.post(
        "/.account/api/login",
        json={"email": "dan@example.org", "password": PASSWORD},
        headers=OWN[own],
    )
    assert r.status == 200, await r.text()
    token = (await r.json())["token"]
    r = await http.post(
        "/.account/api/credentials",
        json={"webId": BASE_URL + "dan/profile/card#me", "name": "cli"},
        headers={"Authorization": f"Bearer {token}", **OWN[own]},
    )
    assert r.status == 201, await r.text()
    assert [c["name"] for c in (await api_me(client, "dan@example.org"))["credentials"]] == ["cli"]


def unsafe_account_routes(app: Application) -> list[tuple[str, str]]:
    """Every (method, path) under `.account/` that can change something, from the router."""
    found = []
    for route in app.router.routes():
        info = route.get_info()
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/" + ACCOUNT) and route.method not in SAFE_METHODS:
            found.append((route.method, path.replace("{id}", "some-id")))
    return found


async def test_every_unsafe_account_route_refuses_foreign_pages_before_acting(
    client: Client,
) -> None:
    await sign_up_on_the_page(client, "erin@example.org", "erin")
    routes = unsafe_account_routes(browser(client).app)
    # The table covers what the pages and the API can change (a new route is covered too).
    assert {path for _, path in routes} >= {
        "/.account/login",
        "/.account/signup",
        "/.account/logout",
        "/.account/consent",
        "/.account/pods",
        "/.account/credentials",
        "/.account/credentials/some-id/revoke",
        "/.account/apps/revoke",
        "/.account/api/accounts",
        "/.account/api/login",
        "/.account/api/pods",
        "/.account/api/credentials",
        "/.account/api/credentials/some-id",
        "/.account/api/apps",
    }
    for method, path in routes:
        for foreign, headers in FOREIGN.items():
            # A body that would work: the guard refuses before it is read.
            r = await browser(client).request(
                method,
                path,
                data={"email": "mallory@example.org", "password": PASSWORD, "pod": "mallory"},
                headers=headers,
            )
            assert r.status == 403, (method, path, foreign, await r.text())
    me = await api_me(client, "erin@example.org")
    assert [p["name"] for p in me["pods"]] == ["erin"]
    r = await browser(client).post(
        "/.account/api/login", json={"email": "mallory@example.org", "password": PASSWORD}
    )
    assert r.status == 401  # no account was made
    # Still logged in: the foreign log-out did nothing.
    r = await browser(client).get("/.account/", allow_redirects=False)
    assert r.status == 200


# --- the decision itself -------------------------------------------------------------------


@PROPERTY
@given(
    origin=st.one_of(
        st.text(max_size=60),
        st.sampled_from(["null", OWN_ORIGIN + "/", OWN_ORIGIN.upper(), OWN_ORIGIN + ":80"]),
        st.builds(lambda p: f"{OWN_ORIGIN}:{p}", st.integers(1, 65535)),
    )
)
@example(origin="null")
@example(origin="")
def test_any_other_origin_is_refused(origin: str) -> None:
    assert is_from_own_origin(fetch_site=None, origin=origin, own_origin=OWN_ORIGIN) is (
        origin == OWN_ORIGIN
    )


@PROPERTY
@given(fetch_site=st.text(max_size=20), origin=st.one_of(st.none(), st.just(OWN_ORIGIN)))
@example(fetch_site="same-site", origin=OWN_ORIGIN)
@example(fetch_site="cross-site", origin=OWN_ORIGIN)
@example(fetch_site="", origin=None)
def test_fetch_metadata_decides_when_present(fetch_site: str, origin: str | None) -> None:
    allowed = is_from_own_origin(fetch_site=fetch_site, origin=origin, own_origin=OWN_ORIGIN)
    assert allowed is (fetch_site.strip().lower() in ("same-origin", "none"))


def test_requests_from_no_page_pass() -> None:
    assert is_from_own_origin(fetch_site=None, origin=None, own_origin=OWN_ORIGIN)


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        (BASE_URL, OWN_ORIGIN),
        ("https://Pods.Example:443/kluis/", "https://pods.example"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("http://[::1]:3000/", "http://[::1]:3000"),
    ],
)
def test_origin_of_base_url_is_what_browsers_send(base_url: str, origin: str) -> None:
    assert origin_of(base_url) == origin
