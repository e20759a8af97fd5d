"""The consent dashboard (`.account/access`, issue 14 §5) without a browser: what it shows, and
what its forms do, in English and Dutch. A publisher (its own account and client credentials)
asks through the vault API; the owner decides on the page; the publisher reads over HTTP."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from pod.vault.purposes import purposes
from tests.idp.conftest import Kluis, api_token, browser_session, csrf_of, sign_up
from tests.idp.test_pages import logged_in
from tests.interop.conftest import Person, Server, Token, client_credentials, person

RECOMMENDATIONS = "https://w3id.org/dpv#ProvidePersonalisedRecommendations"
ADVERTISING = "https://w3id.org/dpv#PersonalisedAdvertising"
TURTLE = {"Content-Type": "text/turtle"}


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def ask_body(resources: list[str], purpose: str = RECOMMENDATIONS, modes: str = "acl:Read") -> str:
    named = ", ".join(f"<{r}>" for r in resources)
    return f"""@prefix vc: <http://www.w3.org/ns/solid/vc#> .
@prefix gc: <https://w3id.org/GConsent#> .
@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix cred: <https://www.w3.org/2018/credentials#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<> a vc:SolidAccessRequest ; gc:forPersonalData {named} ; acl:mode {modes} ;
   gc:forPurpose <{purpose}> ; cred:expirationDate "{iso(time.time() + 86400)}"^^xsd:dateTime ;
   rdfs:comment "Voor je leestips"@nl, "For your reading tips"@en .
"""


class Publisher:
    def __init__(self, kluis: Kluis, http: aiohttp.ClientSession, token: Token) -> None:
        self.kluis, self.http, self.token = kluis, http, token

    async def call(self, method: str, url: str, **options: Any) -> tuple[int, str]:
        headers = {**self.token.headers(method, url), **options.pop("headers", {})}
        async with self.http.request(method, url, headers=headers, **options) as r:
            return r.status, await r.text()


async def publisher(kluis: Kluis, http: aiohttp.ClientSession) -> Publisher:
    news = await person(Server(kluis.base, Path("unused")), http, "news")
    return Publisher(
        kluis, http, await client_credentials(Server(kluis.base, Path("u")), http, news)
    )


def form_of(html: str, action: str, request_id: str | None = None) -> str:
    """The form posting to `action` (for a request, the one for `request_id`)."""
    for form in re.findall(r"<form .*?</form>", html, re.S):
        if f'action="{action}"' in form and (request_id is None or request_id in form):
            return str(form)
    raise AssertionError(f"no form for {action}")


async def test_the_owner_shares_part_of_a_request_then_stops_with_one_click(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        news = await publisher(kluis, http)
        # Alice's pod holds three documents the publisher asks for.
        owner = (await signed_in_as(kluis, http, "alice@example.org", "alice")).token
        wanted = [kluis.url(f"alice/reading/{n}") for n in ("topics", "authors", "history")]
        for url in wanted:
            async with http.put(
                url,
                data=f"<#it> <#is> '{url[-6:]}' .",
                headers={**TURTLE, **owner.headers("PUT", url)},
            ) as r:
                assert r.status == 201, await r.text()
        status, answer = await news.call(
            "POST",
            kluis.url(".kluis/consent/alice/requests"),
            data=ask_body(wanted),
            headers=TURTLE,
        )
        assert status == 201, answer
        await logged_in(kluis, browser, "alice@example.org")
        async with browser.get(kluis.url(".account/access")) as r:
            assert r.status == 200
            page = await r.text()
        assert "Waiting for your decision" in page
        assert "For your reading tips" in page
        assert "recommendations" in page.lower()
        decide = form_of(page, "/.account/access/decide")
        boxes = re.findall(r'<input type="checkbox"[^>]*>', decide)
        assert len(boxes) == 3
        assert not [b for b in boxes if "checked" in b]  # nothing pre-selected
        assert decide.count('type="submit"') == 2  # share and deny, side by side
        request_id = re.search(r'name="request" value="([0-9a-f]{32})"', decide)
        assert request_id is not None
        # Nothing ticked: nothing shared.
        form = {
            "csrf": csrf_of(page),
            "pod": "/alice/",
            "request": request_id[1],
            "action": "approve",
        }
        async with browser.post(kluis.url(".account/access/decide"), data=form) as r:
            assert r.status == 400
            assert "Tick what you want to share" in await r.text()
        form.update({"resource-0": wanted[0], "resource-1": wanted[1]})
        async with browser.post(kluis.url(".account/access/decide"), data=form) as r:
            assert r.status == 200
            shared = await r.text()
        assert "Shared." in shared
        assert "What you share now" in shared
        assert (await news.call("GET", wanted[0]))[0] == 200
        assert (await news.call("GET", wanted[1]))[0] == 200
        assert (await news.call("GET", wanted[2]))[0] == 403
        withdraw = form_of(shared, "/.account/access/withdraw")
        grant = re.search(r'name="grant" value="([^"]+)"', withdraw)
        assert grant is not None
        data = {"csrf": csrf_of(shared), "pod": "/alice/", "grant": grant[1].replace("&amp;", "&")}
        async with browser.post(kluis.url(".account/access/withdraw"), data=data) as r:
            assert r.status == 200
            after = await r.text()
        assert "Stopped." in after
        status, text = await news.call("GET", wanted[0])
        assert status == 403
        assert "withdrawn" in text
        for happened in ("Asked", "You shared it", "You stopped sharing"):
            assert happened in after


async def signed_in_as(
    kluis: Kluis, http: aiohttp.ClientSession, email: str, pod: str, name: str = "script"
) -> Publisher:
    """New client credentials of the account `email`, acting as its pod's WebID, and a token."""
    token = await api_token(kluis, email)
    async with http.post(
        kluis.url(".account/api/credentials"),
        json={"webId": kluis.url(f"{pod}/profile/card#me"), "name": name},
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        assert r.status == 201, await r.text()
        made = await r.json()
    who = Person(
        email=email,
        webid=made["webId"],
        pod_root=kluis.url(pod + "/"),
        client_id=made["clientId"],
        client_secret=made["clientSecret"],
    )
    bound = await client_credentials(Server(kluis.base, Path("unused")), http, who)
    return Publisher(kluis, http, bound)


async def test_the_page_in_dutch_with_purpose_labels(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        news = await publisher(kluis, http)
        wanted = [kluis.url("alice/preferences/personalisation.ttl")]
        status, _ = await news.call(
            "POST",
            kluis.url(".kluis/consent/alice/requests"),
            data=ask_body(wanted),
            headers=TURTLE,
        )
        assert status == 201
        await logged_in(kluis, browser, "alice@example.org")
        async with browser.get(
            kluis.url(".account/access"), headers={"Accept-Language": "nl"}
        ) as r:
            page = await r.text()
            assert r.headers["Content-Language"] == "nl"
        for dutch in (
            "Toegang tot je gegevens",
            "Wacht op jouw beslissing",
            "Deel wat ik heb aangevinkt",
        ):
            assert dutch in page, dutch
        assert "Voor je leestips" in page  # their words, in the reader's language
        assert "Waiting for your decision" not in page


async def test_a_purpose_never_allowed_is_turned_down_without_showing_it(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        page = await logged_in(kluis, browser, "alice@example.org")
        async with browser.get(kluis.url(".account/access")) as r:
            page = await r.text()
        choices = form_of(page, "/.account/access/choices")
        checked = re.findall(r'name="purpose-\d+" value="(\w+)"[^>]*checked', choices)
        assert len(checked) == len(purposes())
        assert set(checked) == {"ask"}  # "ask me" until the person says otherwise
        advertising = f"purpose-{list(purposes()).index(ADVERTISING)}"
        data = {"csrf": csrf_of(page), "pod": "/alice/", advertising: "never"}
        async with browser.post(kluis.url(".account/access/choices"), data=data) as r:
            assert r.status == 200
            assert "Your choices are saved." in await r.text()
        news = await publisher(kluis, http)
        status, answer = await news.call(
            "POST",
            kluis.url(".kluis/consent/alice/requests"),
            data=ask_body([kluis.url("alice/preferences/personalisation.ttl")], ADVERTISING),
            headers=TURTLE,
        )
        assert status == 201
        assert '"denied"' in answer
        async with browser.get(kluis.url(".account/access")) as r:
            page = await r.text()
        assert "Nobody is waiting for an answer from you." in page
        assert "Turned down: a purpose you never allow" in page


async def test_forms_need_the_sessions_csrf_token_and_the_owners_pod(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    await sign_up(kluis, "bob@example.org", "bob")
    async with browser_session() as browser:
        page = await logged_in(kluis, browser, "alice@example.org")
        async with browser.post(
            kluis.url(".account/access/choices"), data={"pod": "/alice/", "purpose-0": "never"}
        ) as r:
            assert r.status == 403
        async with browser.post(
            kluis.url(".account/access/choices"),
            data={"csrf": csrf_of(page), "pod": "/bob/", "purpose-0": "never"},
        ) as r:
            assert r.status == 404
    async with (
        browser_session() as anonymous,
        anonymous.get(kluis.url(".account/access"), allow_redirects=False) as r,
    ):
        assert r.status in (302, 303)


async def test_the_owner_may_allow_fewer_modes_than_asked(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        news = await publisher(kluis, http)
        wanted = kluis.url("alice/preferences/personalisation.ttl")
        status, _ = await news.call(
            "POST",
            kluis.url(".kluis/consent/alice/requests"),
            data=ask_body([wanted], modes="acl:Read, acl:Append"),
            headers=TURTLE,
        )
        assert status == 201
        await logged_in(kluis, browser, "alice@example.org")
        async with browser.get(kluis.url(".account/access")) as r:
            page = await r.text()
        decide = form_of(page, "/.account/access/decide")
        modes = re.findall(r'<input type="checkbox" name="mode-(\w+)"[^>]*>', decide)
        assert modes == ["read", "append"]
        assert "checked" not in "".join(re.findall(r'<input type="checkbox"[^>]*>', decide))
        request_id = re.search(r'name="request" value="([0-9a-f]{32})"', decide)
        assert request_id is not None
        form = {
            "csrf": csrf_of(page),
            "pod": "/alice/",
            "request": request_id[1],
            "action": "approve",
            "resource-0": wanted,
        }
        async with browser.post(kluis.url(".account/access/decide"), data=form) as r:
            assert r.status == 400
            assert "Tick what you allow them to do" in await r.text()
        form["mode-read"] = "read"
        async with browser.post(kluis.url(".account/access/decide"), data=form) as r:
            assert r.status == 200
        async with http.head(wanted, headers=news.token.headers("HEAD", wanted)) as r:
            assert r.status == 200
            assert 'user="read"' in r.headers["WAC-Allow"]
