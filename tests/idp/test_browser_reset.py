"""The one-time password-reset page (`kluis admin reset-link`, issue 15 §5) in a real browser
(Debian's Chromium), in English and Dutch: the operator makes a link, the person opens it,
mistypes the repeat, sets a new password, and logs in with it; the link then no longer works.
Every step is photographed."""

from __future__ import annotations

from typing import Final

import aiohttp
import pytest
from playwright.async_api import expect

from tests.idp.browsing import Browser
from tests.idp.conftest import Kluis, sign_up

NEW_PASSWORD: Final = "staple battery horse correct"
# What the page says, by the browser's language.
WORDS: Final = {
    "en-US": {
        "heading": "New password",
        "password": "New password",
        "repeat": "New password again",
        "submit": "Set the new password",
        "differ": "The two passwords differ.",
        "changed": "Your password is changed",
        "gone": "This link no longer works",
        "email": "E-mail address",
        "login_password": "Password",
        "log_in": "Log in",
    },
    "nl-NL": {
        "heading": "Nieuw wachtwoord",
        "password": "Nieuw wachtwoord",
        "repeat": "Nieuw wachtwoord nog een keer",
        "submit": "Nieuw wachtwoord instellen",
        "differ": "De twee wachtwoorden verschillen.",
        "changed": "Je wachtwoord is gewijzigd",
        "gone": "Deze link werkt niet meer",
        "email": "E-mailadres",
        "login_password": "Wachtwoord",
        "log_in": "Inloggen",
    },
}


@pytest.mark.parametrize("kluis", [{"storage": "file", "fsync": False}], indirect=True)
@pytest.mark.parametrize("browser_locale", ["en-US", "nl-NL"])
async def test_a_person_sets_a_new_password_with_a_reset_link(
    kluis: Kluis, browser: Browser, browser_locale: str
) -> None:
    words = WORDS[browser_locale]
    page = browser.page
    await sign_up(kluis, "carla@example.org", "carla")
    token = (kluis.settings.data_dir / ".kluis" / "admin-token").read_text().strip()
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            kluis.url(".account/api/admin/reset-links"),
            json={"email": "carla@example.org"},
            headers={"Authorization": f"Bearer {token}"},
        ) as r,
    ):
        assert r.status == 201
        link = (await r.json())["link"]

    await page.goto(link)
    await expect(page.get_by_role("heading", name=words["heading"])).to_be_visible()
    await browser.shot("01-form")
    await page.get_by_label(words["password"], exact=True).fill(NEW_PASSWORD)
    await page.get_by_label(words["repeat"], exact=True).fill(NEW_PASSWORD + "!")
    await page.get_by_role("button", name=words["submit"]).click()
    await expect(page.get_by_role("alert")).to_contain_text(words["differ"])
    await browser.shot("02-passwords-differ")
    await page.get_by_label(words["password"], exact=True).fill(NEW_PASSWORD)
    await page.get_by_label(words["repeat"], exact=True).fill(NEW_PASSWORD)
    await page.get_by_role("button", name=words["submit"]).click()
    await expect(page.get_by_role("heading", name=words["changed"])).to_be_visible()
    await browser.shot("03-changed")

    await page.get_by_role("link", name=words["log_in"]).click()
    await page.get_by_label(words["email"]).fill("carla@example.org")
    await page.get_by_label(words["login_password"]).fill(NEW_PASSWORD)
    await page.get_by_role("button", name=words["log_in"]).click()
    await expect(page).to_have_url(kluis.url(".account/"))
    await browser.shot("04-logged-in")
    # The one 400 the person saw on purpose, the form with the passwords that differ, as the
    # response and as the console's note of it.
    reset = kluis.url(".account/reset")
    expected = (f"HTTP 400 {reset}", f"status of 400 (Bad Request) at {{'url': '{reset}'")
    errors = browser.unexpected_errors()
    assert [e for e in errors if not any(x in e for x in expected)] == []
    assert len(errors) == 2

    await page.goto(link)
    await expect(page.get_by_role("heading", name=words["gone"])).to_be_visible()
    await browser.shot("05-used")
