"""The account page's "Download a copy" link and import form in a real browser (Debian's
Chromium), in English and in Dutch: the copy downloads, verifies, and comes back as a new pod.
Every step is photographed."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from pod.rights import archive
from tests.idp.browsing import Browser
from tests.idp.conftest import PASSWORD, Kluis, sign_up

WORDS = {
    "en-US": {
        "email": "E-mail address",
        "password": "Password",
        "log_in": "Log in",
        "download": "Download a copy of anna",
        "as_pod": "Import a copy as the pod",
        "copy": "Copy (.tar.gz)",
        "import": "Import",
        "imported": "Imported",
        "suffix": "en",
    },
    "nl-NL": {
        "email": "E-mailadres",
        "password": "Wachtwoord",
        "log_in": "Inloggen",
        "download": "Een kopie van anna downloaden",
        "as_pod": "Een kopie importeren als de pod",
        "copy": "Kopie (.tar.gz)",
        "import": "Importeren",
        "imported": "geïmporteerd in",
        "suffix": "nl",
    },
}


@pytest.mark.parametrize("browser_locale", ["en-US", "nl-NL"])
async def test_the_owner_downloads_a_copy_and_imports_it_as_a_new_pod(
    kluis: Kluis, browser: Browser, browser_locale: str, tmp_path: Path
) -> None:
    words = WORDS[browser_locale]
    suffix = words["suffix"]
    page = browser.page
    await sign_up(kluis, "anna@example.org", "anna")
    await page.goto(kluis.url(".account/login"))
    await page.get_by_label(words["email"]).fill("anna@example.org")
    await page.get_by_label(words["password"]).fill(PASSWORD)
    await page.get_by_role("button", name=words["log_in"]).click()
    await expect(page).to_have_url(kluis.url(".account/"))
    link = page.get_by_role("link", name=words["download"], exact=True)
    await expect(link).to_be_visible()
    await browser.shot(f"01-account-{suffix}")

    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename.startswith("anna-")
    assert download.suggested_filename.endswith(".tar.gz")
    copy = tmp_path / download.suggested_filename
    await download.save_as(copy)
    with copy.open("rb") as f:
        scanned = archive.scan(f)  # every member matches its sha256 in the manifest
    assert "pod/profile/card" in scanned.entries

    await page.get_by_label(words["as_pod"]).fill("anna-copy")
    await page.get_by_label(words["copy"]).set_input_files(copy)
    await browser.shot(f"02-import-form-{suffix}")
    await page.get_by_role("button", name=words["import"], exact=True).click()
    status = page.get_by_role("status")
    await expect(status).to_contain_text(words["imported"])
    await expect(status).to_contain_text(kluis.url("anna-copy/"))
    await expect(page.get_by_role("link", name=kluis.url("anna-copy/"))).to_be_visible()
    await browser.shot(f"03-imported-{suffix}")
    assert browser.unexpected_errors() == []
