"""My data (issue 15 §2) in a real browser (Debian's Chromium), in English and in Dutch: from
the account page the pod link opens My data (never a JSON 401); the profile is shown readably;
a file is uploaded, downloaded with the same bytes, made public (an anonymous GET then gets it)
and deleted. Every step is photographed."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import aiohttp
import pytest
from playwright.async_api import FilePayload, expect

from tests.idp.browsing import Browser
from tests.idp.conftest import PASSWORD, Kluis, sign_up

EMAIL: Final = "anna@example.org"
CONTENT: Final = b"Hello from Anna's pod.\n" * 50
# The words a person reads and clicks, per browser language.
WORDS: Final = {
    "en-US": {
        "email": "E-mail address",
        "password": "Password",
        "log in": "Log in",
        "my data": "My data",
        "signs in with": "signs in with",
        "upload into": "Upload a file into this folder",
        "upload": "Upload",
        "uploaded": "Uploaded.",
        "download": "Download",
        "public": "Let everyone read it",
        "made public": "Everyone can read it now.",
        "everyone": "Everyone can read it",
        "delete": "Delete",
        "deleted": "Deleted.",
    },
    "nl-NL": {
        "email": "E-mailadres",
        "password": "Wachtwoord",
        "log in": "Inloggen",
        "my data": "Mijn gegevens",
        "signs in with": "logt in bij",
        "upload into": "Upload een bestand naar deze map",
        "upload": "Uploaden",
        "uploaded": "Geüpload.",
        "download": "Downloaden",
        "public": "Iedereen het laten lezen",
        "made public": "Iedereen kan het nu lezen.",
        "everyone": "Iedereen mag het lezen",
        "delete": "Verwijderen",
        "deleted": "Verwijderd.",
    },
}


@pytest.mark.parametrize("browser_locale", ["en-US", "nl-NL"])
async def test_my_data_browse_upload_download_share_delete(
    kluis: Kluis, browser: Browser, browser_locale: str, tmp_path: Path
) -> None:
    words = WORDS[browser_locale]
    lang = browser_locale[:2]
    page = browser.page
    await sign_up(kluis, EMAIL, "anna")
    await page.goto(kluis.url(".account/login"))
    await page.get_by_label(words["email"]).fill(EMAIL)
    await page.get_by_label(words["password"], exact=True).fill(PASSWORD)
    await page.get_by_role("button", name=words["log in"]).click()
    await expect(page).to_have_url(kluis.url(".account/"))

    # The pod on the account page opens My data.
    await page.get_by_role("link", name=kluis.url("anna/")).click()
    await expect(page).to_have_url(kluis.url(".account/data/anna/"))
    await expect(page.get_by_role("heading", name=words["my data"], exact=True)).to_be_visible()
    await browser.shot(f"01-pod-{lang}")

    # The profile, readably: labels, not IRIs.
    await page.get_by_role("link", name="profile/").click()
    await page.get_by_role("link", name="card", exact=True).click()
    await expect(page.get_by_text(words["signs in with"], exact=True)).to_be_visible()
    await expect(page.locator("section", has_text=words["everyone"]).first).to_be_visible()
    await browser.shot(f"02-profile-{lang}")

    # Upload a file into the pod's root.
    await page.get_by_role("link", name="anna", exact=True).click()
    await page.get_by_label(words["upload into"]).set_input_files(
        files=FilePayload(name="hello.txt", mimeType="text/plain", buffer=CONTENT)
    )
    await page.get_by_role("button", name=words["upload"], exact=True).click()
    await expect(page.get_by_role("status")).to_have_text(words["uploaded"])
    await expect(page.get_by_role("link", name="hello.txt")).to_be_visible()
    await browser.shot(f"03-uploaded-{lang}")

    # Download it: the same bytes.
    await page.get_by_role("link", name="hello.txt").click()
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name=words["download"], exact=True).click()
    download = await waiting.value
    assert download.suggested_filename == "hello.txt"
    saved = tmp_path / "downloaded.txt"
    await download.save_as(saved)
    assert saved.read_bytes() == CONTENT
    await browser.shot(f"04-file-{lang}")

    # Make it public: an anonymous GET now reads it.
    url = kluis.url("anna/hello.txt")
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as r:
            assert r.status == 401
        await page.get_by_role("button", name=words["public"], exact=True).click()
        await expect(page.get_by_role("status")).to_have_text(words["made public"])
        await expect(page.get_by_text(words["everyone"], exact=True)).to_be_visible()
        async with http.get(url) as r:
            assert r.status == 200
            assert await r.read() == CONTENT
        await browser.shot(f"05-public-{lang}")

        # Delete it: back in the pod, and gone.
        await page.get_by_role("button", name=words["delete"], exact=True).click()
        await expect(page).to_have_url(kluis.url(".account/data/anna/?done=deleted"))
        await expect(page.get_by_role("status")).to_have_text(words["deleted"])
        await expect(page.get_by_role("link", name="hello.txt")).to_have_count(0)
        # Its ACL went with it: to the public the pod's root ACL answers, as for anything else.
        async with http.get(url) as r:
            assert r.status == 401
        await browser.shot(f"06-deleted-{lang}")
    assert browser.unexpected_errors() == []
