"""Driving Debian's Chromium (/usr/bin/chromium) through Playwright, for the browser tests of the
pages: the browser, its flags, and screenshots into test-output/screenshots/. Nothing downloads a
browser; without it the tests are skipped, except in CI (KLUIS_CI set), where that is an error.
The `screenshots`, `browser_locale` and `browser` fixtures are in tests/idp/conftest.py."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
from playwright.async_api import Page, async_playwright, expect

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
TIMEOUT_MS: Final = 10_000
# The language the browser asks for (Accept-Language, navigator.language) unless a test says
# otherwise: fixed, so that the pages' language does not depend on the machine's.
DEFAULT_LOCALE: Final = "en-US"


def require_chromium(path: Path = CHROMIUM) -> None:
    """Skip when the browser is missing; fail instead in CI, which must have installed it."""
    if path.is_file() and os.access(path, os.X_OK):
        return
    reason = f"browser tests need Debian's Chromium at {path} (apt-get install chromium)"
    if os.environ.get("KLUIS_CI"):
        pytest.fail(f"{reason}; KLUIS_CI is set, so CI must provide it", pytrace=False)
    pytest.skip(reason)


@asynccontextmanager
async def chromium_page(profile: Path, *, locale: str = DEFAULT_LOCALE) -> AsyncIterator[Page]:
    """A page in a fresh headless Debian Chromium using the profile directory `profile`, whose
    preferred language is `locale`."""
    require_chromium()
    async with async_playwright() as playwright:
        # Playwright passes the profile as --user-data-dir itself.
        context = await playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=list(CHROMIUM_ARGS),
            viewport={"width": 1000, "height": 800},
            locale=locale,
        )
        try:
            context.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


@dataclass
class Browser:
    page: Page
    shots: Path
    prefix: str
    errors: list[str]

    async def shot(self, step: str) -> None:
        await self.page.screenshot(path=self.shots / f"{self.prefix}-{step}.png", full_page=True)

    def unexpected_errors(self) -> list[str]:
        """Console errors, page errors and failed loads."""
        return list(self.errors)
