"""The account page shows how much each pod holds, and of what quota, in English and Dutch."""

from __future__ import annotations

import html
import re

import pytest

from pod.http.keys import QUOTAS, STORE
from pod.ldp.quotas import amount
from tests.idp.conftest import PASSWORD, Kluis, browser_session, csrf_of, sign_up

NL = {"Accept-Language": "nl"}


async def account_page(kluis: Kluis, email: str, headers: dict[str, str]) -> str:
    async with browser_session() as browser:
        async with browser.get(kluis.url(".account/login"), headers=headers) as r:
            csrf = csrf_of(await r.text())
        async with browser.post(
            kluis.url(".account/login"),
            data={"csrf": csrf, "email": email, "password": PASSWORD},
            headers=headers,
        ) as r:
            assert r.status == 200
            assert str(r.url) == kluis.url(".account/")
            return html.unescape(re.sub(r"<[^>]+>", " ", await r.text()))


@pytest.mark.parametrize("kluis", [{"pod_quota_bytes": 100_000_000}], indirect=True)
async def test_each_pod_shows_its_usage_of_its_quota(kluis: Kluis) -> None:
    await sign_up(kluis, "uma@example.org", "uma")
    await sign_up(kluis, "uma2@example.org", "uma-two")
    # 1.2 MB beside what a new pod holds (its profile, ACLs and preferences: a few kB).
    store = kluis.app[STORE]
    await store.put(
        "/uma/photo.bin", data=b"x" * 1_200_000, content_type="application/octet-stream"
    )
    used, limit = await kluis.app[QUOTAS].usage("/uma/")
    assert limit == 100_000_000
    assert 1_200_000 < used < 1_250_000
    page = await account_page(kluis, "uma@example.org", {})
    assert "1.2 MB of 100 MB used" in page
    page = await account_page(kluis, "uma@example.org", NL)
    assert "1,2 MB van 100 MB gebruikt" in page
    # The other account's pod holds only what a new pod holds.
    other, _ = await kluis.app[QUOTAS].usage("/uma-two/")
    assert f"{amount(other)} of 100 MB used" in await account_page(kluis, "uma2@example.org", {})
    # A limit of the pod's own, or none.
    await kluis.app[QUOTAS].set_limit("/uma/", 2_500_000)
    assert "1.2 MB of 2.5 MB used" in await account_page(kluis, "uma@example.org", {})
    await kluis.app[QUOTAS].set_limit("/uma/", None)
    assert "1,2 MB gebruikt" in await account_page(kluis, "uma@example.org", NL)


async def test_without_a_quota_only_the_usage_shows(kluis: Kluis) -> None:
    await sign_up(kluis, "ulf@example.org", "ulf")
    used, limit = await kluis.app[QUOTAS].usage("/ulf/")
    assert limit == 0
    assert 0 < used < 100_000
    page = await account_page(kluis, "ulf@example.org", {})
    assert f"{amount(used)} used" in page
    page = await account_page(kluis, "ulf@example.org", NL)
    assert f"{amount(used, point=',')} gebruikt" in page
