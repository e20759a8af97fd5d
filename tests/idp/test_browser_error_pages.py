"""A person opening a pod resource they may not read, or one that is not there, in a real browser
(Debian's Chromium), in English and Dutch: a page saying so (with a link to log in for 401),
never a raw JSON problem. Every step is photographed."""

from __future__ import annotations

from typing import Final

import aiohttp
import pytest
from playwright.async_api import expect

from tests.idp.browsing import Browser
from tests.idp.conftest import Kluis, sign_up
from tests.idp.test_access_page import signed_in_as

TTL: Final = {"Content-Type": "text/turtle"}


def dora_webid(kluis: Kluis) -> str:
    return kluis.url("dora/profile/card#me")


def public_folder_acl(folder: str, owner: str) -> str:
    """Everyone may read what `folder` holds; its owner keeps every mode."""
    return (
        "@prefix acl: <http://www.w3.org/ns/auth/acl#> .\n"
        "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
        f"<#owner> a acl:Authorization ; acl:agent <{owner}> ; acl:accessTo <{folder}> ; "
        f"acl:default <{folder}> ; acl:mode acl:Read, acl:Write, acl:Control .\n"
        f"<#public> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:accessTo <{folder}> ; "
        f"acl:default <{folder}> ; acl:mode acl:Read .\n"
    )


WORDS: Final = {
    "en-US": {
        "private": "This is not public",
        "missing": "Not found",
        "log_in": "Log in",
        "email": "E-mail address",
    },
    "nl-NL": {
        "private": "Dit is niet openbaar",
        "missing": "Niet gevonden",
        "log_in": "Inloggen",
        "email": "E-mailadres",
    },
}


@pytest.mark.parametrize("browser_locale", ["en-US", "nl-NL"])
async def test_a_refused_or_missing_resource_shows_a_page(
    kluis: Kluis, browser: Browser, browser_locale: str
) -> None:
    words = WORDS[browser_locale]
    page = browser.page
    await sign_up(kluis, "dora@example.org", "dora")
    async with aiohttp.ClientSession() as http:
        dora = await signed_in_as(kluis, http, "dora@example.org", "dora")
        folder = kluis.url("dora/public/")
        text = {"Content-Type": "text/plain"}
        assert (await dora.call("PUT", folder + "hello.txt", data="hi", headers=text))[0] == 201
        status, said = await dora.call(
            "PUT", folder + ".acl", data=public_folder_acl(folder, dora_webid(kluis)), headers=TTL
        )
        assert status == 201, said
    private = kluis.url("dora/settings/prefs.ttl")
    answer = await page.goto(private)
    assert answer is not None
    assert answer.status == 401
    await expect(page.get_by_role("heading", level=1)).to_have_text(words["private"])
    await browser.shot("01-not-public")
    missing = kluis.url("dora/public/nothing-here")
    answer = await page.goto(missing)
    assert answer is not None
    assert answer.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text(words["missing"])
    await browser.shot("02-not-found")
    await page.goto(private)
    await page.get_by_role("link", name=words["log_in"], exact=True).last.click()
    await expect(page.get_by_label(words["email"])).to_be_visible()
    await browser.shot("03-log-in")
    expected = (f" {private}", f"'{private}'", f" {missing}", f"'{missing}'")
    assert [e for e in browser.unexpected_errors() if not any(x in e for x in expected)] == []
