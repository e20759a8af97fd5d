"""Store layer: container listings kept between requests.

A listing (a container's triples with containment and per-child metadata) costs a read of every
child's metadata; it is kept per container and dropped when the change feed announces a change to
the container or to one of its children. The container's version and time also key it, so files
placed by hand (announced by no one) are noticed within the file system's timestamp resolution.

A listing is kept compact (`containers.Listing`: each child's name, size, time and type, about
200 bytes a child), not as triples (six a child, about 1 KB each as pyoxigraph objects): the
converting layer above keeps each serialization of a listing's version, so the triples are made
again only to serialize a version afresh.

Concurrent requests for a listing that is not kept share one build (`Flights`): 32 clients asking
for a container of 10,000 children at once cost one build, not 32. A request joins a build only
if no change was announced since the build began, so a child added meanwhile is in the listing of
the next request.
"""

from __future__ import annotations

from typing import Final, final

from pod import paths
from pod.cache import Flights, LruCache
from pod.errors import NotFound
from pod.feed import ChangeFeed, Event, ResourceChanged
from pod.ldp.resources import Passthrough, Representation, ResourceStore

# A container of 10,000 children lists in about 2.5 MB, and is kept; one over half the budget is
# served but not kept.
_LISTING_ENTRIES: Final = 256
LISTING_BYTES: Final = 32 * 1024 * 1024
# Listings built at once, whatever their containers: what concurrent requests make the server
# hold while building is at most this many listings (each child's metadata as the backend gives
# it, about 5 MB per 10,000 children, and the compact listing).
LISTING_BUILDS: Final = 2

Token = tuple[str, float]  # the container's version and modification time


@final
class CachedListings(Passthrough):
    def __init__(self, inner: ResourceStore, feed: ChangeFeed) -> None:
        super().__init__(inner)
        self.listings: LruCache[str, tuple[tuple[str, float], Representation]] = LruCache(
            max_entries=_LISTING_ENTRIES,
            max_bytes=LISTING_BYTES,
            max_entry_bytes=LISTING_BYTES // 2,
            sizer=lambda path, entry: len(path) + entry[1].total_size,
        )
        self._epoch = 0  # counts changes, so a listing built across one is not kept
        # (path, token, epoch) -> the build under way: joined only while no change was announced.
        self.builds: Flights[tuple[str, Token, int], Representation] = Flights(limit=LISTING_BUILDS)
        feed.subscribe(self._follow)

    async def get(
        self, path: str, *, accept: str | None = None, byte_range: slice | None = None
    ) -> Representation:
        if not paths.is_container(path):
            return await self.inner.get(path, accept=accept, byte_range=byte_range)
        meta = await self.inner.head(path)
        if meta is None:
            raise NotFound(f"{path} does not exist")
        token = (meta.version, meta.modified)
        cached = self.listings.get(path)
        if cached is not None and cached[0] == token:
            return cached[1]
        epoch = self._epoch
        return await self.builds.run((path, token, epoch), lambda: self._build(path, token, epoch))

    async def _build(self, path: str, token: Token, epoch: int) -> Representation:
        listing = await self.inner.get(path)
        if epoch == self._epoch:  # no change was announced while we listed: safe to keep
            self.listings.put(path, (token, listing))
        return listing

    def _follow(self, event: Event) -> None:
        if not isinstance(event, ResourceChanged):
            return
        self._epoch += 1
        self.listings.pop(event.path)
        parent = paths.parent(event.path)
        if parent is not None:
            self.listings.pop(parent)
