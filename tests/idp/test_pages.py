"""The account pages without a browser: forms, CSRF, what each action shows and changes."""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.idp.conftest import (
    PASSWORD,
    ClientApp,
    Kluis,
    api_token,
    browser_session,
    csrf_of,
    sign_up,
)


async def logged_in(kluis: Kluis, browser: aiohttp.ClientSession, email: str) -> str:
    async with browser.get(kluis.url(".account/login")) as r:
        html = await r.text()
    async with browser.post(
        kluis.url(".account/login"),
        data={"csrf": csrf_of(html), "email": email, "password": PASSWORD},
    ) as r:
        assert r.status == 200
        assert str(r.url) == kluis.url(".account/")
        return await r.text()


async def test_signup_page_creates_account_and_pod(kluis: Kluis) -> None:
    async with browser_session() as browser:
        async with browser.get(kluis.url(".account/signup")) as r:
            assert r.status == 200
            html = await r.text()
            assert r.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=Lax" in cookie
        async with browser.post(
            kluis.url(".account/signup"),
            data={
                "csrf": csrf_of(html),
                "email": "dora@example.org",
                "password": PASSWORD,
                "pod": "dora",
            },
        ) as r:
            assert r.status == 200
            page = await r.text()
        assert kluis.url("dora/profile/card#me") in page
        # a taken pod name is refused on the page, with the form kept
        async with browser.get(kluis.url(".account/signup")) as r:
            html = await r.text()
        async with browser.post(
            kluis.url(".account/signup"),
            data={
                "csrf": csrf_of(html),
                "email": "eli@example.org",
                "password": PASSWORD,
                "pod": "dora",
            },
        ) as r:
            assert r.status == 409
            text = await r.text()
            assert "is taken" in text
            assert 'value="eli@example.org"' in text


async def test_account_page_actions(kluis: Kluis) -> None:
    await sign_up(kluis, "fay@example.org", "fay")
    async with browser_session() as browser:
        page = await logged_in(kluis, browser, "fay@example.org")
        # a second pod
        async with browser.post(
            kluis.url(".account/pods"), data={"csrf": csrf_of(page), "pod": "fay-work"}
        ) as r:
            page = await r.text()
        assert kluis.url("fay-work/profile/card#me") in page
        # client credentials: the secret is shown once
        async with browser.post(
            kluis.url(".account/credentials"),
            data={
                "csrf": csrf_of(page),
                "name": "newsletter back end",
                "webid": kluis.url("fay/profile/card#me"),
            },
        ) as r:
            page = await r.text()
        assert "shown only once" in page
        secret = re.search(r"Client secret: <code>([^<]+)</code>", page)
        client_id = re.search(r"Client id: <code>(kluis-cc-[0-9a-f]+)</code>", page)
        assert secret
        assert client_id
        async with browser.get(kluis.url(".account/")) as r:
            page = await r.text()
        assert secret.group(1) not in page
        assert "newsletter back end" in page
        # the credentials work, then are revoked from the page
        token_url = kluis.url(".oidc/token")
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id.group(1),
            "client_secret": secret.group(1),
        }
        async with aiohttp.ClientSession() as app, app.post(token_url, data=form) as r:
            assert r.status == 200
        async with browser.post(
            kluis.url(f".account/credentials/{client_id.group(1)}/revoke"),
            data={"csrf": csrf_of(page)},
        ) as r:
            page = await r.text()
        assert "newsletter back end" not in page
        async with aiohttp.ClientSession() as app, app.post(token_url, data=form) as r:
            assert r.status == 401
        # a WebID of someone else cannot be used
        async with browser.post(
            kluis.url(".account/credentials"),
            data={"csrf": csrf_of(page), "name": "x", "webid": "https://evil.example/#me"},
        ) as r:
            assert r.status == 403
            assert "is not a WebID of this account" in await r.text()
        # logging out ends the session for good
        async with browser.post(kluis.url(".account/logout"), data={"csrf": csrf_of(page)}) as r:
            assert str(r.url) == kluis.url(".account/login")
        async with browser.get(kluis.url(".account/"), allow_redirects=False) as r:
            assert r.status == 303


async def test_forms_need_the_session_csrf_token(kluis: Kluis) -> None:
    await sign_up(kluis, "gus@example.org", "gus")
    async with browser_session() as browser:
        page = await logged_in(kluis, browser, "gus@example.org")
        for action, form in (
            (".account/pods", {"pod": "gus2"}),
            (".account/credentials", {"name": "x", "webid": kluis.url("gus/profile/card#me")}),
            (".account/logout", {}),
        ):
            async with browser.post(kluis.url(action), data=form) as r:
                assert r.status == 403, action
        async with browser.get(kluis.url(".account/")) as r:
            assert "gus2" not in await r.text()
    # a page of one session does not carry over to another
    async with (
        browser_session() as other,
        other.post(
            kluis.url(".account/pods"),
            data={"csrf": csrf_of(page), "pod": "gus3"},
            allow_redirects=False,
        ) as r,
    ):
        assert r.status == 303  # not logged in here: sent to log in, nothing created


async def test_account_api_needs_its_token(kluis: Kluis) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(kluis.url(".account/api/me")) as r:
            assert r.status == 401
        async with s.get(
            kluis.url(".account/api/me"), headers={"Authorization": "Bearer forged"}
        ) as r:
            assert r.status == 401
        async with s.post(kluis.url(".account/api/accounts"), data="email=x") as r:
            assert r.status == 415  # not JSON
        # no CORS for the account API: other sites' scripts get nothing
        async with s.options(
            kluis.url(".account/api/me"),
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        ) as r:
            assert "Access-Control-Allow-Origin" not in r.headers


async def test_every_redirect_names_an_absolute_url(kluis: Kluis, client_app: ClientApp) -> None:
    """Some clients cannot follow a relative Location: walk every page and endpoint that
    redirects (log-in, sign-up, consent, continue, account actions, authorization) and check
    each Location is absolute, under the configured base URL or the app's redirect URI."""
    seen: list[tuple[str, str, str]] = []  # (method, path, Location) of every redirect

    async def on_response(
        _: aiohttp.ClientSession,
        __: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams | aiohttp.TraceRequestRedirectParams,
    ) -> None:
        if 300 <= params.response.status < 400:
            path = params.url.path
            seen.append((params.method, path, params.response.headers.get("Location", "")))

    trace = aiohttp.TraceConfig()
    trace.on_request_redirect.append(on_response)
    trace.on_request_end.append(on_response)
    await sign_up(kluis, "erin@example.org", "erin")
    async with (
        aiohttp.ClientSession() as s,
        s.post(  # an account without a pod yet
            kluis.url(".account/api/accounts"),
            json={"email": "finn@example.org", "password": PASSWORD},
        ) as r,
    ):
        assert r.status == 201
    api = await api_token(kluis, "erin@example.org")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            kluis.url(".account/api/credentials"),
            json={"webId": kluis.url("erin/profile/card#me"), "name": "script"},
            headers={"Authorization": f"Bearer {api}"},
        ) as r,
    ):
        credential = (await r.json())["clientId"]
    request = {
        "client_id": client_app.client_id,
        "redirect_uri": client_app.redirect_uri,
        "response_type": "code",
        "scope": "openid webid",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    browser = aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), trace_configs=[trace]
    )
    async with browser:

        async def csrf(page: str = ".account/login") -> str:
            async with browser.get(kluis.url(page)) as r:
                return csrf_of(await r.text())

        async def auth_id() -> str:
            async with browser.get(
                kluis.url(".oidc/auth"), params=request, allow_redirects=False
            ) as r:
                return parse_qs(urlsplit(r.headers["Location"]).query)["auth"][0]

        async with browser.get(kluis.url(".account/")) as r:  # not logged in: to log-in
            assert str(r.url).startswith(kluis.url(".account/login"))
        async with browser.post(kluis.url(".oidc/auth"), data=request) as r:
            assert r.status == 200
        auth = await auth_id()
        for page in ("continue", "consent"):
            async with browser.get(kluis.url(f".account/{page}"), params={"auth": auth}) as r:
                assert r.status == 200
        # an account without a pod: to the account page, whose new pod goes on to consent
        login = {"csrf": await csrf(), "email": "finn@example.org", "password": PASSWORD}
        async with browser.post(kluis.url(".account/login"), data={**login, "auth": auth}) as r:
            assert "/.account/" in str(r.url)
        form = {"csrf": await csrf(".account/"), "pod": "finn", "auth": auth}
        async with browser.post(kluis.url(".account/pods"), data=form) as r:
            assert "/.account/consent" in str(r.url)
        form = {
            "csrf": await csrf(".account/"),
            "auth": auth,
            "webid": kluis.url("finn/profile/card#me"),
            "decision": "allow",
            "remember": "yes",
        }
        async with browser.post(kluis.url(".account/consent"), data=form) as r:
            assert str(r.url).startswith(client_app.redirect_uri)
        async with browser.get(kluis.url(".oidc/auth"), params=request) as r:  # remembered
            assert str(r.url).startswith(client_app.redirect_uri)
        form = {"csrf": await csrf(".account/"), "client_id": client_app.client_id}
        async with browser.post(kluis.url(".account/apps/revoke"), data=form) as r:
            assert r.status == 200
        auth = await auth_id()  # a refusal goes back to the app, which the person let in
        form = {"csrf": await csrf(".account/"), "auth": auth, "decision": "deny"}
        async with browser.post(kluis.url(".account/consent"), data=form) as r:
            assert str(r.url).startswith(client_app.redirect_uri)
        form = {"csrf": await csrf(".account/"), "pod": "finn2"}
        async with browser.post(kluis.url(".account/pods"), data=form) as r:
            assert r.status == 200
        async with browser.post(kluis.url(".account/logout"), data=form) as r:
            assert str(r.url).startswith(kluis.url(".account/login"))
        # another person: log-in and revoking credentials
        async with browser.post(
            kluis.url(".account/login"),
            data={**login, "csrf": await csrf(), "email": "erin@example.org"},
        ) as r:
            assert str(r.url) == kluis.url(".account/")
        form = {"csrf": await csrf(".account/")}
        async with browser.post(kluis.url(f".account/credentials/{credential}/revoke"), data=form):
            pass
        async with browser.post(kluis.url(".account/logout"), data=form) as r:
            assert r.status == 200
        form = {"csrf": await csrf(), "email": "gus@example.org", "password": PASSWORD}
        async with browser.post(kluis.url(".account/signup"), data={**form, "pod": "gus"}) as r:
            assert str(r.url) == kluis.url(".account/")
        auth = await auth_id()  # logged in (just signed up), consent not given: to consent
        async with browser.post(
            kluis.url(".account/consent"), data={"csrf": "forged", "auth": auth}
        ) as r:
            assert r.status == 403
    redirecting = {(method, path.removeprefix("/")) for method, path, _ in seen}
    assert redirecting >= {
        ("GET", ".account/"),
        ("GET", ".oidc/auth"),
        ("POST", ".oidc/auth"),
        ("GET", ".account/continue"),
        ("GET", ".account/consent"),
        ("POST", ".account/login"),
        ("POST", ".account/signup"),
        ("POST", ".account/pods"),
        ("POST", ".account/consent"),
        ("POST", ".account/apps/revoke"),
        ("POST", f".account/credentials/{credential}/revoke"),
        ("POST", ".account/logout"),
    }, seen
    for method, path, location in seen:
        assert location.startswith((kluis.base, client_app.redirect_uri)), (method, path, location)
