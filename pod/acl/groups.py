"""Group membership for acl:agentGroup: `<group> vcard:hasMember <webid>`. Imports ldp, fetch.

Local group documents are read from the store (and the authorizer re-decides when they change);
remote ones are fetched through the guarded Fetcher and trusted for `ttl` seconds, after which
they are fetched again. A group that cannot be read grants nothing (for `ttl` seconds too).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Final, final

import pyoxigraph as ox

from pod.cache import LruCache
from pod.errors import FetchError, PodError
from pod.fetch import Fetcher
from pod.ldp.remote import fetch_graph
from pod.ldp.resources import ResourceStore
from pod.vocab import VCARD

log = logging.getLogger(__name__)
_HAS_MEMBER: Final = ox.NamedNode(VCARD.hasMember)
# Remote groups: a document may be as large as the Fetcher's cap (512 KB of WebIDs), so the
# budget is in bytes, and one group may take at most an eighth of it.
_REMOTE_ENTRIES: Final = 2_000
_REMOTE_BYTES: Final = 16 * 1024 * 1024


@final
@dataclass(frozen=True, slots=True)
class Membership:
    """A group's members as read just now, and how long that answer holds.

    `expires` is a `time.monotonic()` time for a remote group; None for a local one, whose answer
    holds until its document (`Groups.local_document`) changes.
    """

    members: frozenset[str]
    expires: float | None = None


@final
class Groups:
    def __init__(self, store: ResourceStore, fetcher: Fetcher, *, ttl: float = 60.0) -> None:
        self.store = store
        self.fetcher = fetcher
        self.ttl = ttl
        self._remote: LruCache[str, Membership] = LruCache(
            max_entries=_REMOTE_ENTRIES,
            max_bytes=_REMOTE_BYTES,
            max_entry_bytes=_REMOTE_BYTES // 8,
        )

    def local_document(self, group: str) -> str | None:
        """The path of `group`'s document if this server holds it, else None."""
        return self.store.path_of(group.split("#", 1)[0])

    async def membership(self, group: str) -> Membership:
        """The WebIDs listed as members of `group` (none if it cannot be read), and until when
        that holds."""
        path = self.local_document(group)
        if path is not None:
            try:
                found = await self.store.read_graph(path)
            except PodError as exc:
                log.warning("group document %s is unreadable: %s", path, exc)
                return Membership(frozenset())
            return Membership(_members(found[1].triples, group) if found else frozenset())
        cached = self._remote.get(group)
        if cached is not None:
            return cached
        # The time-to-live counts from before the fetch: the answer may be older than its arrival.
        expires = time.monotonic() + self.ttl
        fetched = Membership(await self._fetch(group, group.split("#", 1)[0]), expires=expires)
        self._remote.put(group, fetched, expires=expires)
        return fetched

    async def _fetch(self, group: str, document: str) -> frozenset[str]:
        try:
            graph = await fetch_graph(self.fetcher, document)
        except FetchError as exc:
            log.warning("group %s cannot be read: %s", group, exc.message)
            return frozenset()
        return _members(graph.triples, group)


def _members(triples: list[ox.Triple], group: str) -> frozenset[str]:
    me = ox.NamedNode(group)
    return frozenset(
        t.object.value
        for t in triples
        if t.subject == me and t.predicate == _HAS_MEMBER and isinstance(t.object, ox.NamedNode)
    )
