"""Interoperability: Inrupt's browser login library, unchanged, in headless Chromium against Kluis.

A small web app (browser_app/app.js, bundled here with esbuild; served on its own port) signs a
person in the way SolidOS- and Penny-style apps do: `@inrupt/solid-client-authn-browser` sends
the browser to Kluis's log-in and consent pages (authorization code, PKCE, DPoP), finishes the
login with `handleIncomingRedirect()` and then uses `session.fetch` (alone and under
`@inrupt/solid-client`) on the pod: it reads a private note, writes a new resource and is
refused another person's private resource. The consent is remembered, so a reload restores the
session as those apps do (`restorePreviousSession`: a silent `prompt=none` round trip to Kluis)
and the app works again. The app is a dynamically registered client, or names itself with a
Client ID Document. Every page is photographed into test-output/screenshots/.

Needs Node.js (for the npm packages and esbuild, see conftest.py) and Debian's Chromium.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import expect
from rdflib import Graph, Literal, URIRef

from tests.conftest import ServerFactory
from tests.interop.conftest import (
    HERE,
    PASSWORD,
    Browser,
    Person,
    Server,
    client_credentials,
    person,
    problems_report,
)

APP_SOURCE: Final = HERE / "browser_app"
ESBUILD_TIMEOUT: Final = 120.0
CLIENT_NAME: Final = "Kluis Browser Interop"
SCHEMA_NAME: Final = URIRef("https://schema.org/name")
NOTE_NAME: Final = "alice's private note"
WRITTEN_NAME: Final = "written from the browser"
SECRET_NAME: Final = "bob only"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def app_bundle(node: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """browser_app/app.js and the npm packages it imports, bundled for the browser."""
    del node  # requested for its side effect: the npm packages, esbuild among them, installed
    bundle = tmp_path_factory.mktemp("browser-app") / "app.bundle.js"
    done = subprocess.run(
        [
            str(HERE / "node_modules" / ".bin" / "esbuild"),
            str(APP_SOURCE / "app.js"),
            *("--bundle", "--format=esm", "--platform=browser", "--log-level=warning"),
            f"--outfile={bundle}",
        ],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=ESBUILD_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"esbuild failed:\n{done.stdout}\n{done.stderr}"
    return bundle


# --- the app's web server ---------------------------------------------------------------


@dataclass
class BrowserApp:
    """Serves the page, the bundle, the app's configuration and its Client ID Document."""

    bundle: Path
    config: dict[str, Any]
    base: str = ""  # http://127.0.0.1:<port>/, once the server runs

    @property
    def client_id(self) -> str:
        return self.base + "id"

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.index)
        app.router.add_get("/app.bundle.js", self.script)
        app.router.add_get("/config.json", self.configuration)
        app.router.add_get("/id", self.document)
        return app

    async def index(self, _: web.Request) -> web.StreamResponse:
        return web.FileResponse(APP_SOURCE / "index.html", headers={"Cache-Control": "no-store"})

    async def script(self, _: web.Request) -> web.StreamResponse:
        return web.FileResponse(self.bundle, headers={"Content-Type": "text/javascript"})

    async def configuration(self, _: web.Request) -> web.StreamResponse:
        return web.json_response({"redirectUrl": self.base, **self.config})

    async def document(self, _: web.Request) -> web.StreamResponse:
        """Solid-OIDC §clientids-document: the app's Client ID Document."""
        return web.json_response(
            {
                "@context": ["https://www.w3.org/ns/solid/oidc-context.jsonld"],
                "client_id": self.client_id,
                "client_name": CLIENT_NAME,
                "client_uri": self.base,
                "redirect_uris": [self.base],
                "post_logout_redirect_uris": [self.base],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "scope": "openid webid offline_access",
                "token_endpoint_auth_method": "none",
            },
            content_type="application/ld+json",
        )


# --- the test ---------------------------------------------------------------------------


async def put_turtle(
    kluis: Server, http: aiohttp.ClientSession, who: Person, url: str, name: str
) -> None:
    """Write `<#it> schema:name name` to `url` as `who`, from Python."""
    token = await client_credentials(kluis, http, who)
    async with http.put(
        url,
        data=f"<#it> <{SCHEMA_NAME}> {json.dumps(name)} .",
        headers={"Content-Type": "text/turtle", **token.headers("PUT", url)},
    ) as r:
        assert r.status == 201, await r.text()
    async with http.get(url) as r:
        assert r.status == 401  # private: anonymous readers are turned away


def starting(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(prefix))


@dataclass(frozen=True)
class Scenario:
    """Alice's pod with a private note; what the app writes; bob's private secret."""

    alice: Person
    note: str
    written: str
    forbidden: str


async def app_result(kluis: Server, b: Browser, shot: str) -> dict[str, dict[str, Any]]:
    """Wait for the app to finish; its steps by name, every one of them successful."""
    result = b.page.locator("#result[data-done]")
    try:
        await expect(result).to_be_attached()
    except AssertionError as exc:  # stuck on some page: show where, and what went wrong
        await b.shot(shot + "-stuck")
        raise AssertionError(f"{exc}\nat {b.page.url}\n{problems_report(b, kluis)}") from exc
    await b.shot(shot)
    summary: dict[str, Any] = json.loads(await result.inner_text())
    report = json.dumps(summary, indent=2) + "\n" + problems_report(b, kluis)
    assert summary["ok"] is True, report
    steps = {s["step"]: s for s in summary["steps"]}
    assert list(steps) == [
        "session",
        "read private note",
        "read note with solid-client",
        "write new resource",
        "read it back",
        "other pod is forbidden",
    ], report
    return steps


def check_steps(steps: dict[str, dict[str, Any]], s: Scenario, *, written_status: int) -> None:
    """The session is alice's, and her token works on her pod and nowhere else."""
    session = steps["session"]
    assert session["isLoggedIn"] is True
    assert session["webId"] == s.alice.webid
    assert session["expires"] is True

    read = steps["read private note"]
    assert read["status"] == 200, read
    assert read["contentType"].startswith("text/turtle")
    assert NOTE_NAME in read["body"]
    # Solid Protocol #server-cors: exposed, so a script on the app's origin can read them.
    wac_allow = re.fullmatch(r'.*user="([^"]*)".*', read["wacAllow"] or "")
    assert wac_allow is not None, read
    assert "write" in wac_allow.group(1).split()
    assert 'rel="acl"' in read["link"]

    parsed = steps["read note with solid-client"]
    assert parsed["source"] == s.note
    assert parsed["name"] == NOTE_NAME
    assert parsed["access"]["read"] is True
    assert parsed["access"]["write"] is True

    assert steps["write new resource"]["status"] == written_status
    back = steps["read it back"]
    assert back["status"] == 200
    assert WRITTEN_NAME in back["body"]
    assert steps["other pod is forbidden"]["status"] == 403


@pytest.mark.parametrize("client", ["registered", "client-id-document"])
async def test_inrupt_browser_app_logs_in_and_uses_the_pod(
    client: str,
    kluis: Server,
    app_bundle: Path,
    aiohttp_server: ServerFactory,
    browser: Browser,
) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await person(kluis, http, "alice")
        bob = await person(kluis, http, "bob")
        note = alice.pod_root + "private/note.ttl"
        secret = bob.pod_root + "private/secret.ttl"
        await put_turtle(kluis, http, alice, note, NOTE_NAME)
        await put_turtle(kluis, http, bob, secret, SECRET_NAME)
    scenario = Scenario(alice, note, alice.pod_root + "private/from-browser.ttl", secret)

    app = BrowserApp(
        app_bundle,
        {
            "issuer": kluis.base,
            "clientId": None,
            "clientName": CLIENT_NAME,
            "note": scenario.note,
            "written": scenario.written,
            "writtenName": WRITTEN_NAME,
            "forbidden": scenario.forbidden,
        },
    )
    server = await aiohttp_server(app.web_app())
    app.base = str(server.make_url("/"))
    if client == "client-id-document":
        app.config["clientId"] = app.client_id

    # The app, not yet logged in, offers to log in.
    page = browser.page
    await page.goto(app.base)
    await expect(page.get_by_role("button", name="Log in with Kluis")).to_be_visible()
    await browser.shot("01-app")
    await page.get_by_role("button", name="Log in with Kluis").click()

    # Kluis's log-in page, for the app's authorization request.
    await expect(page).to_have_url(starting(kluis.url(".account/login?auth=")))
    await expect(page.get_by_text("An app asked you to log in")).to_be_visible()
    await browser.shot("02-login")
    await page.get_by_label("E-mail address").fill(alice.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()

    # The consent page names the app, by its registration or its Client ID Document.
    await expect(page).to_have_url(starting(kluis.url(".account/consent?auth=")))
    await expect(page.get_by_role("heading", name=f"Allow {CLIENT_NAME}?")).to_be_visible()
    await expect(page.get_by_role("radio", name=alice.webid)).to_be_checked()
    if client == "client-id-document":
        await expect(page.get_by_text(app.client_id, exact=True)).to_be_visible()
    await page.get_by_role("checkbox", name=f"Keep {CLIENT_NAME} connected").check()
    await browser.shot("03-consent")
    await page.get_by_role("button", name="Allow").click()

    # Back in the app: the library finished the login, the app used the pod.
    steps = await app_result(kluis, browser, "04-result")
    check_steps(steps, scenario, written_status=201)
    if client == "client-id-document":
        assert steps["session"]["clientAppId"] == app.client_id
    # handleIncomingRedirect took the code and state out of the address bar.
    await expect(page).to_have_url(app.base)

    # A reload restores the session without a page from Kluis: a prompt=none round trip.
    silent_start = len(browser.requests)
    await page.reload()
    steps = await app_result(kluis, browser, "05-restored")
    check_steps(steps, scenario, written_status=204)
    silent = [
        url for url in browser.requests[silent_start:] if url.startswith(kluis.url(".oidc/auth?"))
    ]
    assert len(silent) == 1, browser.requests[silent_start:]
    assert "prompt=none" in silent[0]
    assert not any(
        url.startswith(kluis.url(".account/")) for url in browser.requests[silent_start:]
    )

    # What the browser wrote is what Kluis stored: read it back as alice, from Python.
    written = scenario.written
    async with aiohttp.ClientSession() as http:
        token = await client_credentials(kluis, http, alice)
        async with http.get(
            written, headers={"Accept": "text/turtle", **token.headers("GET", written)}
        ) as r:
            assert r.status == 200, await r.text()
            turtle = await r.text()
        async with http.get(written) as r:
            assert r.status == 401  # written into private/, so private too
    graph = Graph().parse(data=turtle, format="turtle", publicID=written)
    assert graph.value(URIRef(written + "#it"), SCHEMA_NAME) == Literal(WRITTEN_NAME)

    assert browser.unexpected(forbidden=scenario.forbidden) == [], problems_report(browser, kluis)
    log = kluis.log_text()
    assert "Traceback" not in log
    assert " ERROR " not in log
