"""WebID profiles: which OpenID issuers a WebID trusts (`solid:oidcIssuer`). Imports ldp, fetch,
cache.

A WebID hosted on this server is read from the store directly, but only as the public could read
it (`readable`), and whatever stops the read is reported the same way: a token naming a private
document must learn nothing about it. Others are fetched through the guarded Fetcher (timeout,
size cap, no private networks) and cached for a while, failures too.
The WebIDs come from tokens anyone's issuer can sign, so both caches are bounded in bytes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final, final

import pyoxigraph as ox

from pod.cache import LruCache
from pod.errors import FetchError, PodError
from pod.feed import ChangeFeed, Event, ResourceChanged
from pod.fetch import Fetcher
from pod.ldp.remote import fetch_graph
from pod.ldp.resources import ResourceStore
from pod.vocab import SOLID

_OIDC_ISSUER: Final = ox.NamedNode(SOLID.oidcIssuer)
_REMOTE_ENTRIES: Final = 10_000
_REMOTE_BYTES: Final = 16 * 1024 * 1024
_LOCAL_ENTRIES: Final = 10_000
_LOCAL_BYTES: Final = 4 * 1024 * 1024


@final
class WebIdProfiles:
    """Looks up the issuers a WebID lists. Raises FetchError when the profile cannot be read."""

    def __init__(
        self,
        fetcher: Fetcher,
        store: ResourceStore | None = None,
        feed: ChangeFeed | None = None,
        *,
        ttl: float = 300.0,
        failure_ttl: float = 30.0,
        max_bytes: int = 256 * 1024,
        readable: Callable[[str], Awaitable[bool]] | None = None,
        readable_follows_feed: bool = False,
    ) -> None:
        """`readable(path)`: whether anyone, unauthenticated, may read the resource at `path`
        (None: everything hosted here is public, for servers without access control);
        `readable_follows_feed`: whether its answer changes only with writes `feed` announces
        (ACL documents), which lets a local WebID's issuers be kept until the next write."""
        self.fetcher = fetcher
        self.store = store
        self.readable = readable
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self.max_bytes = max_bytes
        # WebID -> its issuers, or why its profile could not be read (a message: an exception
        # kept here would keep the frames of the request that raised it)
        self._remote: LruCache[str, frozenset[str] | str] = LruCache(
            max_entries=_REMOTE_ENTRIES, max_bytes=_REMOTE_BYTES
        )
        # Profile documents hosted here: path -> {WebID: its issuers} for every subject the
        # document gives issuers; dropped when the document changes.
        self._local: LruCache[str, dict[str, frozenset[str]]] = LruCache(
            max_entries=_LOCAL_ENTRIES, max_bytes=_LOCAL_BYTES
        )
        # A local WebID -> (the epoch, its issuers): what `issuers` answered, readability
        # included, while no write has been announced since (asked on every authenticated
        # request, so one look-up here instead of a path parse, a decision and a document's).
        self._established: LruCache[str, tuple[int, frozenset[str]]] = LruCache(
            max_entries=_LOCAL_ENTRIES, max_bytes=_LOCAL_BYTES
        )
        self._keep_established = feed is not None and (readable is None or readable_follows_feed)
        self._epoch = 0
        if feed is not None:
            feed.subscribe(self._forget_local)

    async def issuers(self, webid: str) -> frozenset[str]:
        established = self._established.get(webid)
        if established is not None and established[0] == self._epoch:
            return established[1]
        document = webid.split("#", 1)[0]
        local = self.store.path_of(document) if self.store is not None else None
        if local is not None:
            epoch = self._epoch
            found = await self._local_issuers(webid, local)
            if self._keep_established and epoch == self._epoch:
                self._established.put(webid, (epoch, found))
            return found
        cached = self._remote.get(webid)
        if isinstance(cached, str):
            raise FetchError(cached)
        if cached is not None:
            return cached
        now = time.monotonic()
        try:
            found = await self._remote_issuers(webid, document)
        except FetchError as exc:
            self._remote.put(webid, exc.message, expires=now + self.failure_ttl)
            raise
        self._remote.put(webid, found, expires=now + self.ttl)
        return found

    async def _local_issuers(self, webid: str, path: str) -> frozenset[str]:
        """Read from the store once; a write to the profile (a store event) drops the answer."""
        assert self.store is not None
        # Asked every time: the decision is cached by the authorizer, and an ACL change
        # applies at once (a profile made private stops vouching for its issuers).
        if self.readable is not None and not await self.readable(path):
            raise self._unreadable(path)
        cached = self._local.get(path)
        if cached is not None:
            return cached.get(webid, frozenset())
        epoch = self._epoch
        try:
            found = await self.store.read_graph(path)
        except PodError as exc:
            raise self._unreadable(path) from exc
        if found is None:
            raise self._unreadable(path)
        by_webid = _all_issuers(found[1].triples)
        if epoch == self._epoch:  # the profile did not change while we read it
            self._local.put(path, by_webid)
        return by_webid.get(webid, frozenset())

    def _unreadable(self, path: str) -> FetchError:
        assert self.store is not None
        return FetchError(f"the WebID profile {self.store.url(path)} cannot be read")

    def _forget_local(self, event: Event) -> None:
        if not isinstance(event, ResourceChanged):
            return
        self._epoch += 1  # any write: a profile being read right now may be stale
        self._local.pop(event.path)

    async def _remote_issuers(self, webid: str, document: str) -> frozenset[str]:
        graph = await fetch_graph(self.fetcher, document, max_bytes=self.max_bytes)
        return _issuers(graph.triples, webid)


def _all_issuers(triples: list[ox.Triple]) -> dict[str, frozenset[str]]:
    """The issuers the document gives each of its subjects."""
    found: dict[str, set[str]] = {}
    for t in triples:
        if (
            t.predicate == _OIDC_ISSUER
            and isinstance(t.subject, ox.NamedNode)
            and isinstance(t.object, ox.NamedNode)
        ):
            found.setdefault(t.subject.value, set()).add(t.object.value)
    return {webid: frozenset(issuers) for webid, issuers in found.items()}


def _issuers(triples: list[ox.Triple], webid: str) -> frozenset[str]:
    me = ox.NamedNode(webid)
    return frozenset(
        t.object.value
        for t in triples
        if t.subject == me and t.predicate == _OIDC_ISSUER and isinstance(t.object, ox.NamedNode)
    )
