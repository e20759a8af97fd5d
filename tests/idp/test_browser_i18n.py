"""The pages in English and Dutch in a real browser (Debian's Chromium, tests/idp/browsing.py).

A person switches to Dutch on the sign-up page, signs up, logs in and sees the account page in
Dutch; a browser whose language is Dutch gets every page in Dutch straight away, the consent page
included. Every page is photographed in both languages into test-output/screenshots/.
"""

from __future__ import annotations

from typing import Final

import pytest
from playwright.async_api import Page, expect

from tests.conftest import ServerFactory
from tests.idp.browsing import Browser
from tests.idp.conftest import PASSWORD, Kluis
from tests.idp.test_browser import BrowserApp, check_app_result, starting

EMAIL: Final = "anna@example.org"
POD: Final = "anna"


async def expect_language(page: Page, language: str) -> None:
    await expect(page.locator("html")).to_have_attribute("lang", language)


def expected_refusals(b: Browser, *statuses: int) -> list[str]:
    """The browser's errors but for the refusals (wrong password, ...) a test asked for: each
    shows as the failed load and as Chromium's console line about it."""
    marks = [m for s in statuses for m in (f"HTTP {s} ", f"responded with a status of {s} ")]
    return [e for e in b.unexpected_errors() if not any(m in e for m in marks)]


async def test_switch_to_dutch_sign_up_and_log_in(kluis: Kluis, browser: Browser) -> None:
    page = browser.page
    await page.goto(kluis.url(".account/signup"))
    await expect_language(page, "en")
    await expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
    await browser.shot("01-signup-en")
    # The switch, in the page's header: a link, no script.
    await (
        page.get_by_role("navigation", name="Language")
        .get_by_role("link", name="Nederlands")
        .click()
    )
    await expect(page).to_have_url(kluis.url(".account/signup"))
    await expect_language(page, "nl")
    await expect(page.get_by_role("heading", name="Account aanmaken")).to_be_visible()
    await expect(page.get_by_text("Je pod is je persoonlijke gegevenskluis")).to_be_visible()
    await browser.shot("02-signup-nl")
    # A refused password is explained in Dutch, zxcvbn's advice included.
    await page.get_by_label("E-mailadres").fill(EMAIL)
    await page.get_by_label("Wachtwoord").fill("aaaaaaaaaaaa")
    await page.get_by_label("Podnaam").fill(POD)
    await page.get_by_role("button", name="Account en pod aanmaken").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Dit wachtwoord is te makkelijk te raden.")
    await expect(alert).to_contain_text("Vermijd herhaalde woorden en tekens.")
    await browser.shot("03-signup-refused-nl")
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    await page.get_by_role("button", name="Account en pod aanmaken").click()
    await expect(page).to_have_url(kluis.url(".account/"))
    await expect(page.get_by_role("heading", name="Je account")).to_be_visible()
    pods = page.get_by_role("region", name="Pods en WebID's")
    await expect(pods.get_by_role("link", name=kluis.url(f"{POD}/"))).to_be_visible()
    await expect(page.get_by_role("region", name="Gekoppelde apps")).to_contain_text(
        "Er is geen app gekoppeld"
    )
    await browser.shot("04-account-nl")
    await page.get_by_role("button", name="Uitloggen").click()
    await expect(page).to_have_url(kluis.url(".account/login"))
    await expect(page.get_by_role("heading", name="Inloggen")).to_be_visible()
    await browser.shot("05-login-nl")
    await page.get_by_label("E-mailadres").fill(EMAIL)
    await page.get_by_label("Wachtwoord").fill("not the password")
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page.get_by_role("alert")).to_have_text("Verkeerd e-mailadres of wachtwoord.")
    await browser.shot("06-login-refused-nl")
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page).to_have_url(kluis.url(".account/"))
    await expect_language(page, "nl")
    await expect(page.get_by_role("heading", name="Je account")).to_be_visible()
    await browser.shot("07-account-nl-again")
    # and back to English, on the page where the switch was used
    await page.get_by_role("link", name="English").click()
    await expect(page).to_have_url(kluis.url(".account/"))
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    await browser.shot("08-account-en")
    # The pages an app sends people to, in English (the Dutch ones: the next test).
    await page.goto(kluis.url(".oidc/session/end"))
    await expect(page.get_by_role("heading", name="Log out of Kluis?")).to_be_visible()
    await browser.shot("09-logout-en")
    await page.goto(kluis.url(".account/continue?auth=gone"))
    await expect(
        page.get_by_role("heading", name="This sign-in request has expired")
    ).to_be_visible()
    await browser.shot("10-message-en")
    assert expected_refusals(browser, 400, 401) == []


async def open_app(kluis: Kluis, aiohttp_server: ServerFactory) -> BrowserApp:
    app = BrowserApp(kluis)
    server = await aiohttp_server(app.web_app())
    app.base = str(server.make_url("")).rstrip("/")
    return app


@pytest.mark.parametrize("browser_locale", ["nl-NL"])
async def test_a_dutch_browser_gets_dutch_pages(
    kluis: Kluis, browser: Browser, aiohttp_server: ServerFactory
) -> None:
    app = await open_app(kluis, aiohttp_server)
    page = browser.page
    await page.goto(kluis.url(".account/signup"))
    await expect_language(page, "nl")
    await expect(page.get_by_role("heading", name="Account aanmaken")).to_be_visible()
    await page.get_by_label("E-mailadres").fill(EMAIL)
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    await page.get_by_label("Podnaam").fill(POD)
    await page.get_by_role("button", name="Account en pod aanmaken").click()
    await expect(page.get_by_role("heading", name="Je account")).to_be_visible()
    await page.get_by_role("button", name="Uitloggen").click()
    # The app sends the browser to Kluis, to log in and then to allow the app.
    await page.goto(app.base + "/")
    await expect(page).to_have_url(starting(kluis.url(".account/login?auth=")))
    await expect(page.get_by_text("Een app vraagt je om in te loggen")).to_be_visible()
    await browser.shot("01-login-for-app-nl")
    await page.get_by_label("E-mailadres").fill(EMAIL)
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page).to_have_url(starting(kluis.url(".account/consent?auth=")))
    await expect_language(page, "nl")
    await expect(page.get_by_role("heading", name="Test App toestaan?")).to_be_visible()
    await expect(page.get_by_text("wil je identiteit gebruiken")).to_be_visible()
    stay = page.get_by_role("checkbox", name="Test App gekoppeld houden")
    await expect(stay).not_to_be_checked()
    await expect(stay).to_have_accessible_description(
        "Als je dit aanvinkt, kan Test App je gegevens blijven gebruiken terwijl je weg bent, "
        "en vraagt de app het je niet opnieuw, totdat je hem ontkoppelt op je accountpagina. "
        "Vink je het niet aan, dan kan de app je gegevens alleen tijdens dit bezoek gebruiken: "
        "hoogstens een uur."
    )
    await browser.shot("02-consent-nl")
    await stay.check()
    await page.get_by_role("button", name="Toestaan").click()
    await check_app_result(app, browser, kluis.url(f"{POD}/profile/card#me"), "03-app")
    await page.goto(kluis.url(".account/"))
    apps = page.get_by_role("region", name="Gekoppelde apps")
    await expect(apps).to_contain_text("Gebruikt je gegevens terwijl je weg bent.")
    await expect(apps.get_by_role("button", name="Test App ontkoppelen")).to_be_visible()
    await browser.shot("04-account-app-nl")
    # log out through the confirmation page an app sends people to
    await page.goto(kluis.url(".oidc/session/end"))
    await expect(page.get_by_role("heading", name="Uitloggen bij Kluis?")).to_be_visible()
    await expect(page.get_by_text(f"Je bent ingelogd als {EMAIL}.")).to_be_visible()
    await browser.shot("05-logout-nl")
    await page.get_by_role("main").get_by_role("button", name="Uitloggen").click()
    await expect(page.get_by_role("heading", name="Uitgelogd")).to_be_visible()
    await browser.shot("06-logged-out-nl")
    await page.goto(kluis.url(".account/continue?auth=gone"))
    await expect(page.get_by_role("heading", name="Dit inlogverzoek is verlopen")).to_be_visible()
    await browser.shot("07-message-nl")
    assert await page.evaluate("navigator.language") == "nl-NL"
    assert expected_refusals(browser, 400) == []
