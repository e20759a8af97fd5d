"""Group membership for acl:agentGroup: `<group> vcard:hasMember <webid>`. Imports ldp, fetch.

Local group documents are read from the store (and the authorizer re-decides when they change);
remote ones are fetched through the guarded Fetcher and cached for `ttl` seconds. A group that
cannot be read grants nothing.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Final, final

import pyoxigraph as ox

from pod.errors import FetchError, PodError
from pod.fetch import Fetcher
from pod.ldp.remote import fetch_graph
from pod.ldp.store import SolidStore
from pod.vocab import VCARD

log = logging.getLogger(__name__)
_HAS_MEMBER: Final = ox.NamedNode(VCARD.hasMember)
_CACHE_SIZE: Final = 2_000


@final
class Groups:
    def __init__(self, store: SolidStore, fetcher: Fetcher, *, ttl: float = 60.0) -> None:
        self.store = store
        self.fetcher = fetcher
        self.ttl = ttl
        self._remote: OrderedDict[str, tuple[float, frozenset[str]]] = OrderedDict()
        self.local_documents: set[str] = set()  # paths the authorizer watches for changes

    async def members(self, group: str) -> frozenset[str]:
        """The WebIDs listed as members of `group` (empty if it cannot be read)."""
        document = group.split("#", 1)[0]
        path = self.store.path_of(document)
        if path is not None:
            self.local_documents.add(path)
            try:
                found = await self.store.read_graph(path)
            except PodError as exc:
                log.warning("group document %s is unreadable: %s", path, exc)
                return frozenset()
            return _members(found[1].triples, group) if found else frozenset()
        now = time.monotonic()
        cached = self._remote.get(group)
        if cached is not None and cached[0] > now:
            return cached[1]
        members = await self._fetch(group, document)
        self._remote[group] = (now + self.ttl, members)
        self._remote.move_to_end(group)
        if len(self._remote) > _CACHE_SIZE:
            self._remote.popitem(last=False)
        return members

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
