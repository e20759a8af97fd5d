"""GrantReader: grants as a permission source beside Web Access Control (pod.acl.authorizer).

A storage keeps each (recipient WebID, client id) pair's grants in a container of their own,
`<storage>consent/grants/<pair key>/` (pod.vault.grants), so a request needs that pair's
grants only: one dictionary look-up in an index keyed by (storage, pair key), filled at the
pair's first request from its container (a listing and a few records; nothing for a pair with
no grants, which is remembered too), then a check of those few grants: given, `now < expires`,
the path covered, every purpose the request names covered (VAULT.md §1). Nothing is written
when a grant ends: the clock is asked on every request. A storage with 10,000 grants costs
memory only for the pairs that ask.

The index follows the change feed, whichever process wrote: an announced change under a pair's
container drops that pair's entry at once, so a withdrawal holds from the next request on. It is
bounded in entries (anyone signed in is a pair); a dropped entry is read again when needed.
Grants never name the public, so what anonymous requests are allowed depends on announced
writes only (`follows_feed`). Imports ldp, feed, cache, model, vault.grants.
"""

from __future__ import annotations

import contextlib
import time
from typing import Final, final

from pod.cache import LruCache
from pod.errors import PodError
from pod.feed import ChangeFeed, Event, ResourceChanged
from pod.ldp.locks import MemoryLocker
from pod.ldp.resources import ResourceStore
from pod.model import AccessMode, Basis, Credentials
from pod.vault.grants import GRANTS, Grant, GrantBook, Status, pair_container, records_in, when

_PAIRS: Final = 10_000  # (storage, pair) entries kept
_PAIR_BYTES: Final = 16 * 1024 * 1024
_GRANT_BYTES: Final = 2048  # a Grant with its terms and history, about (measured: 1.3-1.8 KB)


def _size(container: str, grants: tuple[Grant, ...]) -> int:
    return 200 + len(container) + len(grants) * _GRANT_BYTES


@final
class GrantReader:
    follows_feed = True
    agents_only = True  # a grant names its recipient: it never lets the public in

    def __init__(self, store: ResourceStore, feed: ChangeFeed) -> None:
        self.store = store
        self.book = GrantBook(store)
        # pair container -> the pair's grants in it, as last read
        self._pairs: LruCache[str, tuple[Grant, ...]] = LruCache(
            max_entries=_PAIRS, max_bytes=_PAIR_BYTES, sizer=_size
        )
        self._reading: dict[str, int] = {}  # pair container being read -> changes heard since
        self._locks = MemoryLocker()  # one read of a pair's container at a time
        feed.subscribe(self._follow)

    def _follow(self, event: Event) -> None:
        if not isinstance(event, ResourceChanged):
            return
        at = event.path.find(GRANTS)
        if at < 0:
            return
        rest = event.path[at + len(GRANTS) :]
        slash = rest.find("/")
        if slash < 0:
            return  # the grants container itself, or a stray document in it
        container = event.path[: at + len(GRANTS) + slash + 1]
        self._pairs.pop(container)
        if container in self._reading:
            self._reading[container] += 1

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

    async def basis(
        self, credentials: Credentials, path: str, mode: AccessMode
    ) -> tuple[Basis, ...]:
        """The grants to this agent and client that allow `mode` on `path` now, for the owner's
        access log: each with the purposes the request served (those it named, else those the
        grant covers) and when it ends."""
        grants = await self._grants_of(credentials, path)
        if not grants:
            return ()
        now = time.time()
        return tuple(
            Basis(
                source="grant",
                ref=grant.path,
                kind="grant",
                purposes=tuple(sorted(credentials.purposes or grant.terms.purposes)),
                until=grant.terms.expires,
            )
            for grant in grants
            if mode in grant.modes(path, credentials.purposes, now)
        )

    async def explain(self, credentials: Credentials, path: str, needed: AccessMode) -> str | None:
        """Why the grants to this agent and client that name `path` do not allow `needed` there
        now, in words for the requester (who knows its grants), or None if none names it."""
        covering = [g for g in await self._grants_of(credentials, path) if g.names(path)]
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

    async def _grants_of(self, credentials: Credentials, path: str) -> tuple[Grant, ...]:
        agent, client = credentials.agent, credentials.client_id
        if agent is None or client is None:
            return ()
        root = self.store.storages.root_of(path)
        if root is None:
            return ()
        container = pair_container(root, agent, client)
        known = self._pairs.get(container)
        if known is not None:
            return known
        return await self._read_pair(root, container, agent, client)

    async def _read_pair(
        self, root: str, container: str, agent: str, client: str
    ) -> tuple[Grant, ...]:
        async with self._locks.hold(container):
            known = self._pairs.get(container)
            if known is not None:
                return known
            self._reading[container] = 0
            try:
                found = []
                for record in await records_in(self.store, container):
                    with contextlib.suppress(PodError):  # one unreadable record hides no other
                        grant = await self.book.read(record)
                        if grant.recipient == agent and grant.client == client:
                            found.append(grant)
                grants = tuple(found)
                if self._reading[container] == 0:  # no change was announced meanwhile
                    self._pairs.put(container, grants)
                return grants
            finally:
                del self._reading[container]
