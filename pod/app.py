"""create_app(): the composition root. Picks the backends, stacks the store, wires HTTP.

Only this module and the CLI import every layer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from pod import __version__
from pod.acl.decide import AllowAll, Authorizer
from pod.config import Settings
from pod.http.keys import AUTHORIZER, SETTINGS, STORE
from pod.http.middlewares import pod_middleware
from pod.http.routes import add_routes
from pod.ldp.store import SolidStore
from pod.storage.base import Backend
from pod.storage.fs import FileBackend
from pod.storage.memory import MemoryBackend

log = logging.getLogger(__name__)


def make_backend(settings: Settings) -> Backend:
    """The storage backend the settings ask for."""
    if settings.storage == "memory":
        return MemoryBackend()
    return FileBackend(settings.data_dir, fsync=settings.fsync)


def create_app(
    settings: Settings,
    *,
    backend: Backend | None = None,
    authorizer: Authorizer | None = None,
) -> web.Application:
    """Build the Kluis aiohttp application for `settings`.

    `backend` overrides the storage the settings name (tests pass their own); `authorizer`
    overrides access control.
    """
    store = SolidStore(
        backend or make_backend(settings),
        base_url=settings.base_url,
        max_rdf_bytes=settings.max_rdf_bytes,
    )
    # aiohttp's own limit backs up ours in pod.http.ldp._read_body.
    app = web.Application(middlewares=[pod_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[STORE] = store
    app[AUTHORIZER] = authorizer or AllowAll()
    app.cleanup_ctx.append(_store_lifetime)
    add_routes(app, base_path=settings.base_path)
    return app


async def _store_lifetime(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    await store.load_storages()
    yield
    await store.backend.close()


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM.

    aiohttp's run_app then stops accepting connections and lets in-flight requests finish for up
    to `shutdown_timeout` seconds; every write is atomic, so nothing is left half-written.
    """
    app = create_app(settings)
    where = (
        "memory (lost on exit)"
        if settings.storage == "memory"
        else str(settings.data_dir.absolute())
    )
    log.info("Kluis %s serving %s, storage: %s", __version__, settings.base_url, where)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log=logging.getLogger("pod.access") if settings.access_log else None,
        shutdown_timeout=settings.shutdown_timeout,
        print=None,
    )
