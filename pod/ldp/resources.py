"""The ResourceStore protocol: what every layer above `pod.ldp` knows of resources.

One method per operation, as CSS's ResourceStore (https://github.com/CommunitySolidServer/
CommunitySolidServer, `src/storage/ResourceStore.ts`): head, get, read_graph, put, post, patch,
delete. The store is a stack, built in `pod.app.create_app`: the Solid rules over a Backend at the
bottom (`pod.ldp.rules`), and wrappers above it (locks, listings, converting, announcing), each
a `Passthrough` that overrides what it adds. A write answers with the changes it made; the top
of the stack announces them on the change feed, which every cache follows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol, TypeVar, final

from pod.feed import ResourceChanged
from pod.ldp import rdf
from pod.ldp.conditions import NO_CONDITIONS, Conditions
from pod.ldp.containers import Listing
from pod.ldp.patch import Patch
from pod.ldp.storages import Storages
from pod.model import Metadata

T = TypeVar("T")
_OFFLOAD_BYTES: Final = 64 * 1024  # parse bigger bodies in a thread, off the event loop
BYTES_PER_TRIPLE: Final = 64  # about what a triple takes as Turtle, to size work by triples
ETAG_SUFFIX: Final = {
    rdf.JSON_LD: "jsonld",
    rdf.N_TRIPLES: "nt",
    rdf.RDF_XML: "rdfxml",
    rdf.N3: "n3",
    rdf.N_QUADS: "nq",
    rdf.TRIG: "trig",
}


def etag_of(version: str, media: str) -> str:
    """The ETag of the representation of version `version` in `media`: the version itself for
    the stored type, a suffixed one for each conversion (RFC 9110 §8.8.3: each representation
    has its own)."""
    suffix = ETAG_SUFFIX.get(media)
    return version if suffix is None else f"{version}-{suffix}"


async def offload(size: int, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
    """Run CPU-heavy work for big inputs in a thread, so one request cannot stall the rest."""
    if size > _OFFLOAD_BYTES:
        return await asyncio.to_thread(fn, *args, **kwargs)
    return fn(*args, **kwargs)


class Representation(NamedTuple):
    """One representation of a resource, as GET returns it (a named tuple: one is made for
    every GET, and this is the cheapest immutable record Python has).

    `data` is the whole body, or the requested byte range of it (`byte_range`, end exclusive).
    Below the converting layer a container's representation is its listing (`listing`, with
    `data` empty, and `total_size` the memory the listing holds); above it every representation
    has bytes.
    """

    metadata: Metadata
    content_type: str
    data: bytes
    etag: str
    is_rdf: bool
    total_size: int
    byte_range: tuple[int, int] | None = None
    listing: Listing | None = None


@final
@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: the resource it wrote (`metadata`, None after a delete) and every change
    it made, the target's and those of containers it created or emptied, in order."""

    path: str
    created: bool
    metadata: Metadata | None
    changes: tuple[ResourceChanged, ...]

    @property
    def etag(self) -> str:
        return "" if self.metadata is None else self.metadata.version


class ResourceStore(Protocol):
    """Solid resource operations. Paths are validated resource paths (see `pod.paths`).

    Errors are `pod.errors` PodErrors (NotFound, Conflict, PreconditionFailed, ...)."""

    base_url: str
    storages: Storages

    def url(self, path: str) -> str:
        """The absolute URL of a resource path."""
        ...

    def path_of(self, url: str) -> str | None:
        """The resource path of an absolute URL on this server, or None if it is elsewhere."""
        ...

    async def open(self) -> None:
        """Get ready to serve (find the storage roots)."""
        ...

    async def close(self) -> None: ...

    async def head(self, path: str) -> Metadata | None:
        """The metadata of `path`, or None if it does not exist."""
        ...

    async def get(
        self, path: str, *, accept: str | None = None, byte_range: slice | None = None
    ) -> Representation:
        """The representation of `path` that best fits `accept`."""
        ...

    async def read_graph(self, path: str) -> tuple[Metadata, rdf.Graph] | None:
        """The parsed triples of RDF resource (or container description) `path`; None if
        missing; UnsupportedMediaType if it is not RDF."""
        ...

    async def put(
        self,
        path: str,
        *,
        data: bytes,
        content_type: str | None,
        conditions: Conditions = NO_CONDITIONS,
        relative: bool = False,
    ) -> WriteResult:
        """Create or replace `path`, creating missing containers above it."""
        ...

    async def post(
        self,
        container: str,
        *,
        data: bytes,
        content_type: str | None,
        slug: str | None = None,
        as_container: bool = False,
    ) -> WriteResult:
        """Create a new child of `container`."""
        ...

    async def patch(
        self,
        path: str,
        patch: Patch,
        *,
        conditions: Conditions = NO_CONDITIONS,
        seen: Metadata | None = None,
    ) -> WriteResult:
        """Apply a parsed patch; a missing resource starts as an empty document. `seen` is the
        target's metadata as the caller found it on the way in, if it looked."""
        ...

    async def delete(self, path: str, *, conditions: Conditions = NO_CONDITIONS) -> WriteResult:
        """Delete a resource with its auxiliary resources, or an empty container."""
        ...

    async def create_storage(self, path: str, *, owner: str | None = None) -> WriteResult:
        """Make container `path` (created if missing) a storage root owned by WebID `owner`."""
        ...

    async def remove_storage(self, path: str) -> WriteResult:
        """Delete storage root `path`, emptied beforehand, with its own auxiliary resources
        (the erasure of a pod: HTTP can never delete a root). Nothing to do if it is gone;
        Conflict if it still holds anything, or is a container but no storage root."""
        ...


_OPERATIONS: Final = (
    "open",
    "close",
    "head",
    "get",
    "read_graph",
    "put",
    "post",
    "patch",
    "delete",
    "create_storage",
    "remove_storage",
)


class Passthrough:
    """A store wrapper that hands every operation to the store below; wrappers override the
    operations they add to. `url`, `path_of`, `base_url` and `storages` are the bottom's own."""

    def __init__(self, inner: ResourceStore) -> None:
        self.inner = inner
        self.base_url = inner.base_url
        self.storages = inner.storages
        self.url = inner.url
        self.path_of = inner.path_of
        # An operation a layer does not add to goes straight to the layer below: the bound
        # method of the layer below takes the place of this class's, so a request pays no
        # frame per layer it merely passes (a GET passes most of them).
        for name in _OPERATIONS:
            if getattr(type(self), name) is getattr(Passthrough, name):
                setattr(self, name, getattr(inner, name))

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def head(self, path: str) -> Metadata | None:
        return await self.inner.head(path)

    async def get(
        self, path: str, *, accept: str | None = None, byte_range: slice | None = None
    ) -> Representation:
        return await self.inner.get(path, accept=accept, byte_range=byte_range)

    async def read_graph(self, path: str) -> tuple[Metadata, rdf.Graph] | None:
        return await self.inner.read_graph(path)

    async def put(
        self,
        path: str,
        *,
        data: bytes,
        content_type: str | None,
        conditions: Conditions = NO_CONDITIONS,
        relative: bool = False,
    ) -> WriteResult:
        return await self.inner.put(
            path, data=data, content_type=content_type, conditions=conditions, relative=relative
        )

    async def post(
        self,
        container: str,
        *,
        data: bytes,
        content_type: str | None,
        slug: str | None = None,
        as_container: bool = False,
    ) -> WriteResult:
        return await self.inner.post(
            container, data=data, content_type=content_type, slug=slug, as_container=as_container
        )

    async def patch(
        self,
        path: str,
        patch: Patch,
        *,
        conditions: Conditions = NO_CONDITIONS,
        seen: Metadata | None = None,
    ) -> WriteResult:
        return await self.inner.patch(path, patch, conditions=conditions, seen=seen)

    async def delete(self, path: str, *, conditions: Conditions = NO_CONDITIONS) -> WriteResult:
        return await self.inner.delete(path, conditions=conditions)

    async def create_storage(self, path: str, *, owner: str | None = None) -> WriteResult:
        return await self.inner.create_storage(path, owner=owner)

    async def remove_storage(self, path: str) -> WriteResult:
        return await self.inner.remove_storage(path)


L = TypeVar("L")


def layer(store: ResourceStore, kind: type[L]) -> L:
    """The layer of type `kind` in the stack under `store` (itself included): to look at one
    layer's state, as tests and diagnostics do. Raises LookupError if there is none."""
    current: object = store
    while True:
        if isinstance(current, kind):
            return current
        current = getattr(current, "inner", None)
        if current is None:
            raise LookupError(f"no {kind.__name__} in this store stack")
