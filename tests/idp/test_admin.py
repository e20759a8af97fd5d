"""The operator's API (`<base>.account/api/admin/`, issue 15 §5) over HTTP: its token, hidden
routes, quotas, disabling an account and one-time password-reset links."""

from __future__ import annotations

import asyncio
import base64
import stat
import time
import types
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

import pod.storage.kv
from pod.app import create_app
from pod.config import Settings
from pod.feed import LocalFeed
from tests.idp.conftest import (
    PASSWORD,
    ClientApp,
    Kluis,
    api_token,
    browser_session,
    csrf_of,
    free_port,
    sign_up,
)
from tests.idp.test_access_page import signed_in_as
from tests.idp.test_flows import (
    DPoPKey,
    authorize,
    fetch_token,
    get_status,
    put_private,
    refresh_tokens,
)
from tests.idp.test_pages import logged_in

# File storage, as operators run it: the token is written to <data_dir>/.kluis/admin-token.
FILE_STORAGE: Final = pytest.mark.parametrize(
    "kluis", [{"storage": "file", "fsync": False}], indirect=True
)
ADMIN: Final = ".account/api/admin/"
NEW_PASSWORD: Final = "staple battery horse correct"


def token_file(kluis: Kluis) -> Path:
    return kluis.settings.data_dir / ".kluis" / "admin-token"


def admin_headers(kluis: Kluis) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_file(kluis).read_text().strip()}


async def admin(
    kluis: Kluis, method: str, path: str, body: Any = None, *, status: int = 200
) -> Any:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, kluis.url(ADMIN + path), json=body, headers=admin_headers(kluis)) as r,
    ):
        assert r.status == status, await r.text()
        return await r.json()


def test_settings_say_where_the_token_goes(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).admin_token_path == tmp_path / ".kluis" / "admin-token"
    assert Settings(storage="memory").admin_token_path is None  # no data directory: off
    chosen = tmp_path / "token"
    assert Settings(storage="memory", admin_token_file=str(chosen)).admin_token_path == chosen


@pytest.mark.parametrize("chosen", [True, False])
async def test_with_memory_storage_the_api_needs_a_token_file(tmp_path: Path, chosen: bool) -> None:
    path = tmp_path / "run" / "admin-token"
    settings = Settings(
        host="127.0.0.1",
        port=free_port(),
        storage="memory",
        data_dir=tmp_path / "unused",
        access_log=False,
        admin_token_file=str(path) if chosen else "",
    )
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        assert path.is_file() is chosen
        assert not (tmp_path / "unused").exists()
        token = path.read_text().strip() if chosen else "anything"
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                settings.base_url + ADMIN + "accounts",
                headers={"Authorization": f"Bearer {token}"},
            ) as r,
        ):
            assert r.status == (200 if chosen else 404)
    finally:
        await server.close()


@FILE_STORAGE
async def test_the_token_is_the_operators_only_and_new_at_every_start(kluis: Kluis) -> None:
    path = token_file(kluis)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text().strip()
    assert len(first) >= 40
    await admin(kluis, "GET", "accounts")
    # A second start over the same data directory writes a new token; the old one is refused.
    again = create_app(kluis.settings)
    server = TestServer(again, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        assert path.read_text().strip() != first
        async with (
            aiohttp.ClientSession() as s,
            s.get(kluis.url(ADMIN + "accounts"), headers={"Authorization": f"Bearer {first}"}) as r,
        ):
            assert r.status == 404
    finally:
        await server.close()
    await admin(kluis, "GET", "accounts")


@FILE_STORAGE
async def test_without_the_token_the_routes_answer_as_unknown_paths_do(kluis: Kluis) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(kluis.url(".account/api/nothing-here")) as r:
            assert r.status == 404
            unknown = await r.json()
        wrong = [
            {},
            {"Authorization": "Bearer not-the-token"},
            {"Authorization": "Basic " + token_file(kluis).read_text().strip()},
            {"Authorization": "Bearer "},
        ]
        for path, method in [
            ("accounts", "GET"),
            ("accounts", "DELETE"),  # a wrong method too: no 405 telling the path exists
            ("pods/alice/quota", "PUT"),
            ("disable", "POST"),
            ("reset-links", "POST"),
        ]:
            for headers in wrong:
                async with s.request(
                    method, kluis.url(ADMIN + path), json={}, headers=headers
                ) as r:
                    assert r.status == 404, (path, method, headers)
                    assert "Allow" not in r.headers
                    body = await r.json()
                    assert body["title"] == unknown["title"]
                    assert body["detail"] == f"/{ADMIN}{path} does not exist"
        # With it, a wrong method is an honest 405.
        async with s.delete(kluis.url(ADMIN + "accounts"), headers=admin_headers(kluis)) as r:
            assert r.status == 405
            assert r.headers["Allow"] == "GET"
        # Like every .account/ route: no CORS, and no unsafe request from another origin.
        hostile = {**admin_headers(kluis), "Origin": "https://evil.example"}
        async with s.get(kluis.url(ADMIN + "accounts"), headers=hostile) as r:
            assert r.status == 200
            assert "Access-Control-Allow-Origin" not in r.headers
        async with s.post(
            kluis.url(ADMIN + "disable"), json={"email": "x@example.org"}, headers=hostile
        ) as r:
            assert r.status == 403


@FILE_STORAGE
async def test_accounts_lists_pods_with_usage_and_quota(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    await sign_up(kluis, "bob@example.org", "bob")
    listed = (await admin(kluis, "GET", "accounts"))["accounts"]
    by_email = {a["email"]: a for a in listed}
    assert set(by_email) == {"alice@example.org", "bob@example.org"}
    alice = by_email["alice@example.org"]
    assert alice["disabled"] is False
    assert alice["created"].endswith("+00:00")
    [pod] = alice["pods"]
    assert pod["name"] == "alice"
    assert pod["root"] == kluis.url("alice/")
    assert pod["webId"] == kluis.url("alice/profile/card#me")
    assert pod["used"] > 0  # the profile, the ACLs and the preferences of a new pod
    assert pod["quota"] is None


@FILE_STORAGE
async def test_a_pods_own_quota_is_set_and_dropped_and_the_pod_recounted(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    async with aiohttp.ClientSession() as http:
        alice = await signed_in_as(kluis, http, "alice@example.org", "alice")
        used = (await admin(kluis, "POST", "pods/alice/recount"))["used"]
        limited = await admin(kluis, "PUT", "pods/alice/quota", {"quota": used + 1000})
        assert limited == {
            "name": "alice",
            "root": kluis.url("alice/"),
            "used": used,
            "quota": used + 1000,
        }
        doc = kluis.url("alice/big.bin")
        big = {"data": b"x" * 2000, "headers": {"Content-Type": "application/octet-stream"}}
        status, text = await alice.call("PUT", doc, **big)
        assert status == 507, text
        assert "quota" in text
        assert (await admin(kluis, "PUT", "pods/alice/quota", {"quota": None}))["quota"] is None
        assert (await alice.call("PUT", doc, **big))[0] == 201
        # Back to the setting (no limit here), and a walk finds what the counter says.
        assert (await admin(kluis, "PUT", "pods/alice/quota", {"quota": "default"}))[
            "quota"
        ] is None
        assert (await admin(kluis, "POST", "pods/alice/recount"))["used"] == used + 2000
    await admin(kluis, "PUT", "pods/nobody/quota", {"quota": 5}, status=404)
    for bad in ({"quota": -1}, {"quota": "lots"}, {"quota": True}, {}):
        await admin(kluis, "PUT", "pods/alice/quota", bad, status=400)


@FILE_STORAGE
async def test_a_disabled_account_cannot_log_in_and_its_access_ends(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    email = {"email": "alice@example.org"}
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        app = await signed_in_as(kluis, http, "alice@example.org", "alice")
        doc = kluis.url("alice/notes")
        assert (await app.call("PUT", doc, data="hi", headers={"Content-Type": "text/plain"}))[
            0
        ] == 201
        token = await api_token(kluis, "alice@example.org")
        async with http.post(
            kluis.url(".account/api/credentials"),
            json={"webId": kluis.url("alice/profile/card#me"), "name": "script"},
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.status == 201
            made = await r.json()
        basic = base64.b64encode(f"{made['clientId']}:{made['clientSecret']}".encode())
        script = {"Authorization": "Basic " + basic.decode()}
        await logged_in(kluis, browser, "alice@example.org")

        disabled = await admin(kluis, "POST", "disable", email)
        assert disabled["disabled"] is True
        assert disabled["sessionsEnded"] == 1
        # The app's access token, issued before: refused at its next request.
        status, text = await app.call("GET", doc)
        assert status == 401
        assert "revoked" in text
        # The page session ended; the API token is gone.
        async with browser.get(kluis.url(".account/"), allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"] == kluis.url(".account/login")
        async with http.get(
            kluis.url(".account/api/me"), headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 401
        # Log-in is refused with the reason, in the reader's language, after the password only.
        for language, said in [
            ("en", "The operator of this server has disabled this account."),
            ("nl", "De beheerder van deze server heeft dit account uitgeschakeld."),
        ]:
            async with browser.get(kluis.url(".account/login")) as r:
                form = {"csrf": csrf_of(await r.text()), "email": "alice@example.org"}
            async with browser.post(
                kluis.url(".account/login"),
                data={**form, "password": PASSWORD},
                headers={"Accept-Language": language},
            ) as r:
                assert r.status == 403
                assert said in await r.text()
            async with browser.post(
                kluis.url(".account/login"),
                data={**form, "password": "wrong password"},
                headers={"Accept-Language": language},
            ) as r:
                assert r.status == 401
                assert said not in await r.text()
        async with http.post(
            kluis.url(".account/api/login"), json={**email, "password": PASSWORD}
        ) as r:
            assert r.status == 403
            assert "disabled" in (await r.json())["detail"]
        # Its client credentials get no new token.
        async with http.post(
            kluis.url(".oidc/token"),
            data={"grant_type": "client_credentials"},
            headers=script,
        ) as r:
            assert r.status == 400
            assert (await r.json())["error"] == "invalid_grant"
        listed = (await admin(kluis, "GET", "accounts"))["accounts"]
        assert [a["disabled"] for a in listed] == [True]

        assert (await admin(kluis, "POST", "enable", email))["disabled"] is False
        await logged_in(kluis, browser, "alice@example.org")
        # Tokens issued before it was disabled stay refused; new ones work (a token's `iat`
        # is in whole seconds: one issued in the second of the revocation counts as revoked).
        assert (await app.call("GET", doc))[0] == 401
        await asyncio.sleep(1.1)
        again = await signed_in_as(kluis, http, "alice@example.org", "alice", "again")
        assert (await again.call("GET", doc))[0] == 200
        async with http.post(
            kluis.url(".oidc/token"), data={"grant_type": "client_credentials"}, headers=script
        ) as r:
            assert r.status == 200
    await admin(kluis, "POST", "disable", {"email": "nobody@example.org"}, status=404)
    await admin(kluis, "POST", "disable", {"email": "not an address"}, status=400)
    await admin(kluis, "POST", "disable", {}, status=400)


@FILE_STORAGE
async def test_a_reset_link_works_once_and_ends_the_old_sessions(kluis: Kluis) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    made = await admin(kluis, "POST", "reset-links", {"email": "alice@example.org"}, status=201)
    link = made["link"]
    assert link.startswith(kluis.url(".account/reset?token="))
    assert made["expiresIn"] == 3600
    async with browser_session() as old, browser_session() as browser:
        await logged_in(kluis, old, "alice@example.org")
        async with browser.get(link) as r:
            assert r.status == 200
            assert r.headers["Referrer-Policy"] == "no-referrer"
            page = await r.text()
        token = link.split("token=", 1)[1]
        form = {"csrf": csrf_of(page), "token": token}
        # Without the form's CSRF token: refused.
        async with browser.post(
            kluis.url(".account/reset"),
            data={"token": token, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD},
        ) as r:
            assert r.status == 403
        async with browser.post(
            kluis.url(".account/reset"),
            data={**form, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD + "!"},
        ) as r:
            assert r.status == 400
            assert "The two passwords differ" in await r.text()
        async with browser.post(
            kluis.url(".account/reset"), data={**form, "password": "a" * 12, "repeat": "a" * 12}
        ) as r:
            assert r.status == 400  # too weak; the link still works
            assert "too easy to guess" in await r.text()
        async with browser.post(
            kluis.url(".account/reset"),
            data={**form, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD},
        ) as r:
            assert r.status == 200
            assert "Your password is changed" in await r.text()
        # Used up: the link shows why, and a second post changes nothing.
        async with browser.get(link) as r:
            assert r.status == 400
            assert "This link no longer works" in await r.text()
        async with browser.post(
            kluis.url(".account/reset"), data={**form, "password": PASSWORD, "repeat": PASSWORD}
        ) as r:
            assert r.status == 400
        # The session logged in with the old password has ended.
        async with old.get(kluis.url(".account/"), allow_redirects=False) as r:
            assert r.status == 303
    async with aiohttp.ClientSession() as http:
        for password, status in [(PASSWORD, 401), (NEW_PASSWORD, 200)]:
            async with http.post(
                kluis.url(".account/api/login"),
                json={"email": "alice@example.org", "password": password},
            ) as r:
                assert r.status == status


@FILE_STORAGE
async def test_a_reset_ends_every_apps_access(kluis: Kluis, client_app: ClientApp) -> None:
    """Whoever knew the old password may have connected apps and made client credentials: a
    reset ends their tokens too, not only the page sessions and API tokens."""
    await sign_up(kluis, "alice@example.org", "alice")
    client, callback, verifier = await authorize(kluis, client_app, remember=True)
    key = DPoPKey()
    tokens = await fetch_token(client, kluis, callback, verifier, key)
    await put_private(kluis, key, tokens["access_token"], "alice/private/doc")
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        script = await signed_in_as(kluis, http, "alice@example.org", "alice")
        doc = kluis.url("alice/private/doc")
        assert (await script.call("GET", doc))[0] == 200
        token = await api_token(kluis, "alice@example.org")
        async with http.post(
            kluis.url(".account/api/credentials"),
            json={"webId": kluis.url("alice/profile/card#me"), "name": "backup"},
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.status == 201
            made = await r.json()
        basic = base64.b64encode(f"{made['clientId']}:{made['clientSecret']}".encode())
        backup = {"Authorization": "Basic " + basic.decode()}
        async with http.post(
            kluis.url(".oidc/token"), data={"grant_type": "client_credentials"}, headers=backup
        ) as r:
            assert r.status == 200
        link = (
            await admin(kluis, "POST", "reset-links", {"email": "alice@example.org"}, status=201)
        )["link"]
        async with browser.get(link) as r:
            form = {"csrf": csrf_of(await r.text()), "token": link.split("token=", 1)[1]}
        async with browser.post(
            kluis.url(".account/reset"),
            data={**form, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD},
            headers={"Accept-Language": "nl"},
        ) as r:
            assert r.status == 200
            said = await r.text()
            assert "Je wachtwoord is gewijzigd" in said
            assert "elke app" in said  # every app's access ended, said in Dutch
        # The app's access token from before: refused at once; its refresh token: gone.
        assert await get_status(kluis, key, tokens["access_token"], "alice/private/doc") == 401
        status, body = await refresh_tokens(kluis, client_app, tokens["refresh_token"], key)
        assert (status, body["error"]) == (400, "invalid_grant")
        # The script's token is refused, and its client credentials get no new one.
        status, text = await script.call("GET", doc)
        assert status == 401
        assert "revoked" in text
        async with http.post(
            kluis.url(".oidc/token"), data={"grant_type": "client_credentials"}, headers=backup
        ) as r:
            assert r.status == 401
            assert (await r.json())["error"] == "invalid_client"


@FILE_STORAGE
async def test_a_reset_link_expires_after_an_hour(
    kluis: Kluis, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sign_up(kluis, "alice@example.org", "alice")
    link = (await admin(kluis, "POST", "reset-links", {"email": "alice@example.org"}, status=201))[
        "link"
    ]
    async with browser_session() as browser:
        async with browser.get(link) as r:
            assert r.status == 200
        # The key-value store's clock only, an hour and a second on.
        real = time.time
        monkeypatch.setattr(
            pod.storage.kv, "time", types.SimpleNamespace(time=lambda: real() + 3601)
        )
        async with browser.get(link) as r:
            assert r.status == 400
            assert "This link no longer works" in await r.text()


async def test_disabling_through_one_worker_holds_on_the_other(tmp_path: Path) -> None:
    """Two workers over one data directory and one change feed (as several processes share
    them): an account disabled through one is refused by the other at the next request."""
    port = free_port()
    settings = Settings(
        host="127.0.0.1",
        port=port,
        storage="file",
        data_dir=tmp_path,
        fsync=False,
        access_log=False,
        fetch_private_networks=True,
        password_cost=10,
    )
    feed = LocalFeed()
    one, two = (create_app(settings, feed=feed) for _ in range(2))
    servers = [
        TestServer(one, host="127.0.0.1", port=port),
        TestServer(two, host="127.0.0.1", port=free_port()),
    ]
    for server in servers:
        await server.start_server()
    try:
        kluis = Kluis(settings.base_url, settings, one)
        await sign_up(kluis, "alice@example.org", "alice")
        doc = kluis.url("alice/notes")
        elsewhere = str(servers[1].make_url("/alice/notes"))
        async with aiohttp.ClientSession() as http:
            app = await signed_in_as(kluis, http, "alice@example.org", "alice")
            assert (await app.call("PUT", doc, data="hi", headers={"Content-Type": "text/plain"}))[
                0
            ] == 201
            # Worker two verifies the token, and keeps it verified.
            async with http.get(elsewhere, headers=app.token.headers("GET", doc)) as r:
                assert r.status == 200
            await admin(kluis, "POST", "disable", {"email": "alice@example.org"})
            async with http.get(elsewhere, headers=app.token.headers("GET", doc)) as r:
                assert r.status == 401
                assert "revoked" in await r.text()
    finally:
        for server in servers:
            await server.close()
