"""GrantReader: grants as a permission source beside Web Access Control (pod.acl.authorizer).

Every grant in a storage is held in an index keyed by (recipient WebID, client id), so a request
costs one dictionary look-up and a check of that pair's few grants: given, `now < expires`, the
path covered, every purpose the request names covered (VAULT.md §1). Nothing is written when a
grant ends: the clock is asked on every request.

A storage's grants are read at its first authenticated request, then kept in step by the change
feed, whichever process wrote them: an announced change of a record drops that grant from the
index at once (so a withdrawal holds from the next request on) and marks it to be read again
before the storage's next answer. Grants never name the public, so what anonymous requests are
allowed depends on announced writes only (`follows_feed`). Imports ldp, feed, model, vault.grants.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import final

from pod.errors import PodError
from pod.feed import ChangeFeed, Event, ResourceChanged
from pod.ldp.resources import ResourceStore
from pod.model import AccessMode, Credentials
from pod.vault.grants import GRANTS, Grant, GrantBook, Status, records_in, when
from pod.vocab import LDP

log = logging.getLogger(__name__)
_CONTAINS = str(LDP.contains)


@final
class GrantReader:
    follows_feed = True

    def __init__(self, store: ResourceStore, feed: ChangeFeed) -> None:
        self.store = store
        self.book = GrantBook(store)
        self._by_pair: dict[tuple[str, str], dict[str, Grant]] = {}
        self._by_path: dict[str, Grant] = {}
        self._loaded: set[str] = set()  # storage roots whose grants are in the index
        self._stale: dict[str, set[str]] = {}  # root -> records to read again
        self._locks: dict[str, asyncio.Lock] = {}
        feed.subscribe(self._follow)

    def _follow(self, event: Event) -> None:
        if not isinstance(event, ResourceChanged):
            return
        at = event.path.find(GRANTS)
        if at < 0:
            return
        root = event.path[:at]
        if root not in self._loaded and root not in self._locks:
            return  # not read yet: it will be read whole
        if event.path == root + GRANTS:
            return  # the container's own listing: its records are announced one by one
        self._drop(event.path)
        self._stale.setdefault(root, set()).add(event.path)

    async def modes(self, credentials: Credentials, path: str) -> AccessMode:
        """What the grants to this agent and client allow on `path` now, for the purposes the
        request names."""
        grants = await self._grants_of(credentials, path)
        if not grants:
            return AccessMode.NONE
        now = time.time()
        modes = AccessMode.NONE
        for grant in grants:
            modes |= grant.modes(path, credentials.purposes, now)
        return modes

    async def explain(self, credentials: Credentials, path: str, needed: AccessMode) -> str | None:
        """Why the grants to this agent and client that name `path` do not allow `needed` there
        now, in words for the requester (who knows its grants), or None if none names it."""
        covering = [g for g in await self._grants_of(credentials, path) if g.terms.covers(path)]
        if not covering:
            return None
        now = time.time()
        live = [g for g in covering if g.status(now) is Status.GIVEN]
        url = self.store.url(path)
        if not live:
            latest = max(covering, key=lambda g: g.withdrawn_at or g.terms.expires)
            if latest.withdrawn_at is not None:
                return f"the grant for {url} was withdrawn at {when(latest.withdrawn_at)}"
            return f"the grant for {url} expired at {when(latest.terms.expires)}"
        purposes = credentials.purposes
        fitting = [g for g in live if purposes <= g.terms.purposes]
        if not fitting:
            covered = sorted({p for g in live for p in g.terms.purposes})
            return (
                f"the grant for {url} does not cover the purpose "
                f"{', '.join(sorted(purposes - set(covered)))}; it covers {', '.join(covered)}"
            )
        given = AccessMode.NONE
        for grant in fitting:
            given |= grant.terms.modes
        missing = needed & ~given
        return f"the grant for {url} gives {', '.join(given.names)}, not {', '.join(missing.names)}"

    async def _grants_of(self, credentials: Credentials, path: str) -> list[Grant]:
        agent, client = credentials.agent, credentials.client_id
        if agent is None or client is None:
            return []
        root = self.store.storages.root_of(path)
        if root is None:
            return []
        if root not in self._loaded or self._stale.get(root):
            await self._bring_up_to_date(root)
        grants = self._by_pair.get((agent, client))
        if not grants:
            return []
        return [g for g in grants.values() if g.root == root]

    async def _bring_up_to_date(self, root: str) -> None:
        lock = self._locks.get(root)
        if lock is None:
            lock = self._locks[root] = asyncio.Lock()
        async with lock:
            if root not in self._loaded:
                await self._load(root)
                self._loaded.add(root)
            stale = self._stale.pop(root, set())
            for path in sorted(stale):
                await self._read(root, path)

    async def _load(self, root: str) -> None:
        """Read every grant record of storage `root` into the index."""
        for path in await records_in(self.store, root + GRANTS):
            await self._read(root, path)

    async def _read(self, root: str, path: str) -> None:
        self._drop(path)
        try:
            grant = await self.book.read(path)
        except PodError as exc:  # one unreadable record must not hide the others
            if await self.store.head(path) is not None:
                log.warning("grant record %s cannot be read: %s", path, exc)
            return
        if grant.root != root:
            return
        self._by_path[path] = grant
        self._by_pair.setdefault((grant.recipient, grant.client), {})[path] = grant

    def _drop(self, path: str) -> None:
        grant = self._by_path.pop(path, None)
        if grant is None:
            return
        pair = (grant.recipient, grant.client)
        grants = self._by_pair.get(pair)
        if grants is not None:
            grants.pop(path, None)
            if not grants:
                del self._by_pair[pair]

    def grants_in(self, root: str) -> list[Grant]:
        """Every grant of storage `root` in the index (read it first: `refresh`)."""
        return sorted(
            (g for g in self._by_path.values() if g.root == root), key=lambda g: g.given_at
        )

    async def refresh(self, root: str) -> None:
        """Bring storage `root`'s grants in the index up to date."""
        await self._bring_up_to_date(root)
