"""WebID profiles: which OpenID issuers a WebID trusts (`solid:oidcIssuer`). Imports ldp, fetch.

A WebID hosted on this server is read from the store directly; others are fetched through the
guarded Fetcher (timeout, size cap, no private networks) and cached for a while, failures too.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Final, final

import pyoxigraph as ox

from pod.errors import FetchError, PodError
from pod.fetch import Fetcher
from pod.ldp.events import ResourceEvent
from pod.ldp.remote import fetch_graph
from pod.ldp.store import SolidStore
from pod.vocab import SOLID

_OIDC_ISSUER: Final = ox.NamedNode(SOLID.oidcIssuer)
_CACHE_SIZE: Final = 10_000


@final
class WebIdProfiles:
    """Looks up the issuers a WebID lists. Raises FetchError when the profile cannot be read."""

    def __init__(
        self,
        fetcher: Fetcher,
        store: SolidStore | None = None,
        *,
        ttl: float = 300.0,
        failure_ttl: float = 30.0,
        max_bytes: int = 256 * 1024,
    ) -> None:
        self.fetcher = fetcher
        self.store = store
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, tuple[float, frozenset[str] | FetchError]] = OrderedDict()
        # The issuers of WebIDs hosted here, dropped when their profile document changes.
        self._local: dict[str, frozenset[str]] = {}
        self._local_documents: dict[str, set[str]] = {}  # profile path -> WebIDs read from it
        self._epoch = 0
        if store is not None:
            store.events.subscribe(self._forget_local)

    async def issuers(self, webid: str) -> frozenset[str]:
        document = webid.split("#", 1)[0]
        local = self.store.path_of(document) if self.store is not None else None
        if local is not None:
            return await self._local_issuers(webid, local)
        now = time.monotonic()
        cached = self._cache.get(webid)
        if cached is not None and cached[0] > now:
            if isinstance(cached[1], FetchError):
                raise cached[1]
            return cached[1]
        try:
            found = await self._remote_issuers(webid, document)
        except FetchError as exc:
            self._remember(webid, now + self.failure_ttl, exc)
            raise
        self._remember(webid, now + self.ttl, found)
        return found

    def _remember(self, webid: str, until: float, value: frozenset[str] | FetchError) -> None:
        self._cache[webid] = (until, value)
        self._cache.move_to_end(webid)
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    async def _local_issuers(self, webid: str, path: str) -> frozenset[str]:
        """Read from the store once; a write to the profile (a store event) drops the answer."""
        assert self.store is not None
        cached = self._local.get(webid)
        if cached is not None:
            return cached
        epoch = self._epoch
        try:
            found = await self.store.read_graph(path)
        except PodError as exc:
            raise FetchError(f"the WebID profile {path} is not an RDF document") from exc
        if found is None:
            raise FetchError(f"the WebID profile {path} does not exist")
        issuers = _issuers(found[1].triples, webid)
        if epoch == self._epoch:  # the profile did not change while we read it
            if len(self._local) >= _CACHE_SIZE:
                self._local.clear()
                self._local_documents.clear()
            self._local[webid] = issuers
            self._local_documents.setdefault(path, set()).add(webid)
        return issuers

    def _forget_local(self, event: ResourceEvent) -> None:
        self._epoch += 1  # any write: a profile being read right now may be stale
        for webid in self._local_documents.pop(event.path, ()):
            self._local.pop(webid, None)

    async def _remote_issuers(self, webid: str, document: str) -> frozenset[str]:
        graph = await fetch_graph(self.fetcher, document, max_bytes=self.max_bytes)
        return _issuers(graph.triples, webid)


def _issuers(triples: list[ox.Triple], webid: str) -> frozenset[str]:
    me = ox.NamedNode(webid)
    return frozenset(
        t.object.value
        for t in triples
        if t.subject == me and t.predicate == _OIDC_ISSUER and isinstance(t.object, ox.NamedNode)
    )
