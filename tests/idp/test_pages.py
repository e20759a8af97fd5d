"""The account pages without a browser: forms, CSRF, what each action shows and changes."""

from __future__ import annotations

import re

import aiohttp

from tests.idp.conftest import PASSWORD, Kluis, browser_session, csrf_of, sign_up


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
            assert r.status == 400
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
            assert r.status == 400
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
