"""Fixtures for the owner's rights (issue 15): a Kluis server on a known port, once per storage
backend, whose memory parts the tests can look into, and a small client app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pod.app import create_app
from pod.config import Settings
from pod.storage.journal import MemoryJournal
from pod.storage.kv import MemoryKeyValueStore
from pod.storage.memory import MemoryBackend
from tests.idp.conftest import Kluis, browser, browser_locale, free_port, kluis, screenshots

__all__ = ["browser", "browser_locale", "kluis", "screenshots"]


@dataclass
class Served:
    """A running server; with the memory backend, its backend, records and journal too."""

    kluis: Kluis
    data_dir: Path
    backend: MemoryBackend | None = None
    kv: MemoryKeyValueStore | None = None
    journal: MemoryJournal | None = None


def settings_for(kind: str, data_dir: Path, port: int) -> Settings:
    return Settings(
        host="127.0.0.1",
        port=port,
        storage="memory" if kind == "memory" else "file",
        data_dir=data_dir,
        access_log=False,
        fetch_private_networks=True,
        password_cost=10,
        fsync=False,
    )


@pytest.fixture(params=["memory", "fs"])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    data_dir = tmp_path / "data"
    settings = settings_for(str(request.param), data_dir, free_port())
    found = Served(Kluis(settings.base_url, settings, web.Application()), data_dir)
    options: dict[str, Any] = {}
    if request.param == "memory":
        found.backend, found.kv, found.journal = (
            MemoryBackend(),
            MemoryKeyValueStore(),
            MemoryJournal(),
        )
        options = {"backend": found.backend, "kv": found.kv, "journal": found.journal}
    app = create_app(settings, **options)
    found.kluis.app = app
    server = TestServer(app, host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        yield found
    finally:
        await server.close()


@dataclass
class App:
    """An app with a Client ID Document, which keeps the person signed in (offline_access)."""

    base: str

    @property
    def client_id(self) -> str:
        return self.base + "/id"

    @property
    def redirect_uri(self) -> str:
        return self.base + "/callback"


@pytest.fixture
async def client_app(aiohttp_server: Any) -> App:
    state: dict[str, str] = {}

    async def document(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "@context": ["https://www.w3.org/ns/solid/oidc-context.jsonld"],
                "client_id": state["base"] + "/id",
                "client_name": "Test App",
                "redirect_uris": [state["base"] + "/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "scope": "openid webid offline_access",
                "token_endpoint_auth_method": "none",
            },
            content_type="application/ld+json",
        )

    async def callback(_: web.Request) -> web.Response:
        return web.Response(text="app received the callback")

    app = web.Application()
    app.router.add_get("/id", document)
    app.router.add_get("/callback", callback)
    server = await aiohttp_server(app)
    state["base"] = str(server.make_url("")).rstrip("/")
    return App(state["base"])
