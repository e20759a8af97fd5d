"""The languages of the account pages: gettext catalogs, the reader's language, page strings.

Imports nothing from pod; `pod.http.account` and `pod.http.idp` render through it. How to add a
page's strings is in pod/locales/README.md.

- Catalogs are gettext `.po` files (pod/locales/<lang>/LC_MESSAGES/messages.po), read with Babel
  when the server starts and compiled in memory: no `.mo` build step in `make` or the package
  build, and no compiled file that can fall behind its `.po`. Reading the catalog takes a few
  milliseconds, once.
- Templates use Jinja's i18n extension (`{% trans %}`, `_()`) with "newstyle" gettext, so values
  put into a translated string are autoescaped like any other (`_("Allow %(app)s?", app=name)`),
  and whitespace inside `{% trans %}` is trimmed, so a msgid is one line whatever the markup.
- One Jinja environment per language: rendering a page in Dutch changes no state that an English
  page rendered at the same time could see.
- Python code marks page strings with `N_("...")`, which returns a `Text` translated when the
  page is rendered (the handler does not know the language; `render` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from io import BytesIO
from typing import Final, Protocol, final

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import BaseLoader, Environment, select_autoescape
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

# English first: it is the default, and the language of every msgid.
LANGUAGES: Final = ("en", "nl")
DEFAULT_LANGUAGE: Final = "en"
COOKIE: Final = "kluis_lang"
COOKIE_MAX_AGE: Final = 365 * 24 * 3600
# Each language's name in that language, for the switch.
LANGUAGE_NAMES: Final = {"en": "English", "nl": "Nederlands"}
DOMAIN: Final = "messages"


class Translatable(Protocol):
    def translate(self, translations: NullTranslations) -> str: ...


@final
@dataclass(frozen=True, slots=True)
class Text:
    """A page string: its English text (the msgid) and the values it names (`%(name)s`),
    translated when the page is rendered in the reader's language."""

    msgid: str
    values: Mapping[str, object] = field(default_factory=dict)

    def translate(self, translations: NullTranslations) -> str:
        text = translations.gettext(self.msgid)
        return text % dict(self.values) if self.values else text


@final
@dataclass(frozen=True, slots=True)
class Sentences:
    """Page strings shown one after the other, each translated on its own."""

    parts: tuple[Translatable, ...]

    def translate(self, translations: NullTranslations) -> str:
        return " ".join(part.translate(translations) for part in self.parts)


def N_(msgid: str, /, **values: object) -> Text:
    """Mark `msgid` as a page string (Babel's extractor knows `N_`); `values` fill its
    `%(name)s` placeholders after translation."""
    return Text(msgid, values)


# --- catalogs and the per-language templates ----------------------------------------------


def load_translations(language: str) -> NullTranslations:
    """The catalog of `language`, read from its `.po` file; English is the msgids themselves."""
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    po = resources.files("pod") / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # leaves out fuzzy entries: a guess is not a translation
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@final
class Pages:
    """The page templates in every language: one Jinja environment each, sharing a loader."""

    def __init__(self, loader: BaseLoader) -> None:
        self.translations = {language: load_translations(language) for language in LANGUAGES}
        self._environments: dict[str, Environment] = {}
        for language, translations in self.translations.items():
            env = Environment(
                loader=loader,
                autoescape=select_autoescape(["html"]),
                extensions=["jinja2.ext.i18n"],
            )
            env.policies["ext.i18n.trimmed"] = True
            env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
            self._environments[language] = env

    def environment(self, language: str) -> Environment:
        return self._environments[language]

    def translate(self, value: object, language: str) -> object:
        """`value` in `language` when it is a page string; anything else as it is."""
        if isinstance(value, Text | Sentences):
            return value.translate(self.translations[language])
        return value


# --- the reader's language ------------------------------------------------------------------


def choose_language(*, cookie: str | None, accept_language: str | None) -> str:
    """The page language: the one chosen with the switch (the cookie), else the best of
    Accept-Language (RFC 9110 §12.5.4) that we have, else English."""
    if cookie in LANGUAGES:
        return cookie
    if accept_language:
        # werkzeug parses the weighted list (quality order, q=0 dropped); Babel matches ranges
        # to our languages, a regional one ("nl-BE") to its language ("nl").
        accepted = parse_accept_header(accept_language, LanguageAccept)
        preferred = [value for value, quality in accepted if quality > 0 and value != "*"]
        found = negotiate_locale(preferred, LANGUAGES, sep="-")
        if found is not None:
            return found.split("-")[0].lower()
    return DEFAULT_LANGUAGE


def is_language(value: str | None) -> bool:
    return value in LANGUAGES


# --- domain errors shown on the pages -------------------------------------------------------
# The services raise PodErrors with English messages, which the JSON API sends as they are. A
# page shows the reader's language instead: each message a page can show is recognised here and
# given a msgid. A message not recognised is shown in English, as before.

_TOO_MANY: Final = r"; try again in (?P<seconds>\d+) seconds"
_PAGE_ERRORS: Final[tuple[tuple[re.Pattern[str], Text], ...]] = tuple(
    (re.compile(pattern, re.DOTALL), text)
    for pattern, text in (
        ("wrong e-mail address or password", N_("Wrong e-mail address or password.")),
        ("that is not an e-mail address", N_("That is not an e-mail address.")),
        (
            "there is already an account with that e-mail address",
            N_("There is already an account with that e-mail address."),
        ),
        ("sign-up is closed on this server", N_("Sign-up is closed on this server.")),
        (
            "the account no longer exists; log in again",
            N_("Your account no longer exists. Log in again."),
        ),
        (
            r"a password needs at least (?P<count>\d+) characters",
            N_("A password needs at least %(count)s characters."),
        ),
        (
            r"a password may have at most (?P<count>\d+) characters",
            N_("A password may have at most %(count)s characters."),
        ),
        (r"the pod name (?P<name>.+) is taken", N_("The pod name %(name)s is taken.")),
        (
            r"(?P<name>.+) cannot be a pod name: .*",
            N_(
                "%(name)s cannot be a pod name. Use 1 to 63 lower-case letters, digits and "
                "hyphens (not at the start or end), and not a reserved name."
            ),
        ),
        (
            r"(?P<webid>.+) is not a WebID of this account",
            N_("%(webid)s is not a WebID of this account."),
        ),
        (
            "give the credential a name, to recognise it later",
            N_("Give the credentials a name, so you can recognise them later."),
        ),
        ("no such credential on this account", N_("These credentials are not on this account.")),
        (
            "too many failed log-ins for this account from new devices" + _TOO_MANY,
            N_(
                "Too many failed log-ins for this account from new devices. "
                "Try again in %(seconds)s seconds."
            ),
        ),
        (
            "too many failed log-ins from here" + _TOO_MANY,
            N_("Too many failed log-ins from here. Try again in %(seconds)s seconds."),
        ),
        (
            "too many failed log-ins" + _TOO_MANY,
            N_("Too many failed log-ins. Try again in %(seconds)s seconds."),
        ),
        (
            "too many sign-ups from this address" + _TOO_MANY,
            N_("Too many sign-ups from this address. Try again in %(seconds)s seconds."),
        ),
        # pod.idp.provider's refusals that a person (not the app's developer) can act on
        ("that WebID is not yours", N_("That WebID is not yours.")),
        (
            "this app asks you to log in again first",
            N_("This app asks you to log in again first."),
        ),
        # the password-reset page (pod.http.account)
        (
            "the two passwords differ; type the same new password twice",
            N_("The two passwords differ. Type the same new password twice."),
        ),
        # My data (pod.http.data_page) and the store's refusals it shows
        (
            "the page sent a form it does not know; reload it",
            N_("The page sent a form it does not know; reload it."),
        ),
        ("open a folder to add to it", N_("Open a folder to add to it.")),
        ("give it a name", N_("Give it a name.")),
        ("choose a file to upload", N_("Choose a file to upload.")),
        (
            r"there is already something named (?P<name>.+) here",
            N_("There is already something named %(name)s here."),
        ),
        (
            "sharing cannot be changed on this server",
            N_("Sharing cannot be changed on this server."),
        ),
        (
            "enter a WebID: an address starting with https://",
            N_("Enter a WebID: an address starting with https://."),
        ),
        (
            r"(?P<webid>.+) is not a web address a WebID can have",
            N_("%(webid)s is not a web address a WebID can have. Check it for typing errors."),
        ),
        (
            "that is your own WebID: you can always use your data",
            N_("That is your own WebID: you can always use your data."),
        ),
        (
            "a storage root cannot be deleted",
            N_("A pod itself cannot be deleted here: erase it from your account page."),
        ),
        (
            r"container .+ is not empty; delete what it contains first",
            N_("This folder is not empty: empty it first."),
        ),
        (
            r"this write needs (?P<needed>.+) more; the pod \S+ has (?P<left>.+) left of its "
            r"(?P<quota>.+) quota",
            N_(
                "There is no room for this in your pod: it needs %(needed)s more, and "
                "%(left)s is left of your %(quota)s."
            ),
        ),
        # pod.paths.check_name: a name the store cannot keep
        (
            r"empty path segment \('//'\)"
            r"|dot-segments \('\.' or '\.\.'\) are not allowed in paths"
            r"|an encoded '/' \(%2F\) is not allowed in a path segment"
            r"|control characters \(NUL, newline, \.\.\.\) are not allowed in paths"
            r"|path segment is longer than \d+ bytes"
            r"|.+ is a name reserved by the server"
            r"|.+ differs from an auxiliary resource name .+"
            r"|.+ is the name of an auxiliary resource",
            N_("That name cannot be used here. Choose another one."),
        ),
        # Who saw my data (pod.http.disclosures_page)
        (
            r"keep the log at least (?P<min>\d+) and at most (?P<max>\d+) days",
            N_("Keep the log at least %(min)s and at most %(max)s days."),
        ),
        # erasing (pod.http.erase_page, pod.rights.erasure)
        ("choose what to erase", N_("Choose a pod to erase, or the whole account.")),
        (
            "confirm that this cannot be undone",
            N_("Tick the box to confirm that this cannot be undone."),
        ),
        ("name a pod to erase", N_("Choose a pod to erase, or the whole account.")),
        (r"this account has no pod (?:named )?(?P<name>.+)", N_("You have no pod %(name)s.")),
        (
            "an erasure of this account is under way already",
            N_("An erasure of this account is under way already."),
        ),
        (
            "too many wrong passwords on the erase page" + _TOO_MANY,
            N_("Too many wrong passwords. Try again in %(seconds)s seconds."),
        ),
        # export and import (pod.rights)
        (
            "this pod is being exported or imported already; try again when that is done",
            N_("This pod is being exported or imported already. Try again when that is done."),
        ),
        (
            "this account is exporting or importing a pod already; try again when that is done",
            N_("You are exporting or importing a pod already. Try again when that is done."),
        ),
        (
            "the server is exporting or importing other pods; try again in a minute",
            N_("The server is exporting or importing other pods. Try again in a minute."),
        ),
        ("choose the archive to import", N_("Choose the archive to import.")),
        (
            r"the archive cannot be imported \(member (?P<member>[^)]+)\): .+",
            N_(
                "This archive cannot be imported: %(member)s in it is damaged, or not what "
                "the export wrote."
            ),
        ),
        (
            r"the archive cannot be imported: .+"
            r"|the manifest does not say which pod was exported \(export\.root\)",
            N_("This archive cannot be imported: it is damaged, or not an export of a pod."),
        ),
        (
            r"the archive holds (?P<size>\d+) bytes; the pod (?P<name>.+) may hold "
            r"(?P<limit>\d+) and holds (?P<used>\d+)",
            N_(
                "There is no room for this archive: it holds %(size)s bytes, and the pod "
                "%(name)s may hold %(limit)s and holds %(used)s already."
            ),
        ),
        (
            r"the pod (?P<url>\S+) is not empty \(.+\): import into a new pod name, or into a "
            r"pod that holds only its root \.acl",
            N_(
                "The pod %(url)s is not empty: import into a new pod name, or into a pod that "
                "holds nothing yet."
            ),
        ),
        (
            r"the import stopped at (?P<member>\S+): .+ \((?P<files>\d+) files were written "
            r"to (?P<url>\S+) before it\)",
            N_(
                "The import stopped at %(member)s, which this server refused; %(files)s files "
                "were written to %(url)s before it."
            ),
        ),
    )
)
_WEAK_PASSWORD: Final = re.compile(r"this password is too easy to guess\.\s*(?P<feedback>.*)")

# zxcvbn's feedback (zxcvbn/feedback.py), which pod.accounts.passwords adds to its refusal of a
# weak password; zxcvbn ships no translations. tests/idp/test_i18n.py keeps this list equal to
# the installed zxcvbn's.
PASSWORD_FEEDBACK: Final = (
    N_("Use a few words, avoid common phrases."),
    N_("No need for symbols, digits, or uppercase letters."),
    N_("Add another word or two. Uncommon words are better."),
    N_("Straight rows of keys are easy to guess."),
    N_("Short keyboard patterns are easy to guess."),
    N_("Use a longer keyboard pattern with more turns."),
    N_('Repeats like "aaa" are easy to guess.'),
    N_('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
    N_("Avoid repeated words and characters."),
    N_('Sequences like "abc" or "6543" are easy to guess.'),
    N_("Avoid sequences."),
    N_("Recent years are easy to guess."),
    N_("Avoid recent years."),
    N_("Avoid years that are associated with you."),
    N_("Dates are often easy to guess."),
    N_("Avoid dates and years that are associated with you."),
    N_("This is a top-10 common password."),
    N_("This is a top-100 common password."),
    N_("This is a very common password."),
    N_("This is similar to a commonly used password."),
    N_("A word by itself is easy to guess."),
    N_("Names and surnames by themselves are easy to guess."),
    N_("Common names and surnames are easy to guess."),
    N_("Capitalization doesn't help very much."),
    N_("All-uppercase is almost as easy to guess as all-lowercase."),
    N_("Reversed words aren't much harder to guess."),
    N_("Predictable substitutions like '@' instead of 'a' don't help very much."),
)
# Longest first, so that a message is never cut at a shorter one that starts it.
_FEEDBACK_BY_LENGTH: Final = sorted(PASSWORD_FEEDBACK, key=lambda t: -len(t.msgid))


def page_error(message: str) -> Translatable:
    """The page string for a domain error's `message` (English, as the JSON API sends it)."""
    weak = _WEAK_PASSWORD.fullmatch(message)
    if weak is not None:
        return Sentences(
            (N_("This password is too easy to guess."), *_password_feedback(weak["feedback"]))
        )
    for pattern, text in _PAGE_ERRORS:
        found = pattern.fullmatch(message)
        if found is not None:
            return Text(text.msgid, found.groupdict())
    # Not in the catalog: shown in English, as a sentence. (The msgids above are sentences
    # already, and one that starts with a WebID keeps its lower-case "https:".)
    return Text(message[:1].upper() + message[1:])


def _password_feedback(rest: str) -> list[Translatable]:
    # pod.accounts.passwords joins zxcvbn's sentences with spaces, each ending in one period.
    parts: list[Translatable] = []
    while rest:
        for known in _FEEDBACK_BY_LENGTH:
            sentence = known.msgid.rstrip(".") + "."
            if rest.startswith(sentence):
                parts.append(known)
                rest = rest[len(sentence) :].lstrip()
                break
        else:
            parts.append(Text(rest))
            break
    return parts
