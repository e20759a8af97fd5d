"""The "Who saw my data" page (`.account/disclosures`, issue 15 §2) without a browser, over real
HTTP: an owner's pod, a publisher (NPO) with a grant reading the owner's preferences under a
purpose, another person refused; the page puts the owner's access log in words, in English and
Dutch, its filters narrow it, only the owner sees it, and its retention form needs the session's
CSRF token and is kept. The log's storage differs per backend (a memory or a file journal), so
the tests that read or keep it run on both."""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest

from pod.app import create_app
from pod.http.keys import DISCLOSURES
from pod.vault.disclosures import day_of, key_of
from tests.idp.conftest import Kluis, api_token, browser_session, csrf_of, sign_up
from tests.idp.test_access_page import Publisher, signed_in_as
from tests.idp.test_pages import logged_in
from tests.interop.conftest import Person, Server, client_credentials, person

RECOMMENDATIONS = "https://w3id.org/dpv#ProvidePersonalisedRecommendations"
PREFERENCES = "alice/preferences/personalisation.ttl"
PAGE = ".account/disclosures"
BOTH = pytest.mark.parametrize(
    "kluis", [{"storage": "memory"}, {"storage": "file"}], ids=["memory", "file"], indirect=True
)
NAME_PATCH = """@prefix solid: <http://www.w3.org/ns/solid/terms#> .
_:p a solid:InsertDeletePatch ;
  solid:inserts { <#me> <http://xmlns.com/foaf/0.1/name> "%s" } ."""


@dataclass
class Reader:
    """Someone other than the owner, signed in through client credentials (an app of theirs)."""

    who: Person
    http: Publisher

    @property
    def client(self) -> str:
        return self.who.client_id


async def reader(kluis: Kluis, http: aiohttp.ClientSession, pod: str, name: str) -> Reader:
    """A new account with pod `pod`, whose profile names it `name`."""
    server = Server(kluis.base, Path("unused"))
    who = await person(server, http, pod)
    them = Reader(who, Publisher(kluis, http, await client_credentials(server, http, who)))
    card = who.webid.split("#", 1)[0]
    status, text = await them.http.call(
        "PATCH", card, data=NAME_PATCH % name, headers={"Content-Type": "text/n3"}
    )
    assert status in (200, 204), text
    return them


async def another_app(kluis: Kluis, http: aiohttp.ClientSession, of: Reader, name: str) -> Reader:
    """Another app of the same person: new client credentials acting as their WebID."""
    token = await api_token(kluis, of.who.email)
    async with http.post(
        kluis.url(".account/api/credentials"),
        json={"webId": of.who.webid, "name": name},
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        assert r.status == 201, await r.text()
        made = await r.json()
    who = replace(of.who, client_id=made["clientId"], client_secret=made["clientSecret"])
    server = Server(kluis.base, Path("unused"))
    return Reader(who, Publisher(kluis, http, await client_credentials(server, http, who)))


async def grant(kluis: Kluis, http: aiohttp.ClientSession, to: Reader, resource: str) -> None:
    """Alice lets `to`'s app read `resource` for personalised recommendations, for a day."""
    alice = await signed_in_as(kluis, http, "alice@example.org", "alice")
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86_400))
    body = {
        "recipient": to.who.webid,
        "client": to.client,
        "resources": [resource],
        "modes": ["read"],
        "purposes": [RECOMMENDATIONS],
        "expires": expires,
    }
    url = kluis.url(".kluis/consent/alice/grants")
    async with http.post(url, json=body, headers=alice.token.headers("POST", url)) as r:
        assert r.status == 201, await r.text()


async def scene(kluis: Kluis, http: aiohttp.ClientSession) -> tuple[Reader, Reader]:
    """Alice's pod; NPO reads her preferences three times for personalised recommendations
    (twice naming that purpose, once through the grant for it without naming it); Bob tries
    once and is refused. Returns NPO and Bob."""
    await sign_up(kluis, "alice@example.org", "alice")
    npo = await reader(kluis, http, "npo", "NPO")
    bob = await reader(kluis, http, "bob", "Bob")
    prefs = kluis.url(PREFERENCES)
    await grant(kluis, http, npo, prefs)
    for n in range(3):
        # The last read names no purpose: the grant's is the one it served.
        named = {"Kluis-Purpose": RECOMMENDATIONS} if n < 2 else {}
        status, text = await npo.http.call("GET", prefs, headers=named)
        assert status == 200, text
    assert (await bob.http.call("GET", prefs))[0] == 403
    return npo, bob


def text_of(page: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split()).replace(" ,", ",")


def sentences(page: str) -> list[str]:
    found = re.search(r'<ul class="sentences">(.*?)</ul>', page, re.S)
    return [text_of(li) for li in re.findall(r"<li>(.*?)</li>", found[1], re.S)] if found else []


def rows(page: str) -> list[str]:
    found = re.search(r'<table class="records"[^>]*>.*?<tbody>(.*?)</tbody>', page, re.S)
    return [text_of(tr) for tr in re.findall(r"<tr>(.*?)</tr>", found[1], re.S)] if found else []


async def page_of(
    kluis: Kluis, browser: aiohttp.ClientSession, language: str = "en", **query: str
) -> str:
    async with browser.get(
        kluis.url(PAGE), params=query, headers={"Accept-Language": language}
    ) as r:
        assert r.status == 200, await r.text()
        return await r.text()


@BOTH
async def test_a_grantees_reads_are_one_sentence_with_count_and_purpose(kluis: Kluis) -> None:
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        npo, bob = await scene(kluis, http)
        # Alice's profile is public: two reads by someone not signed in are only counted.
        for _ in range(2):
            async with http.get(kluis.url("alice/profile/card")) as r:
                assert r.status == 200
        await logged_in(kluis, browser, "alice@example.org")
        english = await page_of(kluis, browser)
        said = sentences(english)
        assert (
            "NPO read your preferences/personalisation 3 times this week for personalised "
            f"recommendations, using {npo.client}"
        ) in said
        assert (
            f"Bob tried to read your preferences/personalisation once this week, using "
            f"{bob.client}, but was refused"
        ) in said
        assert len(said) == 2
        latest = rows(english)
        assert len(latest) == 4
        assert "NPO" in latest[1]
        assert "Read" in latest[1]
        assert "Your permission for personalised recommendations, until" in latest[1]
        assert "Refused: tried to read" in latest[0]
        assert "Nothing allows it" in latest[0]
        text = text_of(english)
        assert "Anyone (not signed in) opened your profile/card 2 times on" in text
        dutch = await page_of(kluis, browser, "nl")
        assert (
            "NPO heeft je preferences/personalisation deze week 3 keer gelezen voor aanbevelingen "
            f"op maat, via {npo.client}"
        ) in sentences(dutch)
        assert (
            f"Bob probeerde je preferences/personalisation deze week één keer te lezen, via "
            f"{bob.client}, maar werd geweigerd"
        ) in sentences(dutch)
        assert "Jouw toestemming voor aanbevelingen op maat, tot" in text_of(dutch)
        assert "read your" not in dutch


async def test_filters_narrow_the_records_and_the_totals(kluis: Kluis) -> None:
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        npo, bob = await scene(kluis, http)
        await logged_in(kluis, browser, "alice@example.org")
        everything = await page_of(kluis, browser)
        # The filters offer who and what is in the log.
        for value in (npo.who.webid, bob.who.webid, npo.client, bob.client, RECOMMENDATIONS):
            assert f'<option value="{value}">' in everything, value
        assert (len(sentences(everything)), len(rows(everything))) == (2, 4)
        by_app = await page_of(kluis, browser, app=npo.client)
        assert [s.startswith("NPO read") for s in sentences(by_app)] == [True]
        assert len(rows(by_app)) == 3
        assert f'<option value="{npo.client}" selected>' in by_app
        assert f'<option value="{bob.client}">' in by_app  # still offered: the whole period's
        assert f'<option value="{bob.who.webid}">' in by_app
        by_person = await page_of(kluis, browser, who=bob.who.webid)
        assert [s.startswith("Bob tried") for s in sentences(by_person)] == [True]
        assert len(rows(by_person)) == 1
        assert "Someone who does not sign in has no name, app or purpose" in by_person
        by_purpose = await page_of(kluis, browser, purpose=RECOMMENDATIONS)
        assert len(sentences(by_purpose)) == 1
        assert len(rows(by_purpose)) == 3
        by_resource = await page_of(kluis, browser, resource=kluis.url("alice/profile/"))
        assert sentences(by_resource) == []
        assert "Nothing matches these filters this week." in text_of(by_resource)
        within = await page_of(kluis, browser, resource=kluis.url("alice/preferences/"))
        assert len(rows(within)) == 4  # a container selects what it holds
        today = await page_of(kluis, browser, days="1")
        assert "NPO read your preferences/personalisation 3 times today" in text_of(today)


async def test_another_account_sees_nothing_of_a_pod_it_does_not_own(kluis: Kluis) -> None:
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        await scene(kluis, http)
        await logged_in(kluis, browser, "npo@example.org")
        for query in ({"pod": "/alice/"}, {"resource": kluis.url(PREFERENCES)}):
            async with browser.get(kluis.url(PAGE), params=query) as r:
                assert r.status == 404
                assert "preferences" not in await r.text()
        own = await page_of(kluis, browser)
        assert "/alice/" not in own
        assert "NPO read" not in own
        assert "Nobody but you used this pod this week." in text_of(own)
        # nor its retention
        data = {"csrf": csrf_of(own), "pod": "/alice/", "days": "7"}
        async with browser.post(kluis.url(PAGE + "/retention"), data=data) as r:
            assert r.status == 404
        log = kluis.app[DISCLOSURES]
        assert log is not None
        assert log.retention("/alice/") == 365


@BOTH
async def test_retention_needs_the_csrf_token_and_is_kept(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    async with browser_session() as browser:
        await logged_in(kluis, browser, "alice@example.org")
        page = await page_of(kluis, browser)
        assert 'name="days" type="number" min="7" max="3650" required value="365"' in page
        retention = kluis.url(PAGE + "/retention")
        async with browser.post(retention, data={"pod": "/alice/", "days": "30"}) as r:
            assert r.status == 403
        async with browser.post(
            retention, data={"csrf": "not-the-token", "pod": "/alice/", "days": "30"}
        ) as r:
            assert r.status == 403
        for days in ("6", "3651", "a month"):
            form = {"csrf": csrf_of(page), "pod": "/alice/", "days": days}
            async with browser.post(retention, data=form) as r:
                assert r.status == 400
                assert "Keep the log at least 7 and at most 3650 days." in await r.text()
        form = {"csrf": csrf_of(page), "pod": "/alice/", "days": "30"}
        async with browser.post(retention, data=form) as r:
            assert r.status == 200
            assert r.url.query["done"] == "retention"
            saved = await r.text()
        assert "Saved: this log is kept 30 days from now on." in saved
        assert 'required value="30"' in saved
        assert 'required value="30"' in await page_of(kluis, browser)
    # Kept where the log is: a server started anew on the same data reads it back.
    log = create_app(kluis.settings)[DISCLOSURES]
    assert log is not None
    expected = 30 if kluis.settings.storage == "file" else 365  # memory forgets, by design
    assert log.retention("/alice/") == expected


async def test_an_anonymous_visitor_is_sent_to_log_in(kluis: Kluis) -> None:
    async with browser_session() as anonymous:
        async with anonymous.get(kluis.url(PAGE), allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"] == kluis.url(".account/login")
        async with anonymous.post(
            kluis.url(PAGE + "/retention"),
            data={"pod": "/alice/", "days": "7"},
            allow_redirects=False,
        ) as r:
            assert r.status == 303


async def test_an_empty_log_says_what_the_page_will_show_and_is_linked(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    async with browser_session() as browser:
        account = await logged_in(kluis, browser, "alice@example.org")
        assert f'href="/{PAGE}"' in account
        async with browser.get(kluis.url(".account/access")) as r:
            assert f'href="/{PAGE}"' in await r.text()
        text = text_of(await page_of(kluis, browser))
        assert "Nobody but you used this pod this week." in text
        assert "you will see it here: who, with which app, what" in text
        assert "No requests to show yet." in text
        assert "Nobody opened public data of this pod without signing in this week." in text
        dutch = text_of(await page_of(kluis, browser, "nl", days="30"))
        assert "Wie je gegevens zag" in dutch
        assert "Niemand behalve jij heeft deze pod in de afgelopen 30 dagen gebruikt." in dutch


async def test_an_erased_account_is_named_as_such(kluis: Kluis) -> None:
    """Erasure leaves a pseudonym in other owners' logs (decision D2): the page names no one,
    and looks no profile up for it."""
    await sign_up(kluis, "alice@example.org", "alice")
    log = kluis.app[DISCLOSURES]
    assert log is not None
    now = time.time()
    erased = "urn:kluis:erased:0f3a9c2e71b4"
    record = {"v": 1, "t": now, "r": "x", "a": erased, "c": None, "m": "PUT", "s": 204}
    record |= {"p": "/alice/notes/today", "u": [], "b": []}
    log.journal.append(key_of("/alice/"), day_of(now), json.dumps(record).encode())
    async with browser_session() as browser:
        await logged_in(kluis, browser, "alice@example.org")
        page = await page_of(kluis, browser)
        assert sentences(page) == [
            "Someone whose account was deleted changed your notes/today once this week, using "
            "an app without a name"
        ]
        [row] = rows(page)
        assert f"Someone whose account was deleted {erased}" in row
        assert "Someone whose account was deleted (0f3a9c2e)" in text_of(page)
        dutch = await page_of(kluis, browser, "nl")
        assert sentences(dutch) == [
            "Iemand van wie het account is verwijderd heeft je notes/today deze week één keer "
            "gewijzigd, via een app zonder naam"
        ]
