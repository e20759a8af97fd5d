"""Erasure (issue 15 §4), end to end over HTTP, once per storage backend.

An account with documents, client credentials, a page session and an app it keeps connected
shares with B, reads B's pod under B's grant and asks B for more; then it erases itself on the
page. Afterwards nothing on disk (or in the memory backend's, records' and journal's state)
holds its e-mail address, WebID or pod name, its URLs answer 410, its tokens and its password
are dead, B's records name it only by the erasure's URN, and its name is held until the reclaim
code takes it back.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import pytest

from pod.accounts.service import all_accounts
from pod.app import create_app
from pod.errors import Conflict
from pod.http.keys import ACCOUNTS, ERASURE, GRANTS, STORE, TOMBSTONES
from pod.rights.erasure import GUESSES, erased_agent
from tests.idp.conftest import (
    PASSWORD,
    Kluis,
    api_token,
    browser_session,
    csrf_of,
    free_port,
    sign_up,
)
from tests.idp.test_access_page import Publisher, ask_body
from tests.idp.test_flows import DPoPKey, fetch_token, oauth_client
from tests.idp.test_pages import logged_in
from tests.interop.conftest import Person, Server, client_credentials
from tests.rights.conftest import App, Served, settings_for

EMAIL: Final = "erase-7f3a@example.org"
NAME: Final = "erase-7f3a"
B_EMAIL: Final = "reader-b@example.org"
B_NAME: Final = "reader-b"
TURTLE: Final = {"Content-Type": "text/turtle"}
RECOMMENDATIONS: Final = "https://w3id.org/dpv#ProvidePersonalisedRecommendations"


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


async def _signed_in(
    kluis: Kluis, http: aiohttp.ClientSession, email: str, pod: str
) -> tuple[Publisher, str]:
    """Client credentials of `email` acting as its pod's WebID, a token, and the client id."""
    token = await api_token(kluis, email)
    async with http.post(
        kluis.url(".account/api/credentials"),
        json={"webId": kluis.url(f"{pod}/profile/card#me"), "name": "script"},
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        assert r.status == 201, await r.text()
        made = await r.json()
    who = Person(email, made["webId"], kluis.url(pod + "/"), made["clientId"], made["clientSecret"])
    bound = await client_credentials(Server(kluis.base, Path("unused")), http, who)
    return Publisher(kluis, http, bound), str(made["clientId"])


async def _app_kept_connected(kluis: Kluis, app: App, webid: str) -> tuple[dict[str, Any], DPoPKey]:
    """Sign in to `app` as `webid` through the log-in and consent pages, keeping it connected
    (a remembered consent and a refresh token); the app's tokens and its DPoP key."""
    client = oauth_client(app)  # type: ignore[arg-type]
    verifier = secrets.token_urlsafe(48)
    url, _ = client.create_authorization_url(
        kluis.url(".oidc/auth"), code_verifier=verifier, nonce="n-erase"
    )
    async with browser_session() as browser:
        async with browser.get(url, allow_redirects=False) as r:
            login = r.headers["Location"]
        async with browser.get(kluis.url(login)) as r:
            page = await r.text()
        auth = parse_qs(urlsplit(login).query)["auth"][0]
        form = {"csrf": csrf_of(page), "auth": auth, "email": EMAIL, "password": PASSWORD}
        async with browser.post(kluis.url(".account/login"), data=form, allow_redirects=False) as r:
            consent = r.headers["Location"]
        async with browser.get(kluis.url(consent)) as r:
            page = await r.text()
        form = {
            "csrf": csrf_of(page),
            "auth": auth,
            "webid": webid,
            "decision": "allow",
            "remember": "yes",
        }
        async with browser.post(
            kluis.url(".account/consent"), data=form, allow_redirects=False
        ) as r:
            assert r.status == 303, await r.text()
            callback = r.headers["Location"]
    key = DPoPKey()
    tokens = await fetch_token(client, kluis, callback, verifier, key)
    assert "refresh_token" in tokens
    return tokens, key


def _needles(kluis: Kluis) -> list[bytes]:
    webid = kluis.url(f"{NAME}/profile/card#me")
    texts = [EMAIL, webid, NAME, kluis.url(NAME + "/")]
    texts += [quote(t, safe="") for t in texts] + [quote(t) for t in texts]
    return sorted({t.encode() for t in texts} | {t.upper().encode() for t in texts if "%" in t})


def _leaks(served: Served) -> list[str]:
    """Where anything names the erased account: files (names and contents) under the data
    directory, and the memory backend's, records' and journal's state."""
    needles = _needles(served.kluis)
    found = []
    if served.data_dir.exists():
        for path in sorted(served.data_dir.rglob("*")):
            if any(n.decode() in str(path.relative_to(served.data_dir)) for n in needles):
                found.append(f"file name {path}")
            if path.is_file():
                data = path.read_bytes()
                found += [f"{path} holds {n!r}" for n in needles if n in data]
    dumps = {
        "memory backend": served.backend and repr(served.backend._entries),
        "memory records": served.kv and repr(served.kv._data),
        "memory journal": served.journal and repr((served.journal.segments, served.journal.meta)),
    }
    for where, dump in dumps.items():
        if dump:
            found += [f"{where} holds {n!r}" for n in needles if n.decode() in dump]
    return found


async def _erase_on_the_page(kluis: Kluis, browser: aiohttp.ClientSession) -> tuple[str, str]:
    """Erase the whole account on the erase page; the receipt page and the reclaim code."""
    async with browser.get(kluis.url(".account/erase")) as r:
        assert r.status == 200
        page = await r.text()
    assert "This cannot be undone" in page
    assert f"The pod {kluis.url(NAME + '/')}" in page
    form = {"csrf": csrf_of(page), "what": "all", "confirm": "yes", "password": "wrong password"}
    async with browser.post(kluis.url(".account/erase"), data=form) as r:
        assert r.status == 401
        assert "not your password" in await r.text()
    form["password"] = PASSWORD
    async with browser.post(kluis.url(".account/erase"), data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        ticket = r.headers["Location"]
    assert "/.account/erase/" in ticket
    for _ in range(200):
        async with browser.get(kluis.url(ticket)) as r:
            assert r.status == 200
            page = await r.text()
        if "Receipt" in page:
            break
        assert r.headers["Refresh"] == "1"
        await asyncio.sleep(0.05)
    code = re.search(r'<code id="reclaim-code">([^<]+)</code>', page)
    assert code is not None, page
    async with browser.get(kluis.url(ticket)) as r:  # shown once
        assert code[1] not in await r.text()
    return page, code[1]


async def test_an_account_erased_on_the_page_leaves_nothing_that_names_it(
    served: Served, client_app: App
) -> None:
    kluis = served.kluis
    await sign_up(kluis, EMAIL, NAME)
    await sign_up(kluis, B_EMAIL, B_NAME)
    webid = kluis.url(f"{NAME}/profile/card#me")
    b_webid = kluis.url(f"{B_NAME}/profile/card#me")
    async with aiohttp.ClientSession() as http, browser_session() as browser:
        a, a_client = await _signed_in(kluis, http, EMAIL, NAME)
        b, b_client = await _signed_in(kluis, http, B_EMAIL, B_NAME)
        mine = [kluis.url(f"{NAME}/notes/{n}") for n in ("diary", "shopping")]
        for url in mine:
            status, text = await a.call(
                "PUT", url, data=f"<#me> <#wrote> '{NAME}' .", headers=TURTLE
            )
            assert status == 201, text
        theirs = [kluis.url(f"{B_NAME}/shared/{n}") for n in ("tips", "more")]
        for url in theirs:
            assert (await b.call("PUT", url, data="<#t> <#is> 'jazz' .", headers=TURTLE))[0] == 201
        terms = {
            "modes": ["read"],
            "purposes": [RECOMMENDATIONS],
            "expires": _iso(time.time() + 3600),
        }
        # It shares with B, who reads.
        status, text = await a.call(
            "POST",
            kluis.url(f".kluis/consent/{NAME}/grants"),
            json={"recipient": b_webid, "client": b_client, "resources": [mine[0]], **terms},
        )
        assert status == 201, text
        assert (await b.call("GET", mine[0]))[0] == 200
        # B shares with it, and it reads.
        status, text = await b.call(
            "POST",
            kluis.url(f".kluis/consent/{B_NAME}/grants"),
            json={"recipient": webid, "client": a_client, "resources": [theirs[0]], **terms},
        )
        assert status == 201, text
        assert (await a.call("GET", theirs[0]))[0] == 200
        # It asks B for more.
        status, text = await a.call(
            "POST",
            kluis.url(f".kluis/consent/{B_NAME}/requests"),
            data=ask_body([theirs[1]]),
            headers=TURTLE,
        )
        assert status == 201, text
        app_tokens, app_key = await _app_kept_connected(kluis, client_app, webid)
        await logged_in(kluis, browser, EMAIL)
        before = _leaks(served)  # the search finds the account wherever it is kept
        assert any("journal" in leak for leak in before), before
        assert any("records" in leak or "/kv/" in leak for leak in before), before
        receipt_page, code = await _erase_on_the_page(kluis, browser)
        assert "Your account and its pods are erased." in receipt_page
        assert not any(n.decode() in receipt_page for n in _needles(kluis))

        assert _leaks(served) == []
        # Its URLs and WebID are gone, not merely missing; a browser gets a page saying so.
        for url in (webid, kluis.url(NAME + "/"), mine[0]):
            async with http.get(url) as r:
                assert r.status == 410, url
                assert r.headers["Cache-Control"] == "no-store"
        async with http.get(
            kluis.url(NAME + "/"), headers={"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
        ) as r:
            assert r.status == 410
            assert "This pod was erased" in await r.text()
        async with http.post(kluis.url(f".kluis/consent/{NAME}/requests"), data="x") as r:
            assert r.status == 410
        # Its tokens, its refresh token and its password are dead.
        assert (await a.call("GET", theirs[0]))[0] == 401
        token_url = kluis.url(".oidc/token")
        async with http.post(
            token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": app_tokens["refresh_token"],
                "client_id": client_app.client_id,
            },
            headers={"DPoP": app_key.proof("POST", token_url)},
        ) as r:
            assert (await r.json())["error"] == "invalid_grant"
        async with http.post(
            kluis.url(".account/api/login"), json={"email": EMAIL, "password": PASSWORD}
        ) as r:
            assert r.status == 401
        async with browser.get(kluis.url(".account/"), allow_redirects=False) as r:
            assert r.status == 303  # its page session ended
        # B's records name it only by the erasure's URN.
        receipt_id = re.search(r'<td class="mono">([0-9a-f]{32})</td>', receipt_page)
        assert receipt_id is not None
        urn = erased_agent(receipt_id[1])
        status, text = await b.call("GET", kluis.url(f".kluis/consent/{B_NAME}/grants"))
        assert status == 200
        assert urn in text
        assert webid not in text
        status, text = await b.call("GET", kluis.url(f".kluis/consent/{B_NAME}/requests"))
        assert status == 200
        assert urn in text
        assert webid not in text
        status, text = await b.call("GET", kluis.url(f".kluis/disclosures/{B_NAME}/"))
        assert status == 200
        assert urn in text
        assert webid not in text
        # No index holds anything of it.
        app = kluis.app
        assert f"/{NAME}/" not in app[STORE].storages.roots()
        assert EMAIL not in [account.email for account in await all_accounts(app[ACCOUNTS].kv)]
        given = await app[GRANTS].book.all_in(f"/{B_NAME}/")
        assert [g.recipient for g in given] == [urn]
        receipt = await app[TOMBSTONES].receipt(receipt_id[1])
        assert receipt is not None
        assert receipt.scope == "account"
        assert receipt.pods == 1
        assert receipt.files > 10
        assert not any(n.decode() in repr(receipt) for n in _needles(kluis))
        assert await app[ERASURE].state(receipt_id[1]) == receipt
        # The name is held: refused without the reclaim code, taken back with it.
        body = {"email": "someone@example.org", "password": PASSWORD, "pod": NAME}
        async with http.post(kluis.url(".account/api/accounts"), json=body) as r:
            assert r.status == 409
            assert "reclaim code" in (await r.json())["detail"]
        async with http.post(
            kluis.url(".account/api/accounts"), json={**body, "reclaim": code}
        ) as r:
            assert r.status == 201, await r.text()
        async with http.get(webid) as r:
            assert r.status == 200


async def _erase_api(
    http: aiohttp.ClientSession, kluis: Kluis, email: str, target: str, password: str = PASSWORD
) -> tuple[int, dict[str, Any]]:
    token = await api_token(kluis, email)
    async with http.delete(
        kluis.url(".account/" + target),
        json={"password": password},
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        answer: dict[str, Any] = await r.json()
        return r.status, answer


async def test_one_pod_erased_through_the_api_leaves_the_account_and_its_other_pod(
    served: Served,
) -> None:
    kluis = served.kluis
    await sign_up(kluis, EMAIL, NAME)
    async with aiohttp.ClientSession() as http:
        token = await api_token(kluis, EMAIL)
        async with http.post(
            kluis.url(".account/api/pods"),
            json={"name": "kept-pod"},
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.status == 201
        status, answer = await _erase_api(http, kluis, EMAIL, f"api/pods/{NAME}", "wrong password")
        assert status == 401
        async with http.get(kluis.url(NAME + "/profile/card")) as r:
            assert r.status == 200  # a wrong password erases nothing
        status, answer = await _erase_api(http, kluis, EMAIL, "api/pods/not-mine")
        assert status == 404
        status, answer = await _erase_api(http, kluis, EMAIL, f"api/pods/{NAME}")
        assert status == 200, answer
        assert answer["receipt"]["scope"] == "pod"
        assert answer["reclaimCode"]
        async with http.get(kluis.url(NAME + "/profile/card")) as r:
            assert r.status == 410
        async with http.get(kluis.url("kept-pod/profile/card")) as r:
            assert r.status == 200
        async with http.get(
            kluis.url(".account/api/me"), headers={"Authorization": f"Bearer {token}"}
        ) as r:
            me = await r.json()
        assert [p["name"] for p in me["pods"]] == ["kept-pod"]
        # The account may not take the name back without the code either.
        async with http.post(
            kluis.url(".account/api/pods"),
            json={"name": NAME},
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.status == 409
        async with http.post(
            kluis.url(".account/api/pods"),
            json={"name": NAME, "reclaim": answer["reclaimCode"]},
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.status == 201, await r.text()
        async with http.get(kluis.url(NAME + "/profile/card")) as r:
            assert r.status == 200


async def test_after_the_hold_the_name_is_like_one_never_used_and_free(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    settings = replace(settings_for("memory", tmp_path, free_port()), name_hold_days=0)
    server = await aiohttp_server(create_app(settings), port=settings.port)
    kluis = Kluis(settings.base_url, settings, server.app)
    await sign_up(kluis, EMAIL, NAME)
    async with aiohttp.ClientSession() as http:
        status, answer = await _erase_api(http, kluis, EMAIL, "api/me")
        assert status == 200, answer
        # As for a name never used (401 here: the server's root is not public).
        async with http.get(kluis.url("never-used/profile/card")) as r:
            never = r.status
        async with http.get(kluis.url(NAME + "/profile/card")) as r:
            assert r.status == never != 410
        async with http.post(
            kluis.url(".account/api/accounts"),
            json={"email": "next@example.org", "password": PASSWORD, "pod": NAME},
        ) as r:
            assert r.status == 201, await r.text()


async def test_guessing_the_password_on_the_erase_api_is_limited(served: Served) -> None:
    kluis = served.kluis
    await sign_up(kluis, EMAIL, NAME)
    async with aiohttp.ClientSession() as http:
        for _ in range(GUESSES):
            status, _ = await _erase_api(http, kluis, EMAIL, "api/me", "a guess")
            assert status == 401
        status, answer = await _erase_api(http, kluis, EMAIL, "api/me")
        assert status == 429, answer  # the right one too, until the window passes
        async with http.get(kluis.url(NAME + "/profile/card")) as r:
            assert r.status == 200


async def test_a_storage_is_removed_only_once_emptied_and_never_over_http(served: Served) -> None:
    kluis = served.kluis
    await sign_up(kluis, EMAIL, NAME)
    store = kluis.app[STORE]
    with pytest.raises(Conflict):
        await store.remove_storage(f"/{NAME}/")  # it still holds the profile and the rest
    with pytest.raises(Conflict):
        await store.remove_storage(f"/{NAME}/profile/")  # a container, but no storage root
    async with aiohttp.ClientSession() as http:
        owner, _ = await _signed_in(kluis, http, EMAIL, NAME)
        status, _ = await owner.call("DELETE", kluis.url(NAME + "/"))
        assert status == 405  # Solid Protocol #server-delete-protect-root-container
    assert f"/{NAME}/" in store.storages.roots()
    assert (await store.remove_storage("/never-was/")).changes == ()


async def test_two_erasures_of_one_account_at_once_make_one(served: Served) -> None:
    kluis = served.kluis
    await sign_up(kluis, EMAIL, NAME)
    app = kluis.app
    account = await app[ACCOUNTS].get((await all_accounts(app[ACCOUNTS].kv))[0].id)
    assert account is not None
    erasure = app[ERASURE]
    started = await asyncio.gather(
        erasure.start(account, password=PASSWORD),
        erasure.start(account, password=PASSWORD),
        return_exceptions=True,
    )
    jobs = [s for s in started if isinstance(s, tuple)]
    assert len(jobs) == 1
    assert [type(s) for s in started if not isinstance(s, tuple)] == [Conflict]
    await erasure.run(jobs[0][0])
    assert len(await app[TOMBSTONES].receipts()) == 1
