"""create_app(): the composition root. Picks the backends, stacks the store, wires HTTP.

Only this module and the CLI import every layer.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web

from pod import __version__
from pod.acl.decide import Authorizer, WacAuthorizer, acl_validator
from pod.acl.defaults import ensure_acls
from pod.acl.groups import Groups
from pod.auth.authenticate import Authenticator
from pod.auth.dpop import ProofVerifier, ReplayCache
from pod.auth.tokens import IssuerKeys, TokenVerifier
from pod.auth.webid import WebIdProfiles
from pod.config import Settings
from pod.fetch import Fetcher
from pod.http.keys import (
    AUTHENTICATOR,
    AUTHORIZER,
    FETCHER,
    IN_FLIGHT,
    SETTINGS,
    STORE,
    InFlight,
)
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
    overrides Web Access Control (an embedding that does its own access control).
    """
    store = SolidStore(
        backend or make_backend(settings),
        base_url=settings.base_url,
        max_rdf_bytes=settings.max_rdf_bytes,
    )
    store.validators.append(acl_validator(store))
    fetcher = Fetcher(
        timeout=settings.fetch_timeout, allow_private_networks=settings.fetch_private_networks
    )
    base = urlsplit(settings.base_url)
    own_origin = frozenset({f"{base.scheme}://{base.netloc}"})
    issuer_keys = IssuerKeys(fetcher)
    authenticator = Authenticator(
        tokens=TokenVerifier(issuer_keys),
        proofs=ProofVerifier(),
        replay=ReplayCache(),
        profiles=WebIdProfiles(fetcher, store),
        allow_bearer=settings.allow_bearer,
    )
    # aiohttp's own limit backs up ours in pod.http.ldp._read_body.
    app = web.Application(middlewares=[pod_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[STORE] = store
    app[FETCHER] = fetcher
    app[AUTHORIZER] = authorizer or WacAuthorizer(
        store, Groups(store, fetcher), trusted_origins=own_origin
    )
    app[AUTHENTICATOR] = authenticator
    app[IN_FLIGHT] = InFlight()
    app.cleanup_ctx.append(_lifetime)
    add_routes(app, base_path=settings.base_path)
    return app


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    await store.load_storages()
    await ensure_acls(store)
    yield
    await app[FETCHER].close()
    await store.backend.close()


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully."""
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    """Serve; on SIGINT/SIGTERM stop accepting, let in-flight requests finish, then stop.

    aiohttp's own graceful shutdown stops reading request bodies at once, which would cut an
    upload in progress short; so the listening socket closes first and we wait for the requests
    we are handling (up to `shutdown_timeout`) before closing connections. Writes are atomic,
    so a request cut short at the timeout leaves nothing half-written.
    """
    app = create_app(settings)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("pod.access") if settings.access_log else None,
        shutdown_timeout=settings.shutdown_timeout,
        handle_signals=False,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    where = (
        "memory (lost on exit)"
        if settings.storage == "memory"
        else str(settings.data_dir.absolute())
    )
    log.info("Kluis %s serving %s, storage: %s", __version__, settings.base_url, where)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("shutting down: finishing %d request(s) in flight", app[IN_FLIGHT].count)
        await site.stop()
        try:
            async with asyncio.timeout(settings.shutdown_timeout):
                await app[IN_FLIGHT].wait_idle()
        except TimeoutError:
            log.warning("requests still in flight after %.0f s; closing", settings.shutdown_timeout)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    log.info("stopped")
