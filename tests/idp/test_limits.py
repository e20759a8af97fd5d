"""Limits on what anyone can try at the account pages: log-in guessing, sign-up, and the state a
visitor leaves behind (issue 10, items 9, 10 and 19), over real HTTP against a running Kluis.

Client addresses are simulated through `X-Forwarded-For` from a trusted proxy (the test client on
127.0.0.1), as a reverse proxy would send them.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from pod.accounts.service import SIGNUPS_PER_HOUR
from pod.http.keys import ACCOUNTS
from tests.idp.conftest import PASSWORD, Kluis, browser_session, csrf_of, sign_up

EMAIL = "alice@example.org"
BEHIND_PROXY = pytest.mark.parametrize("kluis", [{"trusted_proxies": "127.0.0.1"}], indirect=True)


async def api_login(
    s: aiohttp.ClientSession, kluis: Kluis, password: str, *, address: str | None = None
) -> int:
    headers = {} if address is None else {"X-Forwarded-For": address}
    async with s.post(
        kluis.url(".account/api/login"),
        json={"email": EMAIL, "password": password},
        headers=headers,
    ) as r:
        return r.status


async def page_login(s: aiohttp.ClientSession, kluis: Kluis, password: str, **headers: str) -> int:
    async with s.get(kluis.url(".account/login"), headers=headers) as r:
        html = await r.text()
    async with s.post(
        kluis.url(".account/login"),
        data={"csrf": csrf_of(html), "email": EMAIL, "password": password},
        headers=headers,
        allow_redirects=False,
    ) as r:
        return r.status


@pytest.fixture
async def alice(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")


async def test_concurrent_guesses_are_counted_before_any_is_checked(
    kluis: Kluis, alice: None
) -> None:
    """Forty guesses at once used to pass the check together (it counted failures only after
    each slow password hash); now the limit holds however they arrive."""
    async with aiohttp.ClientSession() as s:
        statuses = await asyncio.gather(*(api_login(s, kluis, f"guess {i}") for i in range(40)))
        assert sorted(statuses) == [401] * 5 + [429] * 35
        assert await api_login(s, kluis, PASSWORD) == 429


@BEHIND_PROXY
async def test_guessing_from_elsewhere_does_not_lock_the_owner_out(
    kluis: Kluis, alice: None
) -> None:
    """Five wrong guesses by anyone used to lock the owner out for 15 minutes everywhere."""
    async with browser_session() as owner:
        assert await page_login(owner, kluis, PASSWORD) == 303  # this browser is now known
        async with owner.post(
            kluis.url(".account/logout"),
            data={"csrf": await _csrf(owner, kluis)},
            allow_redirects=False,
        ) as r:
            assert r.status == 303
        async with aiohttp.ClientSession() as attacker:
            statuses = [
                await api_login(attacker, kluis, f"guess {i}", address=f"203.0.113.{i % 7}")
                for i in range(30)
            ]
        assert statuses.count(401) == 10  # then the account is closed to new devices
        assert set(statuses[10:]) == {429}
        # The owner's browser still gets in ...
        assert await page_login(owner, kluis, PASSWORD) == 303
    # ... while a browser the account has never seen waits, like the attacker.
    async with browser_session() as stranger:
        assert await page_login(stranger, kluis, PASSWORD) == 429


@BEHIND_PROXY
async def test_one_address_guessing_does_not_limit_another(kluis: Kluis, alice: None) -> None:
    async with aiohttp.ClientSession() as s:
        for i in range(5):
            assert await api_login(s, kluis, f"guess {i}", address="203.0.113.9") == 401
        assert await api_login(s, kluis, PASSWORD, address="203.0.113.9") == 429
        assert await api_login(s, kluis, PASSWORD, address="198.51.100.4") == 200


async def test_forwarded_for_is_not_believed_from_an_untrusted_peer(
    kluis: Kluis, alice: None
) -> None:
    async with aiohttp.ClientSession() as s:
        for i in range(5):
            assert await api_login(s, kluis, f"guess {i}", address=f"203.0.113.{i}") == 401
        assert await api_login(s, kluis, PASSWORD, address="198.51.100.4") == 429


async def test_one_address_cannot_spray_many_accounts(kluis: Kluis) -> None:
    async with aiohttp.ClientSession() as s:
        statuses = []
        for i in range(25):
            async with s.post(
                kluis.url(".account/api/login"),
                json={"email": f"user{i}@example.org", "password": "password1"},
            ) as r:
                statuses.append(r.status)
    assert statuses == [401] * 20 + [429] * 5


async def test_a_visitor_who_submits_nothing_leaves_nothing(kluis: Kluis) -> None:
    """Each cookie-less page view used to write a 14-day session file."""
    kv = kluis.app[ACCOUNTS].kv
    async with aiohttp.ClientSession() as s:
        for _ in range(30):
            for page in (".account/login", ".account/signup", ".account/"):
                async with s.get(kluis.url(page), allow_redirects=False) as r:
                    assert r.status in (200, 303)
            s.cookie_jar.clear()
    assert await kv.items("sessions") == []
    # The form still works, with the CSRF secret its cookie carries ...
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as b:
        assert await page_login(b, kluis, PASSWORD) == 303
    assert len(await kv.items("sessions")) == 1
    # ... and a form posted with another visitor's token is refused.
    async with browser_session() as first, browser_session() as second:
        token = await _csrf(first, kluis)
        await _csrf(second, kluis)
        async with second.post(
            kluis.url(".account/login"),
            data={"csrf": token, "email": EMAIL, "password": PASSWORD},
            allow_redirects=False,
        ) as r:
            assert r.status == 403


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("12345678", "too easy to guess"),
        ("password", "too easy to guess"),
        ("wachtwoord", "too easy to guess"),
        ("alice@example.org", "too easy to guess"),
        ("short", "at least 8 characters"),
        ("x" * 1100, "at most 1024 characters"),
    ],
)
async def test_sign_up_refuses_guessable_passwords_and_says_why(
    kluis: Kluis, password: str, message: str
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            kluis.url(".account/api/accounts"),
            json={"email": EMAIL, "password": password, "pod": "alice"},
        ) as r,
    ):
        assert r.status == 400
        assert message in (await r.json())["detail"]
    assert await kluis.app[ACCOUNTS].kv.items("emails") == []


async def test_sign_up_is_limited_per_address(kluis: Kluis) -> None:
    """Each sign-up says whether an e-mail address has an account here, and costs storage."""
    async with aiohttp.ClientSession() as s:
        statuses = []
        for i in range(SIGNUPS_PER_HOUR + 2):
            async with s.post(
                kluis.url(".account/api/accounts"),
                json={"email": f"u{i}@example.org", "password": PASSWORD},
            ) as r:
                statuses.append(r.status)
    assert statuses == [201] * SIGNUPS_PER_HOUR + [429, 429]


async def _csrf(s: aiohttp.ClientSession, kluis: Kluis) -> str:
    async with s.get(kluis.url(".account/login")) as r:
        return csrf_of(await r.text())
