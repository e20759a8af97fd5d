"""Store layer: content negotiation, and RDF conversions kept between requests.

Below this layer a representation is what is stored (a document's bytes in its stored type, a
container's listing as triples); here it becomes the one the client asked for (Solid Protocol
https://solidproject.org/TR/protocol#server-representation-turtle-jsonld: Turtle and JSON-LD at
least; we serve every RDF syntax pyoxigraph writes). Conversions are kept per (path, media type)
with the version they came from, and dropped when the change feed announces a change to the path.
Concurrent requests for a conversion not kept share one (`Flights`): a version's conversion is
the same whoever asks, so joining one under way is always safe.
"""

from __future__ import annotations

import functools
from typing import Final, final

import pyoxigraph as ox

from pod import paths
from pod.cache import Flights, LruCache
from pod.errors import NotAcceptable
from pod.feed import ChangeFeed, Event, ResourceChanged
from pod.ldp import rdf
from pod.ldp.negotiation import choose
from pod.ldp.resources import (
    BYTES_PER_TRIPLE,
    Passthrough,
    Representation,
    ResourceStore,
    etag_of,
    offload,
)

# A conversion is several times the size of the document it comes from: a 3.7 MB Turtle document
# typically converts to 5-8 MB in each format, and is kept; one over a quarter of the budget is
# served but not kept.
_CONVERSION_ENTRIES: Final = 4096
CONVERSION_BYTES: Final = 32 * 1024 * 1024
# Conversions run at once, whatever their resources: each holds its input's triples and its
# output (a listing is serialized in parts: for 10,000 children about 6 MB of triples at once,
# and 3 MB of Turtle).
CONVERSIONS: Final = 2
HEAVY_BYTES: Final = 256 * 1024  # smaller conversions take milliseconds, and wait for no slot


@final
class ConvertingStore(Passthrough):
    def __init__(self, inner: ResourceStore, feed: ChangeFeed) -> None:
        super().__init__(inner)
        # (path, media type) -> (version, body): an entry is replaced by the conversion of a
        # newer version, and dropped when its resource changes.
        self.conversions: LruCache[tuple[str, str], tuple[str, bytes]] = LruCache(
            max_entries=_CONVERSION_ENTRIES,
            max_bytes=CONVERSION_BYTES,
            max_entry_bytes=CONVERSION_BYTES // 4,
        )
        # (path, media type, version) -> the conversion under way
        self.builds: Flights[tuple[str, str, str], bytes] = Flights(limit=CONVERSIONS)
        feed.subscribe(self._follow)

    async def get(
        self, path: str, *, accept: str | None = None, byte_range: slice | None = None
    ) -> Representation:
        """The representation of `path` that best fits `accept`; NotFound, NotAcceptable."""
        if paths.is_container(path):
            return await self._container(path, accept)
        rep = await self.inner.get(path, byte_range=byte_range)
        meta = rep.metadata
        if not rep.is_rdf:
            if choose(accept, (meta.content_type,)) is None:
                raise NotAcceptable(
                    f"{path} is only available as {meta.content_type}",
                    available=[meta.content_type],
                )
            return rep
        available = _available(rep.content_type)
        media = choose(accept, available)
        if media is None:
            raise NotAcceptable(
                f"{path} is RDF; ask for one of {', '.join(available)}", available=available
            )
        if media == rep.content_type:
            return rep
        data = await self._converted(path, meta.version, media, rep)
        return Representation(meta, media, data, etag_of(meta.version, media), True, len(data))

    async def _container(self, path: str, accept: str | None) -> Representation:
        media = choose(accept, rdf.RDF_TYPES)
        if media is None:
            raise NotAcceptable(
                f"{path} is a container; ask for one of {', '.join(rdf.RDF_TYPES)}",
                available=rdf.RDF_TYPES,
            )
        listing = await self.inner.get(path)
        data = await self._converted(path, listing.etag, media, listing)
        return Representation(
            listing.metadata, media, data, etag_of(listing.etag, media), True, len(data)
        )

    async def _converted(self, path: str, version: str, media: str, rep: Representation) -> bytes:
        key = (path, media)
        cached = self.conversions.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        listing = rep.listing
        size = listing.triple_count * BYTES_PER_TRIPLE if listing is not None else len(rep.data)
        return await self.builds.run(
            (path, media, version),
            lambda: self._convert(path, version, media, rep, size),
            heavy=size > HEAVY_BYTES,
        )

    async def _convert(
        self, path: str, version: str, media: str, rep: Representation, size: int
    ) -> bytes:
        if rep.listing is not None:
            out = await offload(size, rep.listing.serialize, media)
        else:
            parsed = await offload(size, rdf.parse, rep.data, rep.content_type, base=self.url(path))
            out = await offload(size, _serialize, parsed.triples, media, parsed.prefixes)
        self.conversions.put((path, media), (version, out))
        return out

    def _follow(self, event: Event) -> None:
        if not isinstance(event, ResourceChanged):
            return
        for media in rdf.RDF_TYPES:
            self.conversions.pop((event.path, media))


@functools.lru_cache(maxsize=16)
def _available(stored: str) -> tuple[str, ...]:
    """The RDF types a document stored as `stored` can be served as, the stored one first."""
    return (stored, *(t for t in rdf.RDF_TYPES if t != stored))


def _serialize(triples: list[ox.Triple], media: str, prefixes: dict[str, str]) -> bytes:
    return rdf.serialize(triples, media, prefixes=prefixes)
