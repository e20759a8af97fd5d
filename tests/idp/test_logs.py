"""The identity provider's audit lines: sign-ups, lock-outs, consents, credentials, revocations
and log-outs at info level, naming accounts by id and WebID; and no password, token, code or
secret that passed through a flow anywhere in the log, even at debug level.

A real `kluis serve --log-level debug` process writes the log.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web

from pod.config import Settings
from tests.idp.conftest import (
    PASSWORD,
    ClientApp,
    Kluis,
    api_token,
    browser_session,
    csrf_of,
    sign_up,
)
from tests.idp.test_flows import DPoPKey, authorize, client_credentials_token, fetch_token
from tests.support import free_port, kluis_process, stop_process, wait_until_serving

EMAIL = "alice@example.org"


@dataclass
class Served:
    kluis: Kluis
    log: Path
    stop: Any

    def lines(self, level: str, logger: str) -> list[str]:
        return [
            line
            for line in self.log.read_text().splitlines()
            if f" {level} [" in line and f"] {logger}: " in line
        ]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    port = free_port()
    settings = Settings(
        host="127.0.0.1",
        port=port,
        storage="memory",
        fetch_private_networks=True,
        password_cost=10,
    )
    log = tmp_path / "kluis.log"
    options = ["--storage", "memory", "--fetch-private-networks", "true", "--password-cost", "10"]
    with kluis_process(port, log, *options, "--log-level", "debug") as proc:
        await wait_until_serving(settings.base_url, proc)
        yield Served(
            Kluis(settings.base_url, settings, web.Application()), log, lambda: stop_process(proc)
        )


def request_id(line: str) -> str:
    found = re.search(r" \[([^\]]+)\] ", line)
    assert found, line
    return found[1]


async def test_audit_lines_and_no_secrets(served: Served, client_app: ClientApp) -> None:
    kluis = served.kluis
    secrets: list[str] = [PASSWORD]
    account = await sign_up(kluis, EMAIL, "alice")
    webid = account["webId"]
    [line] = served.lines("INFO", "pod.accounts.service")
    assert f"signed up: account {account['accountId']}, WebID {webid}" in line

    # An app signs in: log-in and consent pages in a browser, then the token endpoint.
    async with browser_session() as browser:
        client, callback, verifier = await authorize(
            kluis, client_app, remember=True, browser=browser
        )
        tokens = await fetch_token(client, kluis, callback, verifier, DPoPKey())
        secrets += [verifier, parse_qs(urlsplit(callback).query)["code"][0]]
        secrets += [tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]
        secrets += [cookie.value for cookie in browser.cookie_jar]
        async with browser.get(kluis.url(".account/")) as r:
            page = await r.text()
        secrets.append(csrf_of(page))
        async with browser.post(
            kluis.url(".account/logout"), data={"csrf": csrf_of(page)}, allow_redirects=False
        ) as r:
            assert r.status == 303
    [consent] = served.lines("INFO", "pod.http.account")
    assert (
        f"consent given: account {account['accountId']} lets {client_app.client_id} sign in as "
        f"{webid}, scope openid webid offline_access (kept connected)"
    ) in consent
    [logout] = served.lines("INFO", "pod.http.sessions")
    assert f"logged out: account {account['accountId']}" in logout

    # A back end gets client credentials; they are revoked, then the app is.
    token, _, credential = await client_credentials_token(kluis, EMAIL, "alice", DPoPKey())
    secrets += [token, credential["clientSecret"]]
    api = await api_token(kluis, EMAIL)
    secrets.append(api)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {api}"}) as s:
        async with s.delete(kluis.url(".account/api/credentials/" + credential["clientId"])) as r:
            assert r.status == 204
        async with s.delete(
            kluis.url(".account/api/apps"), params={"client_id": client_app.client_id}
        ) as r:
            assert r.status == 204
    created, revoked = served.lines("INFO", "pod.accounts.service")[1:]
    cid = credential["clientId"]
    assert f"client credentials {cid} created: WebID {webid}, account " in created
    assert f"client credentials {cid} revoked: WebID {webid}, account " in revoked
    [app] = served.lines("INFO", "pod.idp.provider")
    assert f"app {client_app.client_id} revoked: account {account['accountId']}" in app

    # Someone guesses the password until locked out.
    locked_id = ""
    async with aiohttp.ClientSession() as s:
        for attempt in range(6):
            guess = f"guess number {attempt} for alice"
            secrets.append(guess)
            async with s.post(
                kluis.url(".account/api/login"), json={"email": EMAIL, "password": guess}
            ) as r:
                assert r.status == (401 if attempt < 5 else 429)
                if attempt == 5:
                    locked_id = r.headers["X-Request-Id"]
    [locked] = [line for line in served.lines("INFO", "pod.accounts.service") if "locked" in line]
    assert "log-in locked out: too many failed log-ins (account " in locked
    assert request_id(locked) == locked_id
    refusals = [
        line for line in served.lines("DEBUG", "pod.http.errors") if request_id(line) == locked_id
    ]
    assert len(refusals) == 1
    assert "429 POST /.account/api/login: too many failed log-ins" in refusals[0]

    # A replayed code is refused; the reason (RFC 6749 §5.2 error) is in the debug line.
    async with aiohttp.ClientSession() as s:
        code = parse_qs(urlsplit(callback).query)["code"][0]
        async with s.post(
            kluis.url(".oidc/token"),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": client_app.redirect_uri,
                "client_id": client_app.client_id,
                "code_verifier": verifier,
            },
        ) as r:
            assert r.status == 400
            replay_id = r.headers["X-Request-Id"]
    [replay] = [
        line for line in served.lines("DEBUG", "pod.http.errors") if request_id(line) == replay_id
    ]
    assert "400 POST /.oidc/token: " in replay

    served.stop()
    text = served.log.read_text()
    assert " ERROR " not in text
    assert "Traceback" not in text
    assert EMAIL not in text  # personal data: accounts go by id
    for secret in secrets:
        assert len(secret) >= 8
        assert secret not in text, secret
