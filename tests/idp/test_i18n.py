"""The account pages' languages: the catalogs cover every page string, the reader's language is
chosen from the switch's cookie and Accept-Language, and the pages (errors included) show it.

Catalog checks use Babel's own extractor over what pod/locales/babel.cfg names (the templates and
the `N_()` strings in pod/http), so a string added to a page without a translation fails here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import aiohttp
import pytest
import zxcvbn.feedback
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from pod.http.i18n import (
    COOKIE,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    PASSWORD_FEEDBACK,
    choose_language,
    load_translations,
    page_error,
)
from tests.idp.conftest import PASSWORD, Kluis, browser_session, csrf_of, sign_up

ROOT: Final = Path(__file__).resolve().parents[2]
LOCALES: Final = ROOT / "pod" / "locales"
TRANSLATED: Final = tuple(language for language in LANGUAGES if language != DEFAULT_LANGUAGE)


def extracted() -> dict[str, list[str]]:
    """Every page string, as `make messages` extracts it: msgid -> where it is."""
    with (LOCALES / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)  # type: ignore[no-untyped-call]
    found: dict[str, list[str]] = {}
    for filename, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map):
        # A plural ({% trans count %}) is (singular, plural), kept under its singular, as a
        # catalog keeps it.
        msgid = message[0] if isinstance(message, tuple) else message
        assert isinstance(msgid, str), f"{filename}: context forms are not used"
        found.setdefault(msgid, []).append(filename)
    return found


def singular(msgid: object) -> str:
    """A catalog entry's msgid; a plural entry's singular one."""
    return str(msgid[0] if isinstance(msgid, tuple | list) else msgid)


def is_translated(string: object) -> bool:
    """Every form filled in (a plural has one per form of the language)."""
    return all(string) if isinstance(string, tuple | list) else bool(string)


def catalog(language: str) -> Catalog:
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=language)


def test_the_extractor_finds_the_pages_strings() -> None:
    found = extracted()
    # from a template, a {% trans %} block, a handler, and an error the pages show
    for msgid in (
        "Pods and WebIDs",
        "Allow %(app)s?",
        "Log in",
        "Wrong e-mail address or password.",
    ):
        assert msgid in found
    assert any(f.endswith(".html") for f in found["Connected apps"])
    assert any(f.endswith(".py") for f in found["This sign-in request has expired"])


def problems(found: Iterable[str], translations: Catalog) -> dict[str, list[str]]:
    """What keeps `translations` from covering the page strings `found`, by kind."""
    found = set(found)
    return {
        "missing (make messages, then translate)": [
            m
            for m in sorted(found)
            if m not in translations or not is_translated(translations[m].string)
        ],
        "guessed, to check (remove '#, fuzzy')": [
            singular(m.id) for m in translations if m.id and m.fuzzy
        ],
        "no page uses them (make messages)": [
            singular(m.id) for m in translations if m.id and singular(m.id) not in found
        ],
        # the same %(name)s placeholders in each translation as in its msgid
        "placeholders differ": [
            f"{m.id}: {'; '.join(str(e) for e in errors)}" for m, errors in translations.check()
        ],
    }


NO_PROBLEMS: Final[dict[str, list[str]]] = {kind: [] for kind in problems((), Catalog())}


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_page_string_is_translated(language: str) -> None:
    assert problems(extracted(), catalog(language)) == NO_PROBLEMS


def test_the_catalog_check_finds_each_problem() -> None:
    translations = catalog("nl")
    found = set(extracted())
    assert problems(found | {"A new string"}, translations)[
        "missing (make messages, then translate)"
    ] == ["A new string"]
    assert problems(found - {"Log in"}, translations)["no page uses them (make messages)"] == [
        "Log in"
    ]
    translations["Log in"].flags.add("fuzzy")
    translations["Allow %(app)s?"].string = "%(naam)s toestaan?"
    # a plural with one of its forms left empty
    plural = "Anyone (not signed in) opened your %(what)s once on %(day)s"
    forms = translations[plural].string
    assert isinstance(forms, tuple)
    assert all(forms)
    translations[plural].string = (forms[0], "")
    found_problems = problems(found, translations)
    assert found_problems["guessed, to check (remove '#, fuzzy')"] == ["Log in"]
    assert len(found_problems["placeholders differ"]) == 1
    assert found_problems["missing (make messages, then translate)"] == [plural]


def test_password_feedback_is_zxcvbns() -> None:
    """zxcvbn's own strings (its feedback.py marks them for gettext), so an upgrade that changes
    them shows here instead of leaving the feedback untranslated."""
    theirs = {m[1] for m in extract_from_file("python", zxcvbn.feedback.__file__)}
    assert {t.msgid for t in PASSWORD_FEEDBACK} == theirs


@pytest.mark.parametrize(
    ("cookie", "accept_language", "expected"),
    [
        (None, None, "en"),
        (None, "", "en"),
        (None, "nl", "nl"),
        (None, "nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7", "nl"),
        (None, "nl-BE", "nl"),
        (None, "NL-nl", "nl"),
        (None, "en;q=0.5, nl;q=0.8", "nl"),
        (None, "en-GB,en;q=0.9,nl;q=0.8", "en"),
        (None, "fr-FR, de;q=0.9", "en"),
        (None, "fr, nl;q=0.1", "nl"),
        (None, "nl;q=0, en", "en"),
        (None, "*", "en"),
        (None, ";;;,,=q", "en"),
        ("nl", "en", "nl"),  # the switch wins
        ("en", "nl", "en"),
        ("de", "nl", "nl"),  # a cookie naming no language of ours is ignored
    ],
)
def test_choose_language(cookie: str | None, accept_language: str | None, expected: str) -> None:
    assert choose_language(cookie=cookie, accept_language=accept_language) == expected


def test_errors_shown_on_pages() -> None:
    nl = load_translations("nl")
    assert page_error("wrong e-mail address or password").translate(nl) == (
        "Verkeerd e-mailadres of wachtwoord."
    )
    assert page_error("too many failed log-ins from here; try again in 42 seconds").translate(
        nl
    ) == (
        "Te veel mislukte inlogpogingen vanaf dit internetadres. "
        "Probeer het over 42 seconden opnieuw."
    )
    # zxcvbn's sentences, one of which holds ". " itself, and one we do not know
    weak = page_error(
        "this password is too easy to guess. Add another word or two. Uncommon words are better. "
        "Something new."
    )
    assert weak.translate(nl) == (
        "Dit wachtwoord is te makkelijk te raden. Voeg nog een of twee woorden toe. Ongewone "
        "woorden werken beter. Something new."
    )
    # A message the pages do not know is shown as it is: English, rather than nothing.
    assert page_error("something nobody translated: 100%").translate(nl) == (
        "Something nobody translated: 100%"
    )


# --- the pages over HTTP --------------------------------------------------------------------


def lang_of(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', page)
    assert found, page[:200]
    return found.group(1)


def text_of(page: str) -> str:
    """The page's text, as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize(
    ("headers", "expected", "heading"),
    [
        ({}, "en", "Sign up"),
        ({"Accept-Language": "en-US,en;q=0.9"}, "en", "Sign up"),
        ({"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.8"}, "nl", "Account aanmaken"),
        ({"Accept-Language": "de-DE,de;q=0.9"}, "en", "Sign up"),
        ({"Accept-Language": "en", "Cookie": f"{COOKIE}=nl"}, "nl", "Account aanmaken"),
        ({"Accept-Language": "nl", "Cookie": f"{COOKIE}=en"}, "en", "Sign up"),
    ],
)
async def test_page_language(
    kluis: Kluis, headers: dict[str, str], expected: str, heading: str
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(kluis.url(".account/signup"), headers=headers) as r,
    ):
        page = await r.text()
        assert r.status == 200
        assert lang_of(page) == expected
        assert r.headers["Content-Language"] == expected
        vary = {v.strip().lower() for v in r.headers.getall("Vary", [""])[0].split(",")}
        assert {"accept-language", "cookie"} <= vary
        assert f"<h1>{heading}</h1>" in page
        assert r.headers["Cache-Control"] == "no-store"


async def test_switch_remembers_the_language_and_goes_back(kluis: Kluis) -> None:
    async with browser_session() as s:
        async with s.get(kluis.url(".account/login?auth=abc")) as r:
            page = await r.text()
        # The switch links to the other language, coming back to this very page.
        links = re.findall(r'<a href="([^"]*language[^"]*)" lang="nl"', page)
        assert len(links) == 1
        async with s.get(kluis.url(html.unescape(links[0])), allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"] == kluis.url(".account/login?auth=abc")
            cookie = r.headers["Set-Cookie"]
            assert cookie.startswith(f"{COOKIE}=nl;")
            assert "SameSite=Lax" in cookie
            assert "Path=/;" in cookie or cookie.endswith("Path=/")
        # The cookie wins over Accept-Language, on every page.
        for path in (".account/login", ".account/signup", ".oidc/session/end"):
            async with s.get(kluis.url(path), headers={"Accept-Language": "en"}) as r:
                assert lang_of(await r.text()) == "nl", path
        async with s.get(
            kluis.url(".account/language?lang=en&back=/.account/signup"), allow_redirects=True
        ) as r:
            assert lang_of(await r.text()) == "en"
            assert str(r.url) == kluis.url(".account/signup")


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "javascript:alert(1)",
        "",
    ],
)
async def test_switch_goes_back_only_to_our_pages(kluis: Kluis, back: str) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            kluis.url(".account/language"),
            params={"lang": "nl", "back": back},
            allow_redirects=False,
        ) as r,
    ):
        assert r.status == 303
        assert r.headers["Location"] == kluis.url(".account/")


async def test_switch_ignores_a_language_we_do_not_have(kluis: Kluis) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            kluis.url(".account/language?lang=fr&back=/.account/login"), allow_redirects=False
        ) as r,
    ):
        assert r.status == 303
        assert "Set-Cookie" not in r.headers


NL: Final = {"Accept-Language": "nl"}


async def _english_left_in(page: str) -> list[str]:
    """English page strings still on a Dutch page (those whose Dutch differs, without values)."""
    text = text_of(page)
    return [
        m.id
        for m in catalog("nl")
        if m.id
        and isinstance(m.id, str)
        and m.string != m.id
        and "%" not in m.id
        and "<" not in m.id
        and " " in m.id  # single words ("App", "Pod") may be names too
        and m.id in text
    ]


async def test_every_string_on_the_dutch_pages_is_dutch(kluis: Kluis) -> None:
    await sign_up(kluis, "nina@example.org", "nina")
    async with browser_session() as s:
        pages: dict[str, str] = {}
        for path in (".account/signup", ".account/login", ".oidc/session/end"):
            async with s.get(kluis.url(path), headers=NL) as r:
                pages[path] = await r.text()
        async with s.post(
            kluis.url(".account/login"),
            data={
                "csrf": csrf_of(pages[".account/login"]),
                "email": "nina@example.org",
                "password": PASSWORD,
            },
            headers=NL,
        ) as r:
            pages["account"] = await r.text()
            assert str(r.url) == kluis.url(".account/")
        async with s.post(
            kluis.url(".account/credentials"),
            data={
                "csrf": csrf_of(pages["account"]),
                "name": "nieuwsbrief",
                "webid": kluis.url("nina/profile/card#me"),
            },
            headers=NL,
        ) as r:
            pages["credentials"] = await r.text()
        async with s.get(kluis.url(".account/continue?auth=gone"), headers=NL) as r:
            assert r.status == 400
            pages["expired"] = await r.text()
    for name, page in pages.items():
        assert lang_of(page) == "nl", name
        assert await _english_left_in(page) == [], name
    assert "Je account" in pages["account"]
    assert "Sleutel 'nieuwsbrief' is aangemaakt." in text_of(pages["credentials"])
    assert "Dit inlogverzoek is verlopen" in pages["expired"]
    assert "Uitloggen bij Kluis?" in pages[".oidc/session/end"]


@pytest.mark.parametrize(
    ("form", "english", "dutch"),
    [
        (
            {"email": "o@example.org", "password": "short", "pod": "olaf"},
            "A password needs at least 8 characters.",
            "Een wachtwoord moet minstens 8 tekens hebben.",
        ),
        (
            {"email": "o@example.org", "password": "aaaaaaaaaaaa", "pod": "olaf"},
            'This password is too easy to guess. Repeats like "aaa" are easy to guess. Add '
            "another word or two. Uncommon words are better. Avoid repeated words and characters.",
            'Dit wachtwoord is te makkelijk te raden. Herhalingen zoals "aaa" zijn makkelijk te '
            "raden. Voeg nog een of twee woorden toe. Ongewone woorden werken beter. Vermijd "
            "herhaalde woorden en tekens.",
        ),
        (
            {"email": "not an address", "password": PASSWORD, "pod": "olaf"},
            "That is not an e-mail address.",
            "Dat is geen e-mailadres.",
        ),
        (
            {"email": "o@example.org", "password": PASSWORD, "pod": "taken"},
            "The pod name 'taken' is taken.",
            "De podnaam 'taken' is al in gebruik.",
        ),
        (
            {"email": "taken@example.org", "password": PASSWORD, "pod": "olaf"},
            "There is already an account with that e-mail address.",
            "Er is al een account met dat e-mailadres.",
        ),
        (
            {"email": "o@example.org", "password": PASSWORD, "pod": "-bad"},
            "'-bad' cannot be a pod name.",
            "'-bad' kan geen podnaam zijn.",
        ),
    ],
)
async def test_sign_up_errors_in_both_languages(
    kluis: Kluis, form: dict[str, str], english: str, dutch: str
) -> None:
    await sign_up(kluis, "taken@example.org", "taken")
    for headers, expected, wrong in (({}, english, dutch), (NL, dutch, english)):
        async with browser_session() as s:
            async with s.get(kluis.url(".account/signup"), headers=headers) as r:
                csrf = csrf_of(await r.text())
            async with s.post(
                kluis.url(".account/signup"), data={"csrf": csrf, **form}, headers=headers
            ) as r:
                # The status of the error's kind (pod.http.errors): a name already used is 409.
                assert r.status == (409 if "taken" in form["pod"] + form["email"] else 400)
                text = " ".join(text_of(await r.text()).split())
        assert expected in text
        assert wrong not in text


async def test_log_in_error_and_its_switch_in_dutch(kluis: Kluis) -> None:
    await sign_up(kluis, "piet@example.org", "piet")
    async with browser_session() as s:
        async with s.get(kluis.url(".account/login"), headers=NL) as r:
            csrf = csrf_of(await r.text())
        async with s.post(
            kluis.url(".account/login"),
            data={"csrf": csrf, "email": "piet@example.org", "password": "wrong password"},
            headers=NL,
        ) as r:
            assert r.status == 401
            page = await r.text()
        assert "Verkeerd e-mailadres of wachtwoord." in page
        # the page's switch goes back to the log-in page, not to the POST's address
        link = re.search(r'<a href="([^"]*language[^"]*)" lang="en"', page)
        assert link is not None
        async with s.get(kluis.url(html.unescape(link.group(1))), allow_redirects=False) as r:
            assert r.headers["Location"] == kluis.url(".account/login")


async def test_account_page_errors_in_dutch(kluis: Kluis) -> None:
    await sign_up(kluis, "quinten@example.org", "quinten")
    async with browser_session() as s:
        async with s.get(kluis.url(".account/login"), headers=NL) as r:
            csrf = csrf_of(await r.text())
        async with s.post(
            kluis.url(".account/login"),
            data={"csrf": csrf, "email": "quinten@example.org", "password": PASSWORD},
            headers=NL,
        ) as r:
            csrf = csrf_of(await r.text())
        async with s.post(
            kluis.url(".account/credentials"),
            data={"csrf": csrf, "name": "x", "webid": "https://elsewhere.example/#me"},
            headers=NL,
        ) as r:
            assert r.status == 403
            assert "https://elsewhere.example/#me is geen WebID van dit account." in await r.text()
        async with s.post(
            kluis.url(".account/pods"), data={"csrf": csrf, "pod": "quinten"}, headers=NL
        ) as r:
            assert r.status == 409
            assert "De podnaam &#39;quinten&#39; is al in gebruik." in await r.text()


async def test_the_json_api_keeps_english(kluis: Kluis) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            kluis.url(".account/api/login"),
            json={"email": "nobody@example.org", "password": "wrong password"},
            headers=NL,
        ) as r,
    ):
        assert r.status == 401
        assert "wrong e-mail address or password" in (await r.json())["detail"]
        assert "Content-Language" not in r.headers
