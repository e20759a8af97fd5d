""" "Who saw my data" in a real browser (Debian's Chromium), in English and in Dutch (issue 15 §2):

An owner's pod; a publisher (NPO) with a grant reads the owner's preferences three times for
personalised recommendations, and its other app tries once and is refused. The owner opens the
page from the account page, reads the sentence, filters by app, and keeps the log 30 days
instead of a year. Every step is photographed (test-output/screenshots/).
"""

from __future__ import annotations

from typing import Final

import aiohttp
import pytest
from playwright.async_api import expect

from tests.idp.browsing import Browser
from tests.idp.conftest import PASSWORD, Kluis, sign_up
from tests.idp.test_disclosures_page import (
    PREFERENCES,
    RECOMMENDATIONS,
    another_app,
    grant,
    reader,
)

# What the browser reads, per language: its labels and the sentences it must show.
WORDS: Final = {
    "en-US": {
        "email": "E-mail address",
        "password": "Password",
        "log in": "Log in",
        "link": "Who saw your data",
        "heading": "Who used your data this week",
        "read": "NPO read your preferences/personalisation 3 times this week for personalised "
        "recommendations, using {app}",
        "refused": "NPO tried to read your preferences/personalisation once this week, using "
        "{app}, but was refused",
        "why": "Your permission for personalised recommendations",
        "show": "Show",
        "days": "Days to keep the log",
        "save": "Save",
        "saved": "Saved: this log is kept 30 days from now on.",
    },
    "nl-NL": {
        "email": "E-mailadres",
        "password": "Wachtwoord",
        "log in": "Inloggen",
        "link": "Wie je gegevens zag",
        "heading": "Wie je gegevens deze week gebruikte",
        "read": "NPO heeft je preferences/personalisation deze week 3 keer gelezen voor "
        "aanbevelingen op maat, via {app}",
        "refused": "NPO probeerde je preferences/personalisation deze week één keer te lezen, "
        "via {app}, maar werd geweigerd",
        "why": "Jouw toestemming voor aanbevelingen op maat",
        "show": "Toon",
        "days": "Dagen dat het log bewaard blijft",
        "save": "Bewaren",
        "saved": "Bewaard: dit log blijft vanaf nu 30 dagen bewaard.",
    },
}


@pytest.mark.parametrize("browser_locale", ["en-US", "nl-NL"])
async def test_the_owner_sees_who_read_their_preferences_filters_and_keeps_the_log_shorter(
    kluis: Kluis, browser: Browser, browser_locale: str
) -> None:
    words = WORDS[browser_locale]
    page = browser.page
    await sign_up(kluis, "alice@example.org", "alice")
    async with aiohttp.ClientSession() as http:
        npo = await reader(kluis, http, "npo", "NPO")
        prefs = kluis.url(PREFERENCES)
        await grant(kluis, http, npo, prefs)
        for _ in range(3):
            status, text = await npo.http.call(
                "GET", prefs, headers={"Kluis-Purpose": RECOMMENDATIONS}
            )
            assert status == 200, text
        ads = await another_app(kluis, http, npo, "ads")
        assert (await ads.http.call("GET", prefs))[0] == 403  # no grant to this app

    await page.goto(kluis.url(".account/login"))
    await page.get_by_label(words["email"]).fill("alice@example.org")
    await page.get_by_label(words["password"]).fill(PASSWORD)
    await page.get_by_role("button", name=words["log in"]).click()
    await expect(page).to_have_url(kluis.url(".account/"))
    await browser.shot("01-account")
    await page.get_by_role("link", name=words["link"]).click()
    await expect(page).to_have_url(kluis.url(".account/disclosures"))
    await expect(page.get_by_role("heading", name=words["heading"])).to_be_visible()
    sentences = page.locator("ul.sentences li")
    await expect(sentences).to_have_count(2)
    await expect(sentences.filter(has_text=words["read"].format(app=npo.client))).to_be_visible()
    await expect(sentences.filter(has_text=words["refused"].format(app=ads.client))).to_be_visible()
    await expect(page.locator("table.records tbody tr")).to_have_count(4)
    await expect(page.locator("table.records")).to_contain_text(words["why"])
    await browser.shot("02-who-saw")

    await page.get_by_label("App", exact=True).select_option(npo.client)
    await page.get_by_role("button", name=words["show"], exact=True).click()
    await expect(sentences).to_have_count(1)
    await expect(sentences).to_contain_text(words["read"].format(app=npo.client))
    await expect(page.locator("table.records tbody tr")).to_have_count(3)
    await expect(page.get_by_label("App", exact=True)).to_have_value(npo.client)
    await browser.shot("03-filtered-by-app")

    await page.get_by_label(words["days"]).fill("30")
    await page.get_by_role("button", name=words["save"], exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text(words["saved"])
    await expect(page.get_by_label(words["days"])).to_have_value("30")
    await browser.shot("04-kept-30-days")
    assert browser.unexpected_errors() == []
