"""Interoperability: SolidOS (npm `mashlib`, its data browser), unchanged, in headless Chromium.

mashlib's built files (node_modules/mashlib/dist) are served by a small web server on a port of
their own, as a pod server serves the data browser, but from another origin, so every read of
the pod is a cross-origin request. Two of mashlib's pages are used:

- `browse.html?uri=<resource>`, its browser for any pod. Anonymous, it shows alice's WebID
  profile (with the name written from Python) and lists a public folder.
- `databrowser.html`, the page NSS and CSS serve at a resource's own URL. It calls
  `panes.runDataBrowser()`, which shows the resource at the page's URL. This server is not the pod,
  so the one call is given the `uri` query parameter instead. The header's log-in button sends
  the browser to Kluis's log-in and consent pages. solid-logic uses
  @uvdsl/solid-oidc-client-browser here (authorization code, PKCE, DPoP, a dynamically
  registered client). Back in the data browser, alice sees her private folder.

browse.html cannot finish a login in mashlib 2.3.3 because nothing on it calls
`authn.checkUser()`, which takes the code from the address bar. So the login uses
databrowser.html.

The icons and logo come from solidos.github.io and solidproject.org. They are not Kluis's, and a
test must not need the Internet, so the browser answers them with an empty image. Every page is
photographed into test-output/screenshots/.

Needs Node.js (for npm ci, see conftest.py) and Debian's Chromium.
"""

from __future__ import annotations

import base64
import re
from typing import Final
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Route, expect

from pod.vocab import ACL, FOAF, SOLID
from tests.conftest import ServerFactory
from tests.interop.conftest import (
    HERE,
    PASSWORD,
    Browser,
    Person,
    Server,
    Token,
    client_credentials,
    person,
    problems_report,
)

DIST: Final = HERE / "node_modules" / "mashlib" / "dist"
RUN_DATA_BROWSER: Final = "panes.runDataBrowser()"
NAME: Final = "Alice Liddell"
# A transparent 1x1 GIF: the answer to every request that would leave this machine.
EMPTY_GIF: Final = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
OFFLINE: Final = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")

pytestmark = pytest.mark.slow


# --- the data browser's web server ------------------------------------------------------


def _databrowser_page() -> str:
    """databrowser.html, showing the resource named by `?uri=` rather than the page's URL."""
    page = (DIST / "databrowser.html").read_text()
    assert page.count(RUN_DATA_BROWSER) == 1, "mashlib's databrowser.html changed"
    return page.replace(
        RUN_DATA_BROWSER, 'panes.runDataBrowser(new URLSearchParams(location.search).get("uri"))'
    )


@pytest.fixture
async def solidos(node: str, aiohttp_server: ServerFactory) -> str:
    """The base URL of a web server with mashlib's files; databrowser.html as above."""
    del node  # requested for its side effect: the npm packages, mashlib among them, installed
    page = _databrowser_page()

    async def databrowser(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    async def no_icon(_: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/databrowser.html", databrowser)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_static("/", DIST)
    server = await aiohttp_server(app)
    return str(server.make_url("/"))


async def _empty_image(route: Route) -> None:
    await route.fulfill(status=200, content_type="image/gif", body=EMPTY_GIF)


async def offline(b: Browser) -> None:
    await b.page.context.route(OFFLINE, _empty_image)


def browse(solidos: str, page: str, uri: str) -> str:
    return f"{solidos}{page}?{urlencode({'uri': uri})}"


# --- alice's pod, written from Python ---------------------------------------------------


async def put(http: aiohttp.ClientSession, token: Token, url: str, body: str, kind: str) -> None:
    async with http.put(
        url, data=body, headers={"Content-Type": kind, **token.headers("PUT", url)}
    ) as r:
        assert r.status in (201, 204), await r.text()


async def name_in_profile(http: aiohttp.ClientSession, token: Token, alice: Person) -> None:
    """Add foaf:name to alice's profile with an N3 Patch, as her own client would."""
    card = alice.webid.split("#")[0]
    patch = (
        f"_:p a <{SOLID.InsertDeletePatch}>;\n"
        f'  <{SOLID.inserts}> {{ <{alice.webid}> <{FOAF.name}> "{NAME}" }}.'
    )
    async with http.patch(
        card, data=patch, headers={"Content-Type": "text/n3", **token.headers("PATCH", card)}
    ) as r:
        assert r.status in (200, 204), await r.text()


def public_folder_acl(owner: str) -> str:
    """The owner may do everything, anyone may read: the folder and, by default, its contents."""
    return (
        f"<#owner> a <{ACL.Authorization}>; <{ACL.agent}> <{owner}>;\n"
        f"  <{ACL.accessTo}> <./>; <{ACL.default}> <./>;\n"
        f"  <{ACL.mode}> <{ACL.Read}>, <{ACL.Write}>, <{ACL.Control}>.\n"
        f"<#public> a <{ACL.Authorization}>; <{ACL.agentClass}> <{FOAF.Agent}>;\n"
        f"  <{ACL.accessTo}> <./>; <{ACL.default}> <./>; <{ACL.mode}> <{ACL.Read}>.\n"
    )


async def alice_pod(kluis: Server) -> Person:
    """alice, named in her profile, with a public folder (a note, a text, a subfolder) and
    a private one (pod root's owner-only ACL) holding a secret."""
    async with aiohttp.ClientSession() as http:
        alice = await person(kluis, http, "alice")
        token = await client_credentials(kluis, http, alice)
        await name_in_profile(http, token, alice)
        public = alice.pod_root + "public/"
        await put(http, token, public + "readme.txt", "read me", "text/plain")
        await put(http, token, public + "notes/first.ttl", "<#it> a <#Note>.", "text/turtle")
        await put(http, token, public + ".acl", public_folder_acl(alice.webid), "text/turtle")
        await put(http, token, alice.pod_root + "private/secret.txt", "s3cret", "text/plain")
        async with http.get(public) as r:
            assert r.status == 200
        async with http.get(alice.pod_root + "private/") as r:
            assert r.status == 401
    return alice


# --- what went wrong in the browser -----------------------------------------------------


def unexplained(b: Browser, expected: set[tuple[str, int]]) -> list[tuple[str, str, str]]:
    """The browser's problems, less the `expected` answers (url, status) and the console and
    page errors that only repeat one of them."""
    urls = {url for url, _ in expected}
    left = []
    for what, url, detail in b.problems:
        if what.startswith("HTTP ") and (url, int(what.removeprefix("HTTP "))) in expected:
            continue
        if what == "console error" and url in urls and "the server responded" in detail:
            continue
        if what == "page error" and any(f"<{u}>" in detail for u in urls):
            continue  # mashlib's Fetcher leaves the rejection of a failed load unhandled
        if what == "request failed" and OFFLINE.match(url) and "ERR_ABORTED" in detail:
            continue  # a stubbed icon still loading when the page moved on: not Kluis's
        left.append((what, url, detail))
    return left


def described_by(b: Browser) -> set[tuple[str, int]]:
    """404s for the `.meta` description resources Kluis's Link headers name (rel=describedby).

    rdflib (in mashlib) records such a link as rdfs:seeAlso, and the folder pane loads it. The
    Solid Protocol does not require a description resource to exist before something is written
    to it, and Kluis answers 404 until then. CSS makes one up instead (200). NSS sends
    `describedBy`, which rdflib's case-sensitive check does not match.
    """
    return {
        (url, status) for _, url, status in b.answers if status == 404 and url.endswith(".meta")
    }


def check_clean(b: Browser, kluis: Server, expected: set[tuple[str, int]]) -> None:
    report = problems_report(b, kluis)
    assert unexplained(b, expected | described_by(b)) == [], report
    # rdflib retries a load that CORS blocked through the page's /xss/ proxy: none may be needed.
    assert not [url for url in b.requests if "/xss/" in url], report
    log = kluis.log_text()
    assert "Traceback" not in log
    assert " ERROR " not in log


# --- the tests --------------------------------------------------------------------------


async def test_solidos_shows_a_profile_and_a_public_folder(
    kluis: Server, solidos: str, browser: Browser
) -> None:
    alice = await alice_pod(kluis)
    await offline(browser)
    page = browser.page

    # The profile pane, for the WebID: the name alice's client wrote into her profile.
    await page.goto(browse(solidos, "browse.html", alice.webid))
    await expect(page.get_by_role("heading", name=NAME)).to_be_visible()
    await browser.shot("01-profile")

    # The folder pane lists the public folder's contents, as anyone may see them.
    await page.goto(browse(solidos, "browse.html", alice.pod_root + "public/"))
    for child in ("readme.txt", "notes"):
        await expect(page.get_by_text(child, exact=True)).to_be_visible()
    await browser.shot("02-folder")

    check_clean(browser, kluis, set())


async def test_solidos_logs_in_with_kluis_and_shows_a_private_folder(
    kluis: Server, solidos: str, browser: Browser
) -> None:
    alice = await alice_pod(kluis)
    private = alice.pod_root + "private/"
    await offline(browser)
    page = browser.page

    # Anonymous, the private folder is refused: the data browser says so.
    await page.goto(browse(solidos, "databrowser.html", private))
    await expect(page.get_by_text("This resource is not publicly readable")).to_be_visible()
    await browser.shot("01-refused")

    # Log in, naming Kluis as the identity provider.
    await page.get_by_role("button", name="Log In").first.click()
    dialog = page.get_by_role("dialog", name="Select an identity provider")
    await dialog.get_by_placeholder("https://example.com").fill(kluis.base)
    await browser.shot("02-issuer")
    await dialog.get_by_role("button", name="Log In").click()

    # Kluis's log-in and consent pages, for the data browser's authorization request.
    await expect(page).to_have_url(re.compile("^" + re.escape(kluis.url(".account/login?auth="))))
    await page.get_by_label("E-mail address").fill(alice.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await browser.shot("03-login")
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile("^" + re.escape(kluis.url(".account/consent?"))))
    await expect(page.get_by_role("radio", name=alice.webid)).to_be_checked()
    await browser.shot("04-consent")
    await page.get_by_role("button", name="Allow").click()

    # Back in the data browser, logged in: the private folder is listed.
    await expect(page.get_by_text("secret.txt", exact=True)).to_be_visible()
    await browser.shot("05-private")
    assert ("POST", kluis.url(".oidc/token"), 200) in browser.answers

    # Logged in, mashlib checks alice's preferences: the settings folder's own ACL, the title
    # of prefs.ttl and the type indexes. Kluis provisions all of them, so it writes nothing.
    writes = [
        (method, url, status)
        for method, url, status in browser.answers
        if url.startswith(alice.pod_root) and method not in ("GET", "HEAD", "OPTIONS")
    ]
    assert writes == []

    # Expected: the private folder, refused before the login.
    check_clean(browser, kluis, {(private, 401)})
