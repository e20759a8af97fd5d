"""The identity provider's pages in a real browser: headless Chromium, driven by Playwright.

A person signs up, logs in and consents through Kluis's own pages; a small app (an OAuth client
with a Client ID Document, on its own port) sends them there, exchanges the code for a DPoP-bound
token and uses it on the new pod. Every page is photographed into test-output/screenshots/.

Debian's Chromium (/usr/bin/chromium) is the browser; nothing downloads one. Without it the tests
are skipped, except in CI (KLUIS_CI set), where a missing browser is an error.
"""

from __future__ import annotations

import asyncio
import html
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from authlib.integrations.requests_client import OAuth2Session
from playwright.async_api import Locator, Page, expect
from rdflib import Graph, URIRef
from rdflib.namespace import Namespace

from tests.conftest import ServerFactory
from tests.idp.browsing import Browser, require_chromium
from tests.idp.conftest import PASSWORD, Kluis
from tests.support import new_ec_key, sign_proof

EMAIL: Final = "alice@example.org"
POD: Final = "alice"
HELLO: Final = "Hello from the browser test"
PIM: Final = Namespace("http://www.w3.org/ns/pim/space#")


def test_missing_chromium_skips_or_fails_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-chromium"
    monkeypatch.delenv("KLUIS_CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_chromium(missing)
    monkeypatch.setenv("KLUIS_CI", "1")
    with pytest.raises(pytest.fail.Exception, match="KLUIS_CI is set"):
        require_chromium(missing)


# --- the app: an OAuth client that uses its token on the pod ----------------------------


class DPoPKey:
    """The app's DPoP key pair and its proofs."""

    def __init__(self) -> None:
        self.key = new_ec_key()

    def headers(self, method: str, url: str, token: str) -> dict[str, str]:
        return {
            "Authorization": f"DPoP {token}",
            "DPoP": sign_proof(self.key, method, url, token=token),
        }


@dataclass
class BrowserApp:
    """A web app that signs people in with Kluis and writes then reads `private/hello`."""

    kluis: Kluis
    base: str = ""
    # state -> (the OAuth session that made the request, its PKCE verifier)
    pending: dict[str, tuple[OAuth2Session, str]] = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        return self.base + "/id"

    @property
    def redirect_uri(self) -> str:
        return self.base + "/callback"

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.start)
        app.router.add_get("/id", self.document)
        app.router.add_get("/callback", self.callback)
        return app

    async def document(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "@context": ["https://www.w3.org/ns/solid/oidc-context.jsonld"],
                "client_id": self.client_id,
                "client_name": "Test App",
                "redirect_uris": [self.redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "scope": "openid webid offline_access",
                "token_endpoint_auth_method": "none",
            },
            content_type="application/ld+json",
        )

    async def start(self, _: web.Request) -> web.Response:
        client = OAuth2Session(
            client_id=self.client_id,
            redirect_uri=self.redirect_uri,
            scope="openid webid offline_access",
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
        )
        verifier = secrets.token_urlsafe(48)
        url, state = client.create_authorization_url(
            self.kluis.url(".oidc/auth"), code_verifier=verifier, nonce=secrets.token_urlsafe(12)
        )
        self.pending[state] = (client, verifier)
        raise web.HTTPSeeOther(url)

    async def callback(self, request: web.Request) -> web.Response:
        query = request.query
        if "error" in query:
            return page("Sign-in refused", f'<p id="error">{html.escape(query["error"])}</p>')
        found = self.pending.pop(query.get("state", ""), None)
        if found is None:
            return page("Unknown sign-in", '<p id="error">unknown state</p>', status=400)
        if query.get("iss") != self.kluis.issuer:  # RFC 9207: the response names its issuer
            return page("Wrong issuer", '<p id="error">wrong iss</p>', status=400)
        client, verifier = found
        key = DPoPKey()
        token_url = self.kluis.url(".oidc/token")
        proof = sign_proof(key.key, "POST", token_url)
        token: dict[str, Any] = await asyncio.to_thread(
            client.fetch_token,
            token_url,
            authorization_response=str(request.url),
            code_verifier=verifier,
            headers={"DPoP": proof},
        )
        result = await self.use_pod(key, token)
        rows = "".join(
            f'<dt>{html.escape(name)}</dt><dd id="{name}">{html.escape(value)}</dd>'
            for name, value in result.items()
        )
        return page("Signed in", f"<dl>{rows}</dl>")

    async def use_pod(self, key: DPoPKey, token: dict[str, Any]) -> dict[str, str]:
        """Who the token is for, then write and read a private resource in their pod."""
        access = str(token["access_token"])
        userinfo = self.kluis.url(".oidc/userinfo")
        async with aiohttp.ClientSession() as s:
            async with s.get(userinfo, headers=key.headers("GET", userinfo, access)) as r:
                webid = str((await r.json())["webid"])
            async with s.get(webid, headers={"Accept": "text/turtle"}) as r:
                profile = Graph().parse(data=await r.text(), format="turtle", publicID=webid)
            storage = str(profile.value(URIRef(webid), PIM.storage))
            hello = storage + "private/hello"
            async with s.put(
                hello,
                data=HELLO,
                headers={"Content-Type": "text/plain", **key.headers("PUT", hello, access)},
            ) as r:
                written = r.status
            async with s.get(hello, headers=key.headers("GET", hello, access)) as r:
                read, content = r.status, await r.text()
            async with s.get(hello) as r:
                anonymous = r.status
        return {
            "token-type": str(token["token_type"]),
            "webid": webid,
            "storage": storage,
            "put-status": str(written),
            "get-status": str(read),
            "content": content,
            "anonymous-status": str(anonymous),
        }


def page(title: str, body: str, *, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        content_type="text/html",
        text=f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        '<link rel=icon href="data:,"></head>'
        f"<body><main><h1>{title}</h1>{body}</main></body></html>",
    )


@pytest.fixture
async def browser_app(kluis: Kluis, aiohttp_server: ServerFactory) -> BrowserApp:
    app = BrowserApp(kluis)
    server = await aiohttp_server(app.web_app())
    app.base = str(server.make_url("")).rstrip("/")
    return app


# --- the browser ------------------------------------------------------------------------


# --- the flow ---------------------------------------------------------------------------


def at(url: str) -> re.Pattern[str]:
    """The address `url`, with any query."""
    return re.compile("^" + re.escape(url) + r"(\?.*)?$")


def starting(prefix: str) -> re.Pattern[str]:
    """Any address starting with `prefix`."""
    return re.compile("^" + re.escape(prefix))


async def sign_up_in_browser(kluis: Kluis, b: Browser) -> str:
    """Sign up on the page; the account page shows the pod and WebID. Returns the WebID."""
    page = b.page
    await page.goto(kluis.url(".account/signup"))
    await expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
    await b.shot("01-signup")
    await page.get_by_label("E-mail address").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Pod name").fill(POD)
    await page.get_by_role("button", name="Create account and pod").click()
    await expect(page).to_have_url(kluis.url(".account/"))
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    webid = kluis.url(f"{POD}/profile/card#me")
    pods = page.get_by_role("region", name="Pods and WebIDs")
    await expect(pods.get_by_role("link", name=kluis.url(f"{POD}/"))).to_be_visible()
    await expect(pods.get_by_role("cell", name=webid)).to_be_visible()
    await expect(page.get_by_text(EMAIL)).to_be_visible()
    await b.shot("02-account")
    return webid


async def log_out(kluis: Kluis, b: Browser) -> None:
    await b.page.get_by_role("button", name="Log out").click()
    await expect(b.page).to_have_url(kluis.url(".account/login"))


async def log_in_for_app(kluis: Kluis, app: BrowserApp, b: Browser) -> None:
    """Open the app; it sends the browser to Kluis, which asks for a log-in."""
    page = b.page
    await page.goto(app.base + "/")
    await expect(page).to_have_url(starting(kluis.url(".account/login?auth=")))
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.get_by_text("An app asked you to log in")).to_be_visible()
    await b.shot("03-login")
    await page.get_by_label("E-mail address").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def check_consent_page(kluis: Kluis, app: BrowserApp, b: Browser, webid: str) -> None:
    page = b.page
    await expect(page).to_have_url(starting(kluis.url(".account/consent?auth=")))
    await expect(page.get_by_role("heading", name="Allow Test App?")).to_be_visible()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(app.base))
    # where the browser really goes next, not what the app claims about itself
    await expect(page.get_by_text("your browser then goes to")).to_contain_text(origin)
    await expect(page.get_by_text(app.client_id)).to_be_visible()
    await expect(page.get_by_role("radio", name=webid)).to_be_checked()
    # GDPR: keeping the app connected (no question next time, a refresh token) is opt-in,
    # never pre-ticked, and says what it means.
    stay = page.get_by_role("checkbox", name="Keep Test App connected")
    await expect(stay).not_to_be_checked()
    await expect(stay).to_have_accessible_description(re.compile("while you are away"))
    await b.shot("04-consent")


async def check_app_result(app: BrowserApp, b: Browser, webid: str, step: str) -> None:
    """The app came back with a working DPoP-bound token and used it on the private resource."""
    page = b.page
    await expect(page).to_have_url(at(app.redirect_uri))
    await expect(page.get_by_role("heading", name="Signed in")).to_be_visible()
    await expect(page.locator("#token-type")).to_have_text("DPoP")
    await expect(page.locator("#webid")).to_have_text(webid)
    await expect(page.locator("#put-status")).to_have_text(re.compile("^20[14]$"))
    await expect(page.locator("#get-status")).to_have_text("200")
    await expect(page.locator("#content")).to_have_text(HELLO)
    await expect(page.locator("#anonymous-status")).to_have_text("401")  # it is private
    await b.shot(step)


async def reach_consent(kluis: Kluis, app: BrowserApp, b: Browser) -> str:
    """Sign up, log out, log in again for the app and check its consent page; the WebID."""
    webid = await sign_up_in_browser(kluis, b)
    await log_out(kluis, b)
    await log_in_for_app(kluis, app, b)
    await check_consent_page(kluis, app, b, webid)
    return webid


def connected_apps(page: Page) -> Locator:
    return page.get_by_role("region", name="Connected apps")


async def test_sign_up_log_in_and_allow_once(
    kluis: Kluis, browser_app: BrowserApp, browser: Browser
) -> None:
    webid = await reach_consent(kluis, browser_app, browser)
    await browser.page.get_by_role("button", name="Allow").click()
    await check_app_result(browser_app, browser, webid, "05-app")
    # Allowed once, not kept connected: the app got no refresh token, and none is listed.
    await browser.page.goto(kluis.url(".account/"))
    apps = connected_apps(browser.page)
    await expect(apps).to_contain_text("No app is connected")
    await expect(apps.get_by_role("table")).to_have_count(0)
    await browser.shot("06-account-no-apps")
    # so the next visit asks again
    await browser.page.goto(browser_app.base + "/")
    await expect(browser.page.get_by_role("heading", name="Allow Test App?")).to_be_visible()
    assert browser.unexpected_errors() == []


async def test_remember_then_revoke(
    kluis: Kluis, browser_app: BrowserApp, browser: Browser
) -> None:
    webid = await reach_consent(kluis, browser_app, browser)
    await browser.page.get_by_role("checkbox", name="Keep Test App connected").check()
    await browser.page.get_by_role("button", name="Allow").click()
    await check_app_result(browser_app, browser, webid, "05-app")
    # Kept connected: the app is listed with what it can do, and a second visit goes straight
    # through.
    page = browser.page
    await page.goto(kluis.url(".account/"))
    apps = connected_apps(page)
    await expect(apps.get_by_role("cell", name=re.compile("^Test App"))).to_be_visible()
    await expect(apps.get_by_text(browser_app.client_id)).to_be_visible()
    await expect(apps.get_by_role("cell", name=webid)).to_be_visible()
    await expect(apps).to_contain_text("Uses your data while you are away.")
    await expect(apps).to_contain_text("Signs you in without asking again.")
    await browser.shot("06-account-app-listed")
    await page.goto(browser_app.base + "/")
    await check_app_result(browser_app, browser, webid, "07-app-again")
    # Disconnected: gone from the list, and the next visit asks for consent again.
    await page.goto(kluis.url(".account/"))
    await connected_apps(page).get_by_role("button", name="Disconnect Test App").click()
    await expect(page).to_have_url(kluis.url(".account/"))
    await expect(connected_apps(page)).to_contain_text("No app is connected")
    await browser.shot("08-account-revoked")
    await page.goto(browser_app.base + "/")
    await expect(page.get_by_role("heading", name="Allow Test App?")).to_be_visible()
    await page.get_by_role("button", name="Deny").click()
    await expect(page).to_have_url(at(browser_app.redirect_uri))
    await expect(page.locator("#error")).to_have_text("access_denied")
    assert browser.unexpected_errors() == []


async def test_pod_name_pattern_is_enforced_by_the_browser(kluis: Kluis, browser: Browser) -> None:
    page = browser.page
    await page.goto(kluis.url(".account/signup"))
    pod = page.get_by_label("Pod name")
    await pod.fill(POD)
    assert await pod.evaluate("e => e.validity.valid")
    await pod.fill("Bad Name")
    assert await pod.evaluate("e => e.validity.patternMismatch")
    # Chromium compiles `pattern` with the RegExp v flag: an invalid pattern is logged, not used.
    assert browser.unexpected_errors() == []
