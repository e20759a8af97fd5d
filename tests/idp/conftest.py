"""Fixtures for identity-provider tests: a Kluis server on a known port (its base URL is its
issuer), and a small client app serving its Client ID Document over real HTTP."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pod.app import create_app
from pod.config import Settings
from tests.idp.browsing import DEFAULT_LOCALE, SCREENSHOTS, Browser, chromium_page

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Kluis:
    base: str
    settings: Settings
    app: web.Application

    @property
    def issuer(self) -> str:
        return self.base

    def url(self, path: str) -> str:
        """The URL of `path` on this server; an absolute URL (a Location) must already be one."""
        if path.startswith(("http://", "https://")):
            assert path.startswith(self.base), path
            return path
        return self.base + path.lstrip("/")


@pytest.fixture
async def kluis(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Kluis]:
    """Kluis on a free port; parametrize indirectly with a dict to override settings."""
    port = free_port()
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "storage": "memory",
        "data_dir": tmp_path,
        "access_log": False,
        "fetch_private_networks": True,
        "password_cost": 10,
    }
    options.update(getattr(request, "param", {}))
    if options.get("static_clients") == "STATIC":
        static = tmp_path / "clients.json"
        static.write_text(
            json.dumps(
                [
                    {
                        "client_id": "static-app",
                        "client_secret": "s3cret",
                        "redirect_uris": ["https://static.example/cb"],
                    }
                ]
            )
        )
        options["static_clients"] = str(static)
    settings = Settings(**options)
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield Kluis(settings.base_url, settings, app)
    finally:
        await server.close()


@dataclass
class ClientApp:
    """An app with a Client ID Document; it records what arrives at its redirect URI."""

    base: str
    callbacks: list[str]

    @property
    def client_id(self) -> str:
        return self.base + "/id"

    @property
    def redirect_uri(self) -> str:
        return self.base + "/callback"


@pytest.fixture
async def client_app(aiohttp_server: Any) -> ClientApp:
    callbacks: list[str] = []
    app_state: dict[str, str] = {}

    async def document(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "@context": ["https://www.w3.org/ns/solid/oidc-context.jsonld"],
                "client_id": app_state["base"] + "/id",
                "client_name": "Test App",
                "redirect_uris": [app_state["base"] + "/callback"],
                "post_logout_redirect_uris": [app_state["base"] + "/bye"],
                "grant_types": ["authorization_code", "refresh_token"],
                "scope": "openid webid offline_access",
                "token_endpoint_auth_method": "none",
            },
            content_type="application/ld+json",
        )

    async def callback(request: web.Request) -> web.Response:
        callbacks.append(str(request.url))
        return web.Response(text="app received the callback")

    app = web.Application()
    app.router.add_get("/id", document)
    app.router.add_get("/callback", callback)
    server = await aiohttp_server(app)
    app_state["base"] = str(server.make_url("")).rstrip("/")
    return ClientApp(app_state["base"], callbacks)


async def sign_up(kluis: Kluis, email: str, pod: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            kluis.url(".account/api/accounts"),
            json={"email": email, "password": PASSWORD, "pod": pod},
        ) as r,
    ):
        assert r.status == 201, await r.text()
        created: dict[str, Any] = await r.json()
        return created


async def api_token(kluis: Kluis, email: str) -> str:
    async with (
        aiohttp.ClientSession() as s,
        s.post(kluis.url(".account/api/login"), json={"email": email, "password": PASSWORD}) as r,
    ):
        assert r.status == 200, await r.text()
        return str((await r.json())["token"])


def browser_session() -> aiohttp.ClientSession:
    """A client that keeps cookies like a browser, also from an IP-address host (the test
    servers run on 127.0.0.1)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


# --- the browser (tests/idp/browsing.py) ---------------------------------------------------


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def browser_locale() -> str:
    """The browser's language; a test parametrizes it to be another."""
    return DEFAULT_LOCALE


@pytest.fixture
async def browser(
    tmp_path: Path, screenshots: Path, browser_locale: str, request: pytest.FixtureRequest
) -> AsyncIterator[Browser]:
    """A browser page that records console errors, page errors and failed loads, and names its
    screenshots after the test."""
    async with chromium_page(tmp_path / "chromium-profile", locale=browser_locale) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on(
            "response",
            lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )
        page.on(
            "console",
            lambda msg: (
                errors.append(f"console {msg.type}: {msg.text} at {msg.location}")
                if msg.type == "error"
                else None
            ),
        )
        prefix = request.node.name.removeprefix("test_").replace("_", "-")
        yield Browser(page, screenshots, prefix, errors)
