"""Refusals on the owner's pages (issue 15 §2-§5) over real HTTP: each is said in the reader's
language through the one page-error catalogue (pod.http.i18n), with the status that the one
error table (pod.http.errors) gives its kind of error."""

from __future__ import annotations

import re
from html import unescape
from typing import Final

import aiohttp
import pytest

from pod import paths
from pod.errors import PodError
from pod.http.data_view import check_webid
from pod.http.i18n import Text, load_translations, page_error
from pod.ratelimit import RateLimiter
from pod.rights.erasure import GUESSES
from pod.rights.exporting import Exports
from tests.idp.conftest import Kluis, browser_session, csrf_of, sign_up
from tests.idp.test_access_page import publisher
from tests.idp.test_pages import logged_in

EMAIL: Final = "alice@example.org"
DUTCH: Final = {"Accept-Language": "nl-NL,nl;q=0.9"}
DATA: Final = ".account/data/alice/"


def _alert(html: str) -> str:
    """The page's error, as the reader sees it."""
    found = re.search(r'<div class="error" role="alert">(.*?)</div>', html, re.S)
    assert found is not None, html[:2000]
    return unescape(found[1]).strip()


async def _csrf(browser: aiohttp.ClientSession, url: str) -> str:
    async with browser.get(url) as r:
        assert r.status == 200
        return csrf_of(await r.text())


def _message_of(exc: BaseException) -> str:
    assert isinstance(exc, PodError)
    return exc.message


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a\x00b", "x" * 201, ".well-known", ".kluis-x", ".ACL"]
)
def test_every_name_the_store_refuses_has_a_dutch_reason(name: str) -> None:
    with pytest.raises(PodError) as refused:
        paths.check_name(name)
    said = page_error(_message_of(refused.value))
    assert isinstance(said, Text)
    assert said.msgid == "That name cannot be used here. Choose another one."


def test_the_catalogue_knows_the_messages_the_pages_show() -> None:
    """Messages made by the code that raises them (not copied), so a reworded one is noticed:
    each is a page string of the catalogue, not shown in English as it is."""
    nl = load_translations("nl")
    made: list[str] = []
    limiter = RateLimiter(limit=1, window=60, what="wrong passwords on the erase page")
    limiter.take("alice")
    with pytest.raises(PodError) as refused:
        limiter.take("alice")
    made.append(_message_of(refused.value))
    exports = Exports(limit=1)
    with exports.running("/alice/", account="a"):
        # The pod busy, the account busy, the server busy.
        for root, account in (("/alice/", "b"), ("/bob/", "a"), ("/bob/", "b")):
            with pytest.raises(PodError) as refused, exports.running(root, account=account):
                pass
            made.append(_message_of(refused.value))
    for webid in ("ftp://x.example/", "https://x.example/{"):
        with pytest.raises(PodError) as refused:
            check_webid(webid)
        made.append(_message_of(refused.value))
    for message in made:
        said = page_error(message)
        assert isinstance(said, Text), message
        assert said.msgid != message[:1].upper() + message[1:], message  # not the fallback
        assert said.translate(nl) != said.msgid, message


async def test_the_erase_pages_refusals_are_in_dutch(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser:
        await logged_in(kluis, browser, EMAIL)
        csrf = await _csrf(browser, kluis.url(".account/erase"))
        form = {"csrf": csrf, "what": "alice", "confirm": "yes", "password": "not it at all"}
        for _ in range(GUESSES):
            async with browser.post(kluis.url(".account/erase"), data=form, headers=DUTCH) as r:
                assert r.status == 401
                assert _alert(await r.text()) == "Dat is niet je wachtwoord. Er is niets gewist."
        # pod.rights.erasure's limit on guesses, in English in the JSON API, in Dutch here.
        async with browser.post(kluis.url(".account/erase"), data=form, headers=DUTCH) as r:
            assert r.status == 429
            said = _alert(await r.text())
            assert re.fullmatch(
                r"Te veel verkeerde wachtwoorden\. Probeer het over \d+ seconden opnieuw\.", said
            ), said


async def test_my_datas_refusals_are_in_dutch(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser:
        await logged_in(kluis, browser, EMAIL)
        csrf = await _csrf(browser, kluis.url(DATA))
        # The store's refusal (MethodNotAllowed), through the catalogue.
        async with browser.post(
            kluis.url(DATA), data={"csrf": csrf, "action": "delete"}, headers=DUTCH
        ) as r:
            assert r.status == 405
            assert _alert(await r.text()) == (
                "Een pod zelf kan hier niet worden verwijderd: wis hem op je accountpagina."
            )
        # The page's own refusal (BadRequest), through the same catalogue.
        share = {"csrf": csrf, "action": "share", "webid": "https://x.example/a>b"}
        async with browser.post(kluis.url(DATA), data=share, headers=DUTCH) as r:
            assert r.status == 400
            assert _alert(await r.text()) == (
                "https://x.example/a>b is geen webadres dat een WebID kan hebben. "
                "Controleer het op typefouten."
            )
        # A folder that is not empty (Conflict), as before, now from the catalogue.
        async with browser.post(
            kluis.url(DATA + "settings/"), data={"csrf": csrf, "action": "delete"}, headers=DUTCH
        ) as r:
            assert r.status == 409
            assert _alert(await r.text()) == "Deze map is niet leeg: maak hem eerst leeg."


async def test_the_import_forms_refusals_are_in_dutch(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser:
        await logged_in(kluis, browser, EMAIL)
        csrf = await _csrf(browser, kluis.url(".account/"))
        form = aiohttp.FormData()
        form.add_field("csrf", csrf)
        form.add_field("pod", "fresh")
        form.add_field("archive", b"not an archive", filename="x.tar.gz")
        async with browser.post(kluis.url(".account/import"), data=form, headers=DUTCH) as r:
            assert r.status == 400
            assert _alert(await r.text()) == (
                "Dit archief kan niet worden geïmporteerd: het is beschadigd, of geen export "
                "van een pod."
            )


async def test_a_retention_out_of_range_is_a_bad_request_in_words(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser:
        await logged_in(kluis, browser, EMAIL)
        csrf = await _csrf(browser, kluis.url(".account/disclosures"))
        form = {"csrf": csrf, "pod": "/alice/", "days": "0"}
        async with browser.post(
            kluis.url(".account/disclosures/retention"), data=form, headers=DUTCH
        ) as r:
            assert r.status == 400
            assert re.fullmatch(
                r"Bewaar het log minstens \d+ en hoogstens \d+ dagen\.",
                _alert(await r.text()),
            )


NAVIGATE: Final = {
    "Sec-Fetch-Mode": "navigate",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}


async def test_a_browser_navigating_to_a_refused_resource_gets_a_page(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with aiohttp.ClientSession() as http:
        private = kluis.url("alice/settings/prefs.ttl")
        # 401: a page in the reader's language, linking to the log-in page; the challenge
        # stays, and no session cookie is set on a pod's URL.
        async with http.get(private, headers={**NAVIGATE, **DUTCH}) as r:
            assert r.status == 401
            assert r.content_type == "text/html"
            assert r.headers["Content-Language"] == "nl"
            assert r.headers["WWW-Authenticate"].startswith("DPoP ")
            assert "Set-Cookie" not in r.headers
            page = await r.text()
            assert 'href="/.account/login"' in page
            assert "Dit is niet openbaar" in page
        # 403: signed in, but not shared with them; 404, in English by default.
        news = await publisher(kluis, http)
        status, text = await news.call("GET", private, headers=NAVIGATE)
        assert status == 403
        assert "It is not shared with you." in text
        status, text = await news.call("GET", kluis.url("news/nothing-here"), headers=NAVIGATE)
        assert status == 404
        assert "There is nothing at this address." in text
        # Anyone else (an app's fetch, curl, a browser's fetch from a page) keeps the problem.
        for headers in (
            {},
            {"Accept": "text/turtle"},
            {**NAVIGATE, "Sec-Fetch-Mode": "cors"},
        ):
            async with http.get(private, headers=headers) as r:
                assert r.status == 401
                assert r.content_type == "application/problem+json", headers
        async with http.head(private, headers=NAVIGATE) as r:
            assert r.status == 401
            assert r.content_type != "text/html"
