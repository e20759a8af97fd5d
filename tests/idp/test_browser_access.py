"""The vault end to end, with the owner in a real browser (Debian's Chromium, in Dutch) and a
publisher over HTTP (issue 14, "Tests and measures"):

A publisher asks for three resources for personalised recommendations; the owner sees the
request in Dutch and shares two of them for 3 seconds; the publisher reads those two, gets 403 on
the third, and 403 on the first two after expiry, with no sweeper running; a new grant, then
"stop sharing": the next request is 403. Another app (client id) of the same publisher gets 403
throughout; a request naming another purpose gets 403; a request for a purpose the owner refused
once and for all is denied without being shown. Every page is photographed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Final

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.idp.browsing import Browser
from tests.idp.conftest import PASSWORD, Kluis, sign_up
from tests.idp.test_access_page import ADVERTISING, TURTLE, ask_body, publisher, signed_in_as

EMAIL: Final = "anna@example.org"
SHARE: Final = "Deel wat ik heb aangevinkt"


async def _log_in(kluis: Kluis, page: Page) -> None:
    await page.goto(kluis.url(".account/login"))
    await page.get_by_label("E-mailadres").fill(EMAIL)
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page).to_have_url(kluis.url(".account/"))


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize("browser_locale", ["nl-NL"])
async def test_a_publisher_asks_the_owner_decides_in_dutch_and_every_check_holds(
    kluis: Kluis, browser: Browser
) -> None:
    page = browser.page
    await sign_up(kluis, EMAIL, "anna")
    async with aiohttp.ClientSession() as http:
        anna = await signed_in_as(kluis, http, EMAIL, "anna")
        wanted = [kluis.url(f"anna/reading/{n}") for n in ("topics", "authors", "history")]
        for url in wanted:
            status, text = await anna.call(
                "PUT", url, data=f"<#it> <#is> '{url.rsplit('/', 1)[1]}' .", headers=TURTLE
            )
            assert status == 201, text
        news = await publisher(kluis, http)
        ads = await signed_in_as(kluis, http, "news@example.org", "news", "ads")
        requests = kluis.url(".kluis/consent/anna/requests")
        status, text = await news.call("POST", requests, data=ask_body(wanted), headers=TURTLE)
        assert status == 201, text

        await _log_in(kluis, page)
        await page.get_by_role("link", name="Toegang tot je gegevens").click()
        await expect(page.get_by_role("heading", name="Wacht op jouw beslissing")).to_be_visible()
        request = page.locator("form.request")
        await expect(request).to_contain_text("Voor je leestips")
        await expect(request).to_contain_text("reading/topics")
        for box in await request.get_by_role("checkbox").all():
            await expect(box).not_to_be_checked()  # nothing pre-selected
        await browser.shot("01-request-nl")
        await request.get_by_label("reading/topics").check()
        await request.get_by_label("reading/authors").check()
        ends = time.time() + 3
        await request.get_by_label("Delen tot").fill(_utc(ends))
        await browser.shot("02-two-ticked-nl")
        await request.get_by_role("button", name=SHARE).click()
        await expect(page.get_by_role("status")).to_contain_text("Gedeeld.")
        await expect(page.get_by_role("heading", name="Wat je nu deelt")).to_be_visible()
        await browser.shot("03-shared-nl")

        assert (await news.call("GET", wanted[0]))[0] == 200
        assert (await news.call("GET", wanted[1]))[0] == 200
        assert (await news.call("GET", wanted[2]))[0] == 403
        for url in wanted:
            assert (await ads.call("GET", url))[0] == 403  # another app of the same publisher
        other = {"Kluis-Purpose": ADVERTISING}
        status, text = await news.call("GET", wanted[0], headers=other)
        assert status == 403
        assert "does not cover the purpose" in text
        await asyncio.sleep(max(0.0, ends - time.time()) + 0.5)
        for url in wanted[:2]:  # no sweeper ran: the clock ended it
            status, text = await news.call("GET", url)
            assert status == 403
            assert "expired" in text

        # A new grant, then "stop sharing": the next request is refused.
        status, text = await news.call(
            "POST",
            requests,
            data=ask_body(wanted[:1], "https://w3id.org/dpv#Personalisation"),
            headers=TURTLE,
        )
        assert status == 201, text
        await page.reload()
        request = page.locator("form.request")
        await request.get_by_role("checkbox").nth(0).check()
        await request.get_by_role("button", name=SHARE).click()
        await expect(page.get_by_role("status")).to_contain_text("Gedeeld.")
        assert (await news.call("GET", wanted[0]))[0] == 200
        assert (await ads.call("GET", wanted[0]))[0] == 403
        await page.get_by_role("button", name="Stop met delen").click()
        await expect(page.get_by_role("status")).to_contain_text("Gestopt.")
        await browser.shot("04-stopped-nl")
        status, text = await news.call("GET", wanted[0])
        assert status == 403
        assert "withdrawn" in text

        # Never for personalised advertising: such a request is turned down, never shown.
        await page.get_by_role("radio", name="Nooit: Gepersonaliseerde reclame").check()
        await page.get_by_role("button", name="Mijn keuzes bewaren").click()
        await expect(page.get_by_role("status")).to_contain_text("Je keuzes zijn bewaard.")
        status, text = await news.call(
            "POST", requests, data=ask_body(wanted, ADVERTISING), headers=TURTLE
        )
        assert status == 201
        assert '"denied"' in text
        await page.reload()
        await expect(page.get_by_text("Niemand wacht op een antwoord van je.")).to_be_visible()
        await expect(page.get_by_text("Afgewezen: een doel dat je nooit toestaat")).to_be_visible()
        await browser.shot("05-history-nl")
    assert browser.unexpected_errors() == []
