"""Erasing an account in a real browser (Debian's Chromium), in English and in Dutch: the erase
page, a wrong password, the progress and the receipt with its reclaim code, and the erased pod's
page. Every step is photographed."""

from __future__ import annotations

from typing import Final

import pytest
from playwright.async_api import expect

from tests.idp.browsing import Browser
from tests.idp.conftest import PASSWORD, Kluis, sign_up

NAME: Final = "erase-7f3a"
EMAIL: Final = "erase-7f3a@example.org"
# What each language's pages say, by the step that shows it.
WORDS: Final = {
    "en-US": {
        "title": "Erase a pod or your account",
        "whole": "The whole account, with all its pods",
        "confirm": "I understand that this cannot be undone.",
        "password": "Your password, to confirm",
        "erase": "Erase for good",
        "erased": "Your account and its pods are erased.",
        "gone": "This pod was erased",
    },
    "nl-NL": {
        "title": "Een pod of je account wissen",
        "whole": "Het hele account, met al zijn pods",
        "confirm": "Ik begrijp dat dit niet ongedaan kan worden.",
        "password": "Je wachtwoord, ter bevestiging",
        "erase": "Voorgoed wissen",
        "erased": "Je account en zijn pods zijn gewist.",
        "gone": "Deze pod is gewist",
    },
}


@pytest.mark.parametrize("browser_locale", ["en-US", "nl-NL"])
async def test_the_owner_erases_the_account_in_the_browser(
    kluis: Kluis, browser: Browser, browser_locale: str
) -> None:
    words = WORDS[browser_locale]
    language = browser_locale[:2]
    page = browser.page
    await sign_up(kluis, EMAIL, NAME)
    await page.goto(kluis.url(".account/login"))
    await page.locator("input[name=email]").fill(EMAIL)
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("form.card button[type=submit]").click()
    await expect(page).to_have_url(kluis.url(".account/"))
    await page.locator('a[href$=".account/erase"]').click()
    await expect(page).to_have_url(kluis.url(".account/erase"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(words["title"])
    await browser.shot(f"01-erase-page-{language}")
    await page.get_by_label(words["whole"]).check()
    await page.get_by_label(words["confirm"]).check()
    await page.get_by_label(words["password"]).fill("not the password")
    await page.get_by_role("button", name=words["erase"]).click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await browser.shot(f"02-wrong-password-{language}")
    await page.get_by_label(words["whole"]).check()
    await page.get_by_label(words["confirm"]).check()
    await page.get_by_label(words["password"]).fill(PASSWORD)
    await page.get_by_role("button", name=words["erase"]).click()
    await expect(page.get_by_role("status")).to_have_text(words["erased"])
    code = await page.locator("#reclaim-code").inner_text()
    assert len(code) == 39
    await browser.shot(f"03-receipt-{language}")
    gone = await page.goto(kluis.url(NAME + "/"))
    assert gone is not None
    assert gone.status == 410
    await expect(page.get_by_role("heading", level=1)).to_have_text(words["gone"])
    await browser.shot(f"04-gone-{language}")
    # The wrong password (401) and the erased pod (410) are answers the steps asked for.
    expected = [(401, kluis.url(".account/erase")), (410, kluis.url(NAME + "/"))]

    def is_expected(error: str) -> bool:
        return any(
            str(status) in error and (f" {url}" in error or f"'{url}'" in error)
            for status, url in expected
        )

    assert [e for e in browser.unexpected_errors() if not is_expected(e)] == []
