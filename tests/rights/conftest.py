"""The browser and a Kluis on a known port, as the identity provider's tests have them."""

from __future__ import annotations

from tests.idp.conftest import browser, browser_locale, kluis, screenshots

__all__ = ["browser", "browser_locale", "kluis", "screenshots"]
