"""Shared fixtures: every HTTP test runs against a real aiohttp server, once per storage backend."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeAlias

import pytest
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web import Application, Request

from pod.acl.defaults import create_owned_storage
from pod.app import create_app
from pod.config import Settings
from pod.feed import LocalFeed
from pod.http.keys import STORE
from pod.ldp.resources import ResourceStore
from pod.storage.base import Backend
from pod.storage.fs import FileBackend
from pod.storage.memory import MemoryBackend
from tests.support import BASE_URL, Agent, PodClient, TestIssuer

POD = "/pod/"

Client: TypeAlias = PodClient
ClientFactory: TypeAlias = Callable[[Application], Awaitable["TestClient[Request, Application]"]]
ServerFactory: TypeAlias = Callable[[Application], Awaitable[TestServer]]


class _ServerErrors(logging.Handler):
    """Collects the records the error boundary logs for every answer it turns into a 500."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and 400 <= error.code < 500:
            return  # a malformed request (a 20 KB header): aiohttp's parser answered 4xx
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_server_errors() -> Iterator[None]:
    """No request in the suite may answer 5xx: every in-process server's 500 fails its test."""
    handler = _ServerErrors()
    # Our error boundary, and aiohttp's own for anything that escapes it.
    loggers = [logging.getLogger(name) for name in ("pod.http.errors", "aiohttp.server")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    if handler.records:
        record = handler.records[0]
        pytest.fail(
            f"the server answered 500 {len(handler.records)} time(s): {record.getMessage()}\n"
            + (logging.Formatter().formatException(record.exc_info) if record.exc_info else ""),
            pytrace=False,
        )


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
        fetch_private_networks=True,  # the test issuer lives on loopback
    )


@pytest.fixture
def app(settings: Settings, backend: Backend) -> Application:
    return create_app(settings, backend=backend)


@pytest.fixture
async def issuer(aiohttp_server: ServerFactory) -> TestIssuer:
    issuer = TestIssuer()
    server = await aiohttp_server(issuer.app())
    issuer.url = str(server.make_url("")).rstrip("/")
    return issuer


@pytest.fixture
def alice(issuer: TestIssuer) -> Agent:
    """The owner of the pod at /pod/."""
    return Agent(issuer, "alice")


@pytest.fixture
def bob(issuer: TestIssuer) -> Agent:
    return Agent(issuer, "bob")


@pytest.fixture
async def client(aiohttp_client: ClientFactory, app: Application, alice: Agent) -> Client:
    """A client acting as alice, who owns the storage /pod/."""
    test_client = await aiohttp_client(app)
    await create_owned_storage(app[STORE], POD, owner=alice.webid)
    return PodClient(test_client, alice)


@pytest.fixture
def worker_apps(settings: Settings, backend: Backend) -> list[Application]:
    """Two workers over one storage, sharing one change feed (as several processes share it)."""
    feed = LocalFeed()
    return [create_app(settings, backend=backend, feed=feed) for _ in range(2)]


@pytest.fixture
async def workers(
    aiohttp_client: ClientFactory, worker_apps: list[Application], alice: Agent
) -> tuple[PodClient, PodClient]:
    """A client of each worker acting as alice, who owns the storage /pod/."""
    clients = [PodClient(await aiohttp_client(app), alice) for app in worker_apps]
    await create_owned_storage(worker_apps[0][STORE], POD, owner=alice.webid)
    return clients[0], clients[1]


@pytest.fixture
def store(app: Application) -> ResourceStore:
    return app[STORE]


def url(path: str) -> str:
    """The absolute URL the server uses for `path`."""
    return BASE_URL.rstrip("/") + path
