"""create_app(): the composition root. Picks the backends, stacks the store, wires HTTP.

Only this module and the CLI import every layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from pod import __version__
from pod.accounts.service import AccountService
from pod.accounts.sessions import LoginSessions
from pod.accounts.tombstones import Tombstones
from pod.acl.authorizer import Authorizer, PermissionReader
from pod.acl.defaults import ensure_acls
from pod.acl.groups import Groups
from pod.acl.wac_reader import WacReader, acl_validator
from pod.auth import replay_state
from pod.auth.authenticate import Authenticator
from pod.auth.dpop import ProofVerifier, ReplayCache
from pod.auth.tokens import AccessToken, IssuerKeys, TokenVerifier, same_issuer
from pod.auth.webid import WebIdProfiles
from pod.config import Settings
from pod.errors import BackendUnavailable
from pod.feed import ChangeFeed, LocalFeed
from pod.fetch import Fetcher
from pod.http.access import AccessLogger
from pod.http.access_page import add_access_routes
from pod.http.account import add_account_routes
from pod.http.admin_api import add_admin_routes, write_admin_token
from pod.http.answers import Answers
from pod.http.bodies import runner_options as runner_options  # for embedders
from pod.http.disclosures import add_disclosure_routes
from pod.http.erase_page import add_erase_routes
from pod.http.idp import add_idp_routes, endpoints
from pod.http.keys import (
    ACCOUNTS,
    ANSWERS,
    ASK_LIMITS,
    AUTHENTICATOR,
    AUTHORIZER,
    CHOICES,
    DISCLOSURES,
    ERASURE,
    EXPORTS,
    FEED,
    FETCHER,
    GRANTS,
    HEADERS,
    IN_FLIGHT,
    NAMES,
    PATCH_WORKER,
    PROVIDER,
    QUOTAS,
    REQUESTS,
    SESSIONS,
    SETTINGS,
    SHAPES,
    STORE,
    TEMPLATES,
    TOMBSTONES,
    WARNED,
    InFlight,
    Warned,
)
from pod.http.ldp import header_cache
from pod.http.middlewares import pod_middleware
from pod.http.rights_api import add_rights_routes
from pod.http.routes import add_routes
from pod.http.sessions import Sessions
from pod.http.vault import add_vault_routes
from pod.idp.clients import Clients
from pod.idp.keys import IDP, CookieKeys, SigningKeys
from pod.idp.provider import ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME, Provider
from pod.idp.revocations import REVOCATIONS, Revocations
from pod.ldp.announcing import AnnouncingStore
from pod.ldp.converting import ConvertingStore
from pod.ldp.isolation import IsolatedWorker
from pod.ldp.listings import CachedListings
from pod.ldp.locks import LockingStore
from pod.ldp.quotas import QuotaBackend, Quotas
from pod.ldp.resources import ResourceStore
from pod.ldp.rules import SolidRules
from pod.ldp.shapes import ShapeConstraints
from pod.ldp.storages import Storages
from pod.migrate import check_base_url
from pod.model import ANONYMOUS, AccessMode
from pod.ratelimit import RateLimiter
from pod.rights.erasure import Erasure
from pod.rights.exporting import Exports
from pod.storage.base import Backend
from pod.storage.claim import claim_data_directory
from pod.storage.fs import FileBackend
from pod.storage.journal import FileJournal, Journal, MemoryJournal
from pod.storage.kv import FileKeyValueStore, KeyValueStore, MemoryKeyValueStore
from pod.storage.memory import MemoryBackend
from pod.storage.records import AnnouncingKeyValueStore, declared
from pod.vault.choices import StandingChoices
from pod.vault.disclosures import DisclosureLog
from pod.vault.grants import is_managed
from pod.vault.overview import ProfileNames
from pod.vault.reader import GrantReader
from pod.vault.requests import RequestBook

log = logging.getLogger(__name__)


def make_backend(settings: Settings) -> Backend:
    """The storage backend the settings ask for."""
    if settings.storage == "memory":
        return MemoryBackend()
    return FileBackend(settings.data_dir, fsync=settings.fsync)


def make_kv(settings: Settings) -> KeyValueStore:
    if settings.storage == "memory":
        return MemoryKeyValueStore()
    # `.kluis` is a reserved name: no URL reaches this directory.
    return FileKeyValueStore(settings.data_dir / ".kluis" / "kv")


def make_journal(settings: Settings) -> Journal:
    """Where the owners' access logs go (pod.vault.disclosures)."""
    if settings.storage == "memory":
        return MemoryJournal()
    return FileJournal(
        settings.data_dir / ".kluis" / "journal" / "disclosures", fsync=settings.fsync
    )


def create_app(
    settings: Settings,
    *,
    backend: Backend | None = None,
    kv: KeyValueStore | None = None,
    readers: Sequence[PermissionReader] | None = None,
    more_readers: Sequence[PermissionReader] = (),
    feed: ChangeFeed | None = None,
    consumers: Sequence[Callable[[ChangeFeed], object]] = (),
    journal: Journal | None = None,
) -> web.Application:
    """Build the Kluis aiohttp application for `settings`.

    `backend` and `kv` override the storage the settings name (tests pass their own);
    `readers` replace Web Access Control as the source of permissions (an embedding that does
    its own access control) and `more_readers` add sources beside it; `feed` is the change feed
    (one process's own by default), and each of `consumers` is called with it to subscribe;
    `journal` keeps the owners' access logs (the settings choose one unless given).
    """
    feed = feed or LocalFeed()
    # Key-value records: every write announced on the feed too.
    kv = AnnouncingKeyValueStore(kv or make_kv(settings), feed)
    # The store stack, bottom up: the Solid rules over the backend, then one layer per concern.
    # Every layer that keeps state follows the change feed; the top one announces each write.
    # Under the rules, every byte stored in a pod is counted against its quota.
    backend = backend or make_backend(settings)
    storages = Storages()
    quotas = Quotas(
        backend,
        kv,
        storages,
        default_limit=settings.pod_quota_bytes,
        never_refused=is_managed,  # consent/: withdrawing consent must stay possible
    )
    rules = SolidRules(
        QuotaBackend(backend, quotas),
        base_url=settings.base_url,
        storages=storages,
        max_rdf_bytes=settings.max_rdf_bytes,
    )
    feed.subscribe(rules.storages.follow)
    rules.size_checks.append(quotas.admits)
    feed.subscribe(rules.graphs.follow)  # parsed documents, kept for PATCH
    store: ResourceStore = LockingStore(rules)  # one write at a time per resource
    store = CachedListings(store, feed)  # container listings
    store = ConvertingStore(store, feed)  # content negotiation, cached conversions
    store = AnnouncingStore(store, feed)  # every change on the feed, with who made it
    rules.validators.append(acl_validator(store))
    # Containers that declare a SHACL shape (ldp:constrainedBy) refuse documents that break it.
    shapes = ShapeConstraints(store)
    feed.subscribe(shapes.follow)
    rules.validators.append(shapes.validate)
    rules.non_rdf_checks.append(shapes.check_non_rdf)
    fetcher = Fetcher(
        timeout=settings.fetch_timeout, allow_private_networks=settings.fetch_private_networks
    )
    base = urlsplit(settings.base_url)
    own_origin = frozenset({f"{base.scheme}://{base.netloc}"})
    issuer = settings.base_url
    proofs = ProofVerifier()
    replay = ReplayCache(window=proofs.max_age + proofs.skew, skew=proofs.skew)
    signing_keys = SigningKeys(kv, retire_after=2 * max(ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME))
    issuer_keys = IssuerKeys(fetcher)
    issuer_keys.register_local(issuer, signing_keys.key_set)
    signing_keys.follow(feed)
    revocations = Revocations(kv, keep=ACCESS_TOKEN_LIFETIME + 60)
    revocations.follow(feed)
    # The sources of permissions; the authorizer grants the union of what they grant.
    grants = GrantReader(store, feed)  # purpose-bound grants (pod.vault)
    if readers is None:
        groups = Groups(store, fetcher, ttl=settings.remote_cache_seconds)
        readers = [WacReader(store, groups, feed, trusted_origins=own_origin), grants]
    access_control = Authorizer([*readers, *more_readers], store)

    async def public_can_read(path: str) -> bool:
        return AccessMode.READ in await access_control.granted(ANONYMOUS, path)

    async def revoked(access: AccessToken) -> bool:
        return same_issuer(access.issuer, issuer) and await revocations.is_revoked(
            webid=access.webid, client_id=access.client_id, issued_at=access.issued_at
        )

    tokens = TokenVerifier(issuer_keys, revoked=revoked)
    # A verified token holds until our signing keys change or a revocation is announced.
    tokens.follow(feed, namespaces=(IDP.name, REVOCATIONS.name))
    authenticator = Authenticator(
        tokens=tokens,
        proofs=proofs,
        replay=replay,
        profiles=WebIdProfiles(
            fetcher,
            store,
            feed,
            readable=public_can_read,
            readable_follows_feed=access_control.follows_feed,
        ),
        allow_bearer=settings.allow_bearer,
        signatures=_proof_threads(settings.proof_threads),
    )
    # Names of erased pods, held back; their requests answer 410 (pod.http.ldp).
    tombstones = Tombstones(kv, storages, hold_days=settings.name_hold_days)
    feed.subscribe(tombstones.follow)
    accounts = AccountService(
        kv,
        store,
        issuer=issuer,
        password_cost=settings.password_cost,
        allow_signup=settings.allow_signup,
        tombstones=tombstones,
    )
    provider = Provider(
        issuer=issuer,
        kv=kv,
        keys=signing_keys,
        clients=Clients(kv, fetcher, static=_static_clients(settings.static_clients)),
        accounts=accounts,
        proofs=proofs,
        replay=replay,
        endpoints=endpoints(settings.base_url),
        revocations=revocations,
    )
    # aiohttp's own limit backs up ours in pod.http.ldp._read_body.
    app = web.Application(middlewares=[pod_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[STORE] = store
    app[SHAPES] = shapes
    app[FETCHER] = fetcher
    app[FEED] = feed
    app[HEADERS] = header_cache()
    app[ANSWERS] = Answers(feed, enabled=access_control.follows_feed)
    app[AUTHORIZER] = access_control
    app[GRANTS] = grants
    requests = RequestBook(store, grants.book)
    app[REQUESTS] = requests
    app[CHOICES] = StandingChoices(store, feed)
    app[NAMES] = ProfileNames(store, fetcher, readable=public_can_read)
    # Each process counts its own: a requester spread over workers asks a few times more.
    app[ASK_LIMITS] = RateLimiter(limit=30, window=3600, what="access requests to this pod")
    app[AUTHENTICATOR] = authenticator
    disclosures = None
    if settings.disclosure_log:
        disclosures = DisclosureLog(
            journal if journal is not None else make_journal(settings),
            store.storages,
            base_path=settings.base_path,
            days=settings.disclosure_days,
        )
        feed.subscribe(disclosures.follow)  # what allows a request may change
    app[DISCLOSURES] = disclosures
    app[ACCOUNTS] = accounts
    app[PROVIDER] = provider
    logins = LoginSessions(kv)
    app[SESSIONS] = Sessions(
        logins, CookieKeys(kv), secure=base.scheme == "https", path=settings.base_path
    )
    app[TOMBSTONES] = tombstones
    app[ERASURE] = Erasure(
        accounts=accounts,
        provider=provider,
        sessions=logins,
        store=store,
        tombstones=tombstones,
        quotas=quotas,
        grants=grants.book,
        requests=requests,
        disclosures=disclosures,
    )
    app[TEMPLATES] = Environment(
        loader=PackageLoader("pod", "templates"), autoescape=select_autoescape(["html"])
    )
    app[IN_FLIGHT] = InFlight()
    app[WARNED] = Warned()
    app[PATCH_WORKER] = IsolatedWorker(name="kluis-sparql-parser")
    app[QUOTAS] = quotas
    app[EXPORTS] = Exports()
    app.cleanup_ctx.append(_lifetime)
    # After _lifetime, so that it ends first: the counters are stored clean once no request
    # is left, with the store and the feed still open.
    app.cleanup_ctx.append(_counting)
    app.cleanup_ctx.append(_disclosures)
    app.cleanup_ctx.append(_admin_token)
    app.cleanup_ctx.append(_erasures)
    add_idp_routes(app, base_path=settings.base_path)
    add_account_routes(app, base_path=settings.base_path)
    add_admin_routes(app, base_path=settings.base_path)
    add_access_routes(app, base_path=settings.base_path)
    add_erase_routes(app, base_path=settings.base_path)
    add_vault_routes(app, base_path=settings.base_path)
    add_disclosure_routes(app, base_path=settings.base_path)
    add_rights_routes(app, base_path=settings.base_path)
    add_routes(app, base_path=settings.base_path)
    for consumer in consumers:
        consumer(feed)
    return app


def _proof_threads(setting: int) -> ThreadPoolExecutor | None:
    """The pool that checks proof signatures (`Settings.proof_threads`), or None for the loop."""
    if setting == 0:
        return None
    return ThreadPoolExecutor(max_workers=setting, thread_name_prefix="kluis-dpop")


def _static_clients(path: str) -> list[dict[str, Any]]:
    """Raises ValueError naming the file when it cannot be read or is not a JSON list."""
    if not path:
        return []
    try:
        loaded = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"static_clients {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ValueError(f"static_clients {path}: not JSON ({exc})") from exc
    if not isinstance(loaded, list):
        raise ValueError(f"static_clients {path} must hold a JSON list of client metadata objects")
    return loaded


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    # Stored state names the base URL it was made under; another one needs `kluis migrate`.
    await check_base_url(app[ACCOUNTS].kv, app[SETTINGS].base_url)
    await store.open()
    await app[TOMBSTONES].load()
    await ensure_acls(store)
    await app[PROVIDER].keys.load()
    await app[PROVIDER].revocations.load()
    await replay_state.resume(app[PROVIDER].replay, app[ACCOUNTS].kv)
    if not await app[ACCOUNTS].has_accounts():
        log.info("no accounts yet: sign up at %s.account/signup", app[SETTINGS].base_url)
    sweeper = asyncio.create_task(_sweep_expired(app[ACCOUNTS].kv))
    yield
    sweeper.cancel()
    await replay_state.save(app[PROVIDER].replay, app[ACCOUNTS].kv)
    await app[FEED].close()
    await app[PATCH_WORKER].close()
    signatures = app[AUTHENTICATOR].signatures
    if signatures is not None:
        signatures.shutdown(wait=False, cancel_futures=True)
    await app[FETCHER].close()
    await store.close()


async def _counting(app: web.Application) -> AsyncIterator[None]:
    """The pods' usage counters: stored while serving, and clean at a graceful shutdown."""
    quotas = app[QUOTAS]
    keeper = asyncio.create_task(quotas.keep())
    yield
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper
    await quotas.close()


async def _disclosures(app: web.Application) -> AsyncIterator[None]:
    """The owners' access logs: old days dropped at start, then kept (synced every second,
    anonymous counts written every 10 s, retention daily) until shutdown, when what is counted
    is written and the log synced. Cleaned up before `_lifetime`, so after the last request."""
    disclosures = app[DISCLOSURES]
    if disclosures is None:
        yield
        return
    disclosures.apply_retention()
    keeper = asyncio.create_task(disclosures.keep())
    yield
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper
    disclosures.close()


async def _admin_token(app: web.Application) -> AsyncIterator[None]:
    """A new token for `kluis admin` at every start (pod.http.admin_api), where the operator,
    and only the operator, can read it."""
    path = app[SETTINGS].admin_token_path
    if path is not None:
        try:
            await asyncio.to_thread(write_admin_token, path)
        except OSError as exc:
            # The server still serves its pods; only `kluis admin` cannot reach it, not even
            # with the token of an earlier start.
            log.error("cannot write the admin token to %s: %s", path, exc.strerror or exc)
            with contextlib.suppress(OSError):
                path.unlink()
        else:
            log.info("kluis admin: token written to %s", path)
    yield


async def _erasures(app: web.Application) -> AsyncIterator[None]:
    """Erasures a previous process left half done run again once everything is open; those
    under way at shutdown stop first, to resume at the next start."""
    await app[ERASURE].resume()
    yield
    await app[ERASURE].close()


_SWEEP_SECONDS = 1800.0


async def _sweep_expired(kv: KeyValueStore) -> None:
    """Expired records are dropped when read, but codes and sign-in requests nobody comes back
    for would otherwise stay on disk for good: read every namespace whose records expire, as
    their owners declared them."""
    while True:
        expiring = sorted(name for name, ns in declared().items() if ns.expires)
        for namespace in expiring:
            try:
                await kv.items(namespace)  # reading a namespace drops its expired records
            except OSError:
                log.exception("sweeping expired %s records failed", namespace)
        await asyncio.sleep(_SWEEP_SECONDS)


class StartupError(Exception):
    """The server cannot start; the message says why in one line, for the operator."""


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully.

    Raises StartupError when the server cannot start (data directory, port, static clients).
    """
    claim = None
    if settings.storage == "file":
        try:
            claim = claim_data_directory(settings.data_dir)
        except BackendUnavailable as exc:
            raise StartupError(exc.message) from exc
    try:
        with asyncio.Runner(loop_factory=_loop_factory(settings.event_loop)) as runner:
            runner.run(_serve(settings))
    finally:
        if claim is not None:
            claim.release()


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop for `auto` when it is installed, or for `uvloop` (StartupError without it);
    None, asyncio's own loop, otherwise. uvloop runs aiohttp's protocol and transport code in
    libuv: with a kept answer, about a third of a read's cost (benchmarks/README.md)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop  # optional: the server runs without it
    except ImportError as exc:
        if choice == "uvloop":
            raise StartupError("event_loop is 'uvloop' but uvloop is not installed") from exc
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def _serve(settings: Settings) -> None:
    """Serve; on SIGINT/SIGTERM stop accepting, let in-flight requests finish, then stop.

    aiohttp's own graceful shutdown stops reading request bodies at once, which would cut an
    upload in progress short; so the listening socket closes first and we wait for the requests
    we are handling (up to `shutdown_timeout`) before closing connections. Writes are atomic,
    so a request cut short at the timeout leaves nothing half-written.
    """
    try:
        app = create_app(settings)
    except ValueError as exc:  # a setting that only reading its file shows is wrong
        raise StartupError(str(exc)) from exc
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("pod.access") if settings.access_log else None,
        access_log_class=AccessLogger,
        shutdown_timeout=settings.shutdown_timeout,
        handle_signals=False,
        **runner_options(settings),
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        # asyncio's message repeats the address; a resolver error (gaierror) has its own text.
        if isinstance(exc, socket.gaierror) or not exc.errno:
            reason = exc.strerror or str(exc)
        else:
            reason = os.strerror(exc.errno)
        raise StartupError(
            f"cannot listen on {settings.host}:{settings.port}: {reason}"
            + (" (another server uses that port?)" if exc.errno == errno.EADDRINUSE else "")
        ) from exc
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
