"""SolidStore: the Solid Protocol's resource rules over a dumb Backend. Imports storage, model.

One method per HTTP method (as CSS's ResourceStore): get, put, post, patch, delete. The rules live
here once, above every backend: containment, intermediate containers, slash twins, auxiliary
resources, server-managed triples, RDF validation, content negotiation and conditional writes.
Writes to one path are serialised by a Locker; each completed write emits a ResourceEvent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar, final
from urllib.parse import unquote

import pyoxigraph as ox

from pod import paths
from pod.cache import LruCache, size_of
from pod.errors import (
    BadRequest,
    Conflict,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from pod.ldp import rdf
from pod.ldp.conditions import NO_CONDITIONS, Conditions, evaluate
from pod.ldp.events import Change, EventBus, ResourceEvent
from pod.ldp.locks import Locker, MemoryLocker
from pod.ldp.negotiation import choose
from pod.ldp.patch import Patch
from pod.model import Metadata
from pod.storage.base import Backend
from pod.vocab import DCTERMS, LDP, PIM, RDF, SOLID, STAT, XSD, media_type_class

T = TypeVar("T")
Validator = Callable[[str, list[ox.Triple]], Awaitable[None]]

_TYPE: Final = ox.NamedNode(RDF.type)
_CONTAINS: Final = ox.NamedNode(LDP.contains)
_MODIFIED: Final = ox.NamedNode(DCTERMS.modified)
_MTIME: Final = ox.NamedNode(STAT.mtime)
_SIZE: Final = ox.NamedNode(STAT.size)
_DATETIME: Final = ox.NamedNode(XSD.dateTime)
_INTEGER: Final = ox.NamedNode(XSD.integer)
_CONTAINER_TYPES: Final = (
    ox.NamedNode(LDP.Container),
    ox.NamedNode(LDP.BasicContainer),
    ox.NamedNode(LDP.Resource),
)
_RESOURCE: Final = ox.NamedNode(LDP.Resource)
_STORAGE: Final = ox.NamedNode(PIM.Storage)
_MANAGED_TYPES: Final = frozenset((*_CONTAINER_TYPES, _STORAGE))
_MANAGED_PREDICATES: Final = frozenset((_MODIFIED, _MTIME, _SIZE))  # of the container itself
_OFFLOAD_BYTES: Final = 64 * 1024  # parse bigger bodies in a thread, off the event loop
# Conversions (one per path and media type) and container listings are kept within byte budgets:
# a conversion is several times the size of the document it comes from, and a listing holds a
# container's triples (about 2.5 KB per child) and each serialization made of them. A conversion
# over a quarter of its budget, or a listing over half of its, is served but not kept: a 3.7 MB
# Turtle document typically converts to 5-8 MB in each format, and a container of 10,000 children
# lists in about 30 MB, so both are kept.
_CONVERSION_ENTRIES: Final = 4096
_CONVERSION_BYTES: Final = 32 * 1024 * 1024
_LISTING_ENTRIES: Final = 256
_LISTING_BYTES: Final = 64 * 1024 * 1024
# Response headers by (path, kind of resource, storage root, owner); see `header_cache`.
_HEADER_ENTRIES: Final = 20_000
_HEADER_BYTES: Final = 32 * 1024 * 1024
_TRIPLE_BYTES: Final = 240  # a pyoxigraph triple beside the text of its terms (measured)
_MANAGED_TRIPLE_BYTES: Final = _TRIPLE_BYTES + 100  # ... and with its predicate and object
_BYTES_PER_TRIPLE: Final = 64  # about what a triple takes as Turtle, to size work by triples
_SLUG_MAX: Final = 120
_SHOWN_MAX: Final = 300  # characters of a refused triple an error message repeats
_ETAG_SUFFIX: Final = {
    rdf.JSON_LD: "jsonld",
    rdf.N_TRIPLES: "nt",
    rdf.RDF_XML: "rdfxml",
    rdf.N3: "n3",
    rdf.N_QUADS: "nq",
    rdf.TRIG: "trig",
}


@final
@dataclass(frozen=True, slots=True)
class Representation:
    """One representation of a resource, as GET returns it.

    `data` is the whole body, or the requested byte range of it (`byte_range`, end exclusive).
    """

    metadata: Metadata
    content_type: str
    data: bytes
    etag: str
    is_rdf: bool
    total_size: int
    byte_range: tuple[int, int] | None = None


@final
@dataclass(frozen=True, slots=True)
class WriteResult:
    path: str
    created: bool
    etag: str


@final
class SolidStore:
    """Solid resource operations. Paths are validated resource paths (see `pod.paths`)."""

    def __init__(
        self,
        backend: Backend,
        *,
        base_url: str,
        max_rdf_bytes: int = 8 * 1024 * 1024,
        locker: Locker | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.backend = backend
        self.base_url = base_url.rstrip("/")
        self.max_rdf_bytes = max_rdf_bytes
        self.locker = locker or MemoryLocker()
        self.events = events or EventBus()
        self._storages: dict[str, str | None] = {}  # storage root -> owner WebID
        # Checks RDF documents must pass before they are stored (e.g. ACL validation, which
        # lives above this layer): each gets the path and the new triples, and raises PodError.
        self.validators: list[Validator] = []
        # (path, media type) -> (version, body): an entry is replaced by the conversion of a
        # newer version, and dropped when its resource is written or deleted.
        self.conversions: LruCache[tuple[str, str], tuple[str, bytes]] = LruCache(
            max_entries=_CONVERSION_ENTRIES,
            max_bytes=_CONVERSION_BYTES,
            max_entry_bytes=_CONVERSION_BYTES // 4,
        )
        self.listings: LruCache[str, _Listing] = LruCache(
            max_entries=_LISTING_ENTRIES,
            max_bytes=_LISTING_BYTES,
            max_entry_bytes=_LISTING_BYTES // 2,
            sizer=_listing_size,
        )
        # Response headers the HTTP layer derives from this store's URLs and storages. Kept per
        # store, so two apps in one process (two base URLs) never answer with each other's.
        self.header_cache: LruCache[
            tuple[str, str, str | None, str | None], tuple[tuple[str, str], ...]
        ]
        self.header_cache = LruCache(max_entries=_HEADER_ENTRIES, max_bytes=_HEADER_BYTES)
        self._epoch = 0  # counts changes, so a listing built across one is not kept
        self.events.subscribe(self._forget)

    def url(self, path: str) -> str:
        """The absolute URL of a resource path."""
        return self.base_url + paths.to_url_path(path)

    def path_of(self, url: str) -> str | None:
        """The resource path of an absolute URL on this server, or None if it is elsewhere."""
        if not url.startswith(self.base_url + "/"):
            return None
        try:
            return paths.parse_url_path(url[len(self.base_url) :].split("#", 1)[0].split("?", 1)[0])
        except BadRequest:
            return None

    # --- storages -------------------------------------------------------------------------

    async def load_storages(self) -> None:
        """Find the storage roots: the root container and its children carry the marker."""
        root = await self.backend.stat(paths.ROOT)
        candidates = [] if root is None else [root]
        candidates += [c for c in await self.backend.children(paths.ROOT) if c.is_container]
        self._storages = {m.path: m.attrs.get("owner") for m in candidates if m.is_storage}

    async def create_storage(self, path: str, *, owner: str | None = None) -> Metadata:
        """Make container `path` (created if missing) a storage root, owned by WebID `owner`."""
        if not paths.is_container(path):
            raise BadRequest("a storage root must be a container")
        async with self.locker.hold(path):
            await self._ensure_container(path)
            attrs = {"storage": "true"}
            if owner:
                attrs["owner"] = owner
            meta = await self.backend.set_attrs(path, attrs)
        self._storages[path] = owner
        self._forget(ResourceEvent(Change.UPDATE, path, meta.version))
        return meta

    def storage_root(self, path: str) -> str | None:
        """The storage root that holds `path` (itself included), or None."""
        if path in self._storages:
            return path
        if not self._storages:
            return None
        # Test the containers above `path`, keeping the innermost storage.
        found = "/" if "/" in self._storages else None
        end = path.find("/", 1)
        while end > 0:
            prefix = path[: end + 1]
            if prefix in self._storages:
                found = prefix
            end = path.find("/", end + 1)
        return found

    def storage_roots(self) -> set[str]:
        return set(self._storages)

    def is_storage_root(self, path: str) -> bool:
        return path in self._storages

    def storage_owner(self, root: str) -> str | None:
        """The WebID that owns storage `root` (Solid Protocol #server-storage-track-owner)."""
        return self._storages.get(root)

    # --- reading --------------------------------------------------------------------------

    async def stat(self, path: str) -> Metadata | None:
        return await self.backend.stat(path)

    async def get(
        self, path: str, *, accept: str | None = None, byte_range: slice | None = None
    ) -> Representation:
        """The representation of `path` that best fits `accept`.

        Raises NotFound, NotAcceptable, or RangeNotSatisfiable (from the caller's range check).
        """
        if paths.is_container(path):
            return await self._get_container(path, accept)
        if byte_range is None:
            # One read gives the bytes and the metadata of the same version.
            meta, data = await self.backend.read(path)
            partial = None
        else:
            start = byte_range.start or 0
            meta, data = await self.backend.read(path, start=start, end=byte_range.stop)
            partial = (start, start + len(data))
        if rdf.is_rdf_type(meta.content_type):
            return await self._rdf_representation(path, meta, data, accept)
        media = choose(accept, (meta.content_type,))
        if media is None:
            raise NotAcceptable(
                f"{path} is only available as {meta.content_type}", available=[meta.content_type]
            )
        return Representation(
            meta, meta.content_type, data, meta.version, False, meta.size, partial
        )

    async def _rdf_representation(
        self, path: str, meta: Metadata, data: bytes, accept: str | None
    ) -> Representation:
        stored = rdf.canonical_type(meta.content_type)
        available = _available(stored)
        media = choose(accept, available)
        if media is None:
            raise NotAcceptable(
                f"{path} is RDF; ask for one of {', '.join(available)}", available=available
            )
        if media != stored:
            data = await self._convert(path, meta, data, stored, media)
        return Representation(meta, media, data, self._etag(meta.version, media), True, len(data))

    async def _convert(
        self, path: str, meta: Metadata, data: bytes, stored: str, media: str
    ) -> bytes:
        key = (path, media)
        cached = self.conversions.get(key)
        if cached is not None and cached[0] == meta.version:
            return cached[1]
        graph = await self._offload(len(data), rdf.parse, data, stored, base=self.url(path))
        out = await self._offload(len(data), _serialize, graph.triples, media, graph.prefixes)
        self.conversions.put(key, (meta.version, out))
        return out

    @staticmethod
    def _etag(version: str, media: str) -> str:
        suffix = _ETAG_SUFFIX.get(media)
        return version if suffix is None else f"{version}-{suffix}"

    async def read_graph(self, path: str) -> tuple[Metadata, rdf.Graph] | None:
        """The parsed triples of RDF resource (or container body) `path`, or None if missing."""
        try:
            meta, data = await self.backend.read(path)
        except NotFound:
            return None
        if not paths.is_container(path) and not rdf.is_rdf_type(meta.content_type):
            raise UnsupportedMediaType(f"{path} is not an RDF document", accepted=rdf.RDF_TYPES)
        if not data:
            return meta, rdf.Graph([])
        graph = await self._offload(
            len(data), rdf.parse, data, meta.content_type, base=self.url(path)
        )
        return meta, graph

    async def _get_container(self, path: str, accept: str | None) -> Representation:
        media = choose(accept, rdf.RDF_TYPES)
        if media is None:
            raise NotAcceptable(
                f"{path} is a container; ask for one of {', '.join(rdf.RDF_TYPES)}",
                available=rdf.RDF_TYPES,
            )
        listing = await self._listing(path)
        data = listing.bodies.get(media)
        if data is None:
            data = await self._offload(
                len(listing.triples) * 64,
                _serialize_listing,
                listing.triples,
                media,
                listing.prefixes,
            )
            # Kept with the listing while the listing stays within its share of the cache.
            if _listing_size(path, listing) + len(data) <= self.listings.max_entry_bytes:
                listing.bodies[media] = data
                if self.listings.get(path) is listing:
                    self.listings.put(path, listing)  # counts the new body
        return Representation(
            listing.meta, media, data, self._etag(listing.etag, media), True, len(data)
        )

    async def _container_state(
        self, path: str
    ) -> tuple[Metadata, list[ox.Triple], dict[str, str], str]:
        """A container's metadata, full triples (own + server-managed), prefixes and version."""
        listing = await self._listing(path)
        return listing.meta, listing.triples, listing.prefixes, listing.etag

    async def _listing(self, path: str) -> _Listing:
        """The container's listing, rebuilt only when it changed.

        Our own writes drop the cached listing of the container they touch (see `_forget`);
        the container's version and mtime catch changes made behind our back (files placed by
        hand), within the file system's timestamp resolution.
        """
        meta = await self.backend.stat(path)
        if meta is None:
            raise NotFound(f"{path} does not exist")
        token = (meta.version, meta.modified)
        cached = self.listings.get(path)
        if cached is not None and cached.token == token:
            return cached
        epoch = self._epoch
        own = await self.read_graph(path)
        if own is None:
            raise NotFound(f"{path} does not exist")
        meta, graph = own
        children = [c for c in await self.backend.children(path) if not paths.is_auxiliary(c.path)]
        children.sort(key=lambda c: c.path)
        managed, managed_bytes = self._managed_triples(meta, children)
        digest = hashlib.blake2b(meta.version.encode(), digest_size=10)
        for c in children:
            digest.update(
                f"\0{c.path}\0{c.version}\0{c.modified}\0{c.size}\0{c.content_type}".encode()
            )
        triples_bytes = managed_bytes + sum(_TRIPLE_BYTES + len(str(t)) for t in graph.triples)
        listing = _Listing(
            token,
            meta,
            graph.triples + managed,
            graph.prefixes,
            digest.hexdigest(),
            {},
            triples_bytes + size_of(graph.prefixes),
        )
        if epoch == self._epoch:  # no write landed while we listed: safe to keep
            self.listings.put(path, listing)
        return listing

    def _forget(self, event: ResourceEvent) -> None:
        """Drop what a change makes stale: the resource's conversions, and the listings of the
        resource and of its container."""
        self._epoch += 1
        for media in rdf.RDF_TYPES:
            self.conversions.pop((event.path, media))
        self.listings.pop(event.path)
        parent = paths.parent(event.path)
        if parent is not None:
            self.listings.pop(parent)

    def _managed_triples(
        self, meta: Metadata, children: list[Metadata]
    ) -> tuple[list[ox.Triple], int]:
        """Containment and per-child metadata (#server-contained-resource-metadata), and an
        estimate of their size in bytes.

        The container's own triples come first, then each child's, so that the serializers can
        group subjects without sorting.
        """
        base = self.url(meta.path)
        me = ox.NamedNode(base)
        head = [ox.Triple(me, _TYPE, t) for t in _CONTAINER_TYPES]
        if meta.path in self._storages:
            head.append(ox.Triple(me, _TYPE, _STORAGE))
        head += _time_triples(me, meta.modified)
        body: list[ox.Triple] = []
        # Each triple holds its own copy of its terms: count the container's URL, the child's
        # (the longest terms) and the rest of each triple as _MANAGED_TRIPLE_BYTES.
        size = len(head) * (_MANAGED_TRIPLE_BYTES + len(base))
        for child in children:
            name = paths.name_of(child.path)
            url = base + paths.quote_name(name) + ("/" if child.is_container else "")
            node = ox.NamedNode(url)
            head.append(ox.Triple(me, _CONTAINS, node))
            count = len(body)
            if child.is_container:
                body += [ox.Triple(node, _TYPE, t) for t in _CONTAINER_TYPES]
            else:
                body.append(ox.Triple(node, _TYPE, _RESOURCE))
                body.append(ox.Triple(node, _TYPE, _media_class(child.content_type)))
                body.append(ox.Triple(node, _SIZE, ox.Literal(str(child.size), datatype=_INTEGER)))
            body += _time_triples(node, child.modified)
            size += (len(body) - count) * (_MANAGED_TRIPLE_BYTES + len(url))
            size += _MANAGED_TRIPLE_BYTES + len(base) + len(url)  # its ldp:contains
        return head + body, size

    async def current_etag(self, path: str) -> tuple[str | None, float | None]:
        """The ETag (of the stored representation) and modification time of `path`, if it exists."""
        if paths.is_container(path):
            try:
                container, _, _, etag = await self._container_state(path)
            except NotFound:
                return None, None
            return etag, container.modified
        meta = await self.backend.stat(path)
        return (None, None) if meta is None else (meta.version, meta.modified)

    async def storage_description(self, root: str) -> bytes:
        """Turtle describing storage `root` (Solid Protocol #server-storage-description)."""
        me = ox.NamedNode(self.url(root))
        triples = [ox.Triple(me, _TYPE, _STORAGE)]
        owner = self.storage_owner(root)
        if owner:
            triples.append(ox.Triple(me, ox.NamedNode(SOLID.owner), ox.NamedNode(owner)))
        return rdf.serialize(triples, rdf.TURTLE)

    # --- writing --------------------------------------------------------------------------

    async def put(
        self,
        path: str,
        *,
        data: bytes,
        content_type: str | None,
        conditions: Conditions = NO_CONDITIONS,
        relative: bool = False,
    ) -> WriteResult:
        """Create or replace `path` (Solid Protocol §5.3), creating missing containers above it.

        `relative`: RDF is stored naming this server's resources with relative IRIs, as the
        server stores the documents it writes itself (profiles, ACLs), so that they keep their
        meaning when the server moves (`rdf.serialize_stored`). Clients' documents are stored
        with absolute IRIs, which is about three times cheaper to write; `kluis migrate` moves
        them.
        """
        if paths.is_container(path):
            return await self._put_container(path, data, content_type, conditions)
        if content_type is None:
            raise BadRequest("a PUT body needs a Content-Type header")
        media, body = await self._prepare_body(path, data, content_type, relative=relative)
        async with self.locker.hold(path):
            etag, modified = await self.current_etag(path)
            _check(conditions, etag, modified)
            await self._ensure_parents(path)
            meta = await self._write(path, body, media)
        return self._written(path, meta, created=etag is None)

    async def _put_container(
        self, path: str, data: bytes, content_type: str | None, conditions: Conditions
    ) -> WriteResult:
        """Create a container, or replace its own description: the RDF a PUT carries becomes
        the container's own triples, served with the server-managed ones, and its children are
        never touched (Solid Protocol https://solidproject.org/TR/protocol#writing-resources:
        a container PUT may carry RDF, the server refuses what it manages). An empty body, or
        RDF with no triples, leaves no description of its own."""
        body = b""
        if data:
            if content_type is None:
                raise BadRequest("a PUT body needs a Content-Type header")
            body = await self._container_body(path, data, content_type)
        async with self.locker.hold(path):
            etag, modified = await self.current_etag(path)
            _check(conditions, etag, modified)
            if etag is None:
                await self._ensure_parents(path)
                meta = await self._write(path, body, rdf.TURTLE)
                return self._written(path, meta, created=True)
            current = await self.read_graph(path)
            if current is not None and await self._same_description(path, current[1], body):
                return WriteResult(path, False, etag)  # nothing changes: keep the ETag
            meta = await self._write(path, body, rdf.TURTLE)
        return self._written(path, meta, created=False)

    async def _same_description(self, path: str, current: rdf.Graph, body: bytes) -> bool:
        if not body:
            return not current.triples
        new = await self._offload(len(body), rdf.parse, body, rdf.TURTLE, base=self.url(path))
        return set(new.triples) == set(current.triples)

    async def post(
        self,
        container: str,
        *,
        data: bytes,
        content_type: str | None,
        slug: str | None = None,
        as_container: bool = False,
    ) -> WriteResult:
        """Create a new child of `container` (Solid Protocol #server-post-uri-assignment)."""
        meta = await self.backend.stat(container)
        if meta is None:
            # Solid Protocol #server-post-target-not-found
            raise NotFound(f"{container} does not exist")
        if not paths.is_container(container):
            allowed = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]
            if rdf.is_rdf_type(meta.content_type):
                allowed.append("PATCH")
            raise MethodNotAllowed("POST is only allowed on containers", allowed=allowed)
        if data and content_type is None:
            raise BadRequest("a POST body needs a Content-Type header")
        name = _slug_name(slug)
        for attempt in range(4):
            if name is None or attempt > 0:
                name = _fresh_name(name)
            child = container + name + ("/" if as_container else "")
            if await self.backend.stat(paths.twin(child)) is not None:
                continue
            if as_container:
                body = b""
                if data:
                    assert content_type is not None
                    body = await self._container_body(child, data, content_type)
                media = rdf.TURTLE
            else:
                media, body = await self._prepare_body(
                    child, data, content_type or "application/octet-stream"
                )
            async with self.locker.hold(child):
                try:
                    written = await self.backend.write(
                        child, body, content_type=media, create_only=True
                    )
                except Conflict:
                    continue
            return self._written(child, written, created=True)
        raise Conflict("could not find a free name for the new resource; try again")

    async def patch(
        self, path: str, patch: Patch, *, conditions: Conditions = NO_CONDITIONS
    ) -> WriteResult:
        """Apply an N3 Patch or SPARQL Update; a missing resource starts as an empty document."""
        async with self.locker.hold(path):
            if paths.is_container(path):
                return await self._patch_container(path, patch, conditions)
            etag, modified = await self.current_etag(path)
            _check(conditions, etag, modified)
            current = await self.read_graph(path) if etag is not None else None
            graph = rdf.Graph([]) if current is None else current[1]
            size = 0 if current is None else current[0].size
            # Always in a thread: matching is bounded by a work budget, not by the body's size.
            triples = await asyncio.to_thread(patch.apply, graph.triples)
            await self._validate(path, triples)
            growth = max(0, len(triples) - len(graph.triples)) * _BYTES_PER_TRIPLE
            body = await self._offload(
                size + growth,  # about the size of the new document
                _serialize,
                triples,
                rdf.TURTLE,
                graph.prefixes,
            )
            if etag is None:
                await self._ensure_parents(path)
            meta = await self._write(path, body, rdf.TURTLE)
        return self._written(path, meta, created=etag is None)

    async def _patch_container(
        self, path: str, patch: Patch, conditions: Conditions
    ) -> WriteResult:
        meta, triples, prefixes, etag = await self._container_state(path)
        _check(conditions, etag, meta.modified)
        own = await self.read_graph(path)
        own_triples = set() if own is None else set(own[1].triples)
        managed = set(triples) - own_triples
        result = set(await asyncio.to_thread(patch.apply, triples))
        if not managed <= result:
            # Solid Protocol #server-protect-containment
            raise Conflict("the patch would remove containment or other server-managed triples")
        new_own = [t for t in result if t not in managed]
        self._check_container_triples(path, new_own)
        body = b""
        if new_own:
            body = await self._offload(
                len(new_own) * _BYTES_PER_TRIPLE, _serialize, new_own, rdf.TURTLE, prefixes
            )
        written = await self.backend.write(path, body, content_type=rdf.TURTLE)
        return self._written(path, written, created=False)

    def _is_root(self, path: str) -> bool:
        """The server's root container or a storage root: never deleted, nor their ACLs."""
        return path == paths.ROOT or path in self._storages

    def is_deletable(self, path: str) -> bool:
        return not (
            self._is_root(path) or (paths.is_acl(path) and self._is_root(paths.subject_of(path)))
        )

    def check_deletable(self, path: str) -> None:
        """Raise MethodNotAllowed for what may never be deleted: roots and their ACLs."""
        if self._is_root(path):
            # Solid Protocol #server-delete-protect-root-container
            raise MethodNotAllowed("a storage root cannot be deleted", allowed=_ROOT_METHODS)
        if not self.is_deletable(path):
            raise MethodNotAllowed(
                "the ACL of a storage root cannot be deleted", allowed=_DOC_METHODS
            )

    async def delete(self, path: str, *, conditions: Conditions = NO_CONDITIONS) -> None:
        """Delete a resource with its auxiliary resources, or an empty container."""
        self.check_deletable(path)
        async with self.locker.hold(path):
            etag, modified = await self.current_etag(path)
            if etag is None:
                raise NotFound(f"{path} does not exist")
            _check(conditions, etag, modified)
            if paths.is_container(path):
                children = await self.backend.children(path)
                if any(not paths.is_auxiliary(c.path) for c in children):
                    # Solid Protocol #server-delete-protect-nonempty-container
                    raise Conflict(f"container {path} is not empty; delete what it contains first")
                for aux in children:  # its own .acl/.meta, and strays of deleted children
                    await self.backend.delete(aux.path)
                    self.events.emit(ResourceEvent(Change.DELETE, aux.path))
            elif not paths.is_auxiliary(path):
                # Solid Protocol #server-delete-remove-auxiliary-resource
                for aux_path in (paths.acl_of(path), paths.meta_of(path)):
                    with contextlib.suppress(NotFound):
                        await self.backend.delete(aux_path)
                        self.events.emit(ResourceEvent(Change.DELETE, aux_path))
            await self.backend.delete(path)
        parent = paths.parent(path)
        self.events.emit(ResourceEvent(Change.DELETE, path))
        if parent is not None:
            self.events.emit(ResourceEvent(Change.REMOVE, parent, child=path))

    # --- helpers --------------------------------------------------------------------------

    async def _prepare_body(
        self, path: str, data: bytes, content_type: str, *, relative: bool = False
    ) -> tuple[str, bytes]:
        """Validate a resource body: RDF is parsed and stored as Turtle; other bytes stay exact."""
        media = rdf.canonical_type(content_type)
        if not _MEDIA_TYPE.match(media):
            raise BadRequest(f"invalid Content-Type {content_type!r}: expected type/subtype")
        if paths.is_auxiliary(path):
            paths.subject_of(path)  # refuses auxiliaries of auxiliaries
            if not rdf.is_rdf_type(media):
                raise UnsupportedMediaType(
                    f"{paths.name_of(path)} is an auxiliary resource and must be RDF",
                    accepted=rdf.RDF_TYPES,
                )
        if not rdf.is_rdf_type(media):
            return media, data
        if len(data) > self.max_rdf_bytes:
            raise PayloadTooLarge(f"RDF bodies are limited to {self.max_rdf_bytes} bytes")
        graph = await self._offload(len(data), rdf.parse, data, media, base=self.url(path))
        await self._validate(path, graph.triples)
        if relative:
            return rdf.TURTLE, await self._offload(
                len(data),
                rdf.serialize_stored,
                graph.triples,
                document=self.url(path),
                server=self.base_url + "/",
                prefixes=graph.prefixes,
            )
        return rdf.TURTLE, await self._offload(
            len(data), _serialize, graph.triples, rdf.TURTLE, graph.prefixes
        )

    async def _container_body(self, path: str, data: bytes, content_type: str) -> bytes:
        """The Turtle to store as a container's own description, from the RDF a client sent."""
        media = rdf.canonical_type(content_type)
        if not rdf.is_rdf_type(media):
            raise UnsupportedMediaType("a container's body must be RDF", accepted=rdf.RDF_TYPES)
        if len(data) > self.max_rdf_bytes:
            raise PayloadTooLarge(f"RDF bodies are limited to {self.max_rdf_bytes} bytes")
        graph = await self._offload(len(data), rdf.parse, data, media, base=self.url(path))
        self._check_container_triples(path, graph.triples)
        if not graph.triples:
            return b""
        return await self._offload(len(data), _serialize, graph.triples, rdf.TURTLE, graph.prefixes)

    async def _validate(self, path: str, triples: list[ox.Triple]) -> None:
        for validator in self.validators:
            await validator(path, triples)

    def _check_container_triples(self, path: str, triples: list[ox.Triple]) -> None:
        """Refuse, naming it, a triple of a container's description that the server manages
        (Solid Protocol #server-protect-containment, #server-contained-resource-metadata)."""
        me = ox.NamedNode(self.url(path))
        prefix = self.url(path)
        for t in triples:
            subject = t.subject.value if isinstance(t.subject, ox.NamedNode) else ""
            if t.predicate == _CONTAINS:
                managed = "ldp:contains triples are"
            elif t.subject == me and t.predicate == _TYPE and t.object in _MANAGED_TYPES:
                managed = "the container's LDP and storage types are"
            elif t.subject == me and t.predicate in _MANAGED_PREDICATES:
                managed = "the container's modification time and size are"
            elif subject.startswith(prefix) and subject != prefix and "#" not in subject:
                managed = "metadata of contained resources is"
            else:
                continue
            raise Conflict(f"{managed} managed by the server; refused {_shown(t)}")

    async def _ensure_parents(self, path: str) -> None:
        """Create the missing containers above `path`, top-down, announcing each."""
        missing: list[str] = []
        for ancestor in paths.ancestors(path):
            meta = await self.backend.stat(ancestor)
            if meta is not None:
                break
            if await self.backend.stat(paths.twin(ancestor)) is not None:
                raise Conflict(f"{paths.twin(ancestor)} is not a container")
            missing.append(ancestor)
        for container in reversed(missing):
            try:
                await self.backend.write(container, b"", content_type=rdf.TURTLE, create_only=True)
            except Conflict:
                if await self.backend.stat(container) is None:
                    raise
                continue  # created concurrently: fine
            except NotFound as exc:  # an ancestor was deleted meanwhile
                raise Conflict(
                    f"a container above {path} was deleted during the write; try again"
                ) from exc
            self._emit_created(container)

    async def _ensure_container(self, path: str) -> None:
        if await self.backend.stat(path) is None:
            await self._ensure_parents(path)
            await self.backend.write(path, b"", content_type=rdf.TURTLE)
            self._emit_created(path)

    async def _write(self, path: str, body: bytes, media: str) -> Metadata:
        try:
            return await self.backend.write(path, body, content_type=media)
        except NotFound as exc:
            raise Conflict(f"the container of {path} disappeared during the write") from exc

    def _written(self, path: str, meta: Metadata, *, created: bool) -> WriteResult:
        if created:
            self._emit_created(path)
        else:
            self.events.emit(ResourceEvent(Change.UPDATE, path, meta.version))
        return WriteResult(path, created, meta.version)

    def _emit_created(self, path: str) -> None:
        self.events.emit(ResourceEvent(Change.CREATE, path))
        parent = paths.parent(path)
        if parent is not None:
            self.events.emit(ResourceEvent(Change.ADD, parent, child=path))

    async def _offload(
        self, size: int, fn: Callable[..., T], /, *args: object, **kwargs: object
    ) -> T:
        """Run CPU-heavy work for big inputs in a thread, so one request cannot stall the rest."""
        if size > _OFFLOAD_BYTES:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)


def _check(conditions: Conditions, etag: str | None, modified: float | None) -> None:
    """Evaluate a write's preconditions against the stored version `etag` and the ETags of its
    converted representations (`SolidStore._etag`), each compared whole."""
    if conditions is NO_CONDITIONS:
        return
    aliases = () if etag is None else [SolidStore._etag(etag, media) for media in _ETAG_SUFFIX]
    evaluate(conditions, etag=etag, modified=modified, safe_method=False, aliases=aliases)


_ROOT_METHODS: Final = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH")
_DOC_METHODS: Final = ("GET", "HEAD", "OPTIONS", "PUT", "PATCH")


def _shown(triple: ox.Triple) -> str:
    """A triple for an error message, cut short: it echoes what the client sent."""
    text = str(triple)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."


@functools.lru_cache(maxsize=16)
def _available(stored: str) -> tuple[str, ...]:
    """The RDF types a document stored as `stored` can be served as, the stored one first."""
    return (stored, *(t for t in rdf.RDF_TYPES if t != stored))


def _serialize(triples: list[ox.Triple], media: str, prefixes: dict[str, str]) -> bytes:
    return rdf.serialize(triples, media, prefixes=prefixes)


@dataclass(slots=True)
class _Listing:
    token: tuple[str, float]
    meta: Metadata
    triples: list[ox.Triple]
    prefixes: dict[str, str]
    etag: str
    bodies: dict[str, bytes]  # serializations made so far, by media type
    triples_bytes: int  # an estimate of the memory `triples` and `prefixes` hold


def _listing_size(path: str, listing: _Listing) -> int:
    return len(path) + listing.triples_bytes + sum(len(b) for b in listing.bodies.values())


def _serialize_listing(triples: list[ox.Triple], media: str, prefixes: dict[str, str]) -> bytes:
    return rdf.serialize(triples, media, prefixes=prefixes, grouped=True)


@functools.lru_cache(maxsize=256)
def _media_class(content_type: str) -> ox.NamedNode:
    return ox.NamedNode(media_type_class(content_type))


def _time_triples(node: ox.NamedNode, modified: float) -> list[ox.Triple]:
    seconds = int(modified)
    millis = int((modified - seconds) * 1000)
    stamp = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z"
    return [
        ox.Triple(node, _MODIFIED, ox.Literal(stamp, datatype=_DATETIME)),
        ox.Triple(node, _MTIME, ox.Literal(str(int(modified)), datatype=_INTEGER)),
    ]


_TCHARS = r"[!#$%&'*+.^_`|~0-9a-z-]+"
_MEDIA_TYPE = re.compile(rf"^{_TCHARS}/{_TCHARS}$")  # RFC 9110 §8.3.1
_UNSAFE_SLUG = re.compile(r"[\x00-\x1f\x7f/\\?#]+")


def _slug_name(slug: str | None) -> str | None:
    """A safe child name from a Slug hint (RFC 5023 §9.7), or None to mint one."""
    if not slug:
        return None
    try:
        text = unquote(slug, errors="strict")
    except UnicodeDecodeError:
        return None
    name = _UNSAFE_SLUG.sub("-", text).strip()[:_SLUG_MAX].strip()
    # Never let a Slug create an auxiliary resource: POST needs only Append, an ACL needs Control.
    if not paths.is_valid_name(name) or paths.has_auxiliary_suffix(name):
        return None
    return name


def _fresh_name(taken: str | None) -> str:
    """A new name: the Slug with a random suffix before its extension, or a UUID."""
    if taken is None:
        return str(uuid.uuid4())
    stem, dot, ext = taken.rpartition(".")
    if dot and stem:
        return f"{stem}-{secrets.token_hex(3)}.{ext}"
    return f"{taken}-{secrets.token_hex(3)}"
