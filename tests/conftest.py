"""Shared fixtures: every HTTP test runs against a real aiohttp server, once per storage backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeAlias

import pytest
from aiohttp.test_utils import TestClient
from aiohttp.web import Application, Request

from pod.app import create_app
from pod.config import Settings
from pod.http.keys import STORE
from pod.ldp.store import SolidStore
from pod.storage.base import Backend
from pod.storage.fs import FileBackend
from pod.storage.memory import MemoryBackend

BASE_URL = "http://pod.example/"
POD = "/pod/"

Client: TypeAlias = "TestClient[Request, Application]"
ClientFactory: TypeAlias = Callable[[Application], Awaitable[Client]]


@pytest.fixture(params=["memory", "fs"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def backend(backend_kind: str, data_dir: Path) -> Backend:
    if backend_kind == "memory":
        return MemoryBackend()
    # fsync costs milliseconds per write and proves nothing here; the crash tests turn it on.
    return FileBackend(data_dir, fsync=False)


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(
        base_url=BASE_URL,
        data_dir=data_dir,
        max_body_bytes=1_000_000,
        max_rdf_bytes=200_000,
        access_log=False,
    )


@pytest.fixture
def app(settings: Settings, backend: Backend) -> Application:
    return create_app(settings, backend=backend)


@pytest.fixture
async def client(aiohttp_client: ClientFactory, app: Application) -> Client:
    client = await aiohttp_client(app)
    await app[STORE].create_storage(POD, owner="https://alice.example/profile#me")
    return client


@pytest.fixture
def store(app: Application) -> SolidStore:
    return app[STORE]


def url(path: str) -> str:
    """The absolute URL the server uses for `path`."""
    return BASE_URL.rstrip("/") + path
