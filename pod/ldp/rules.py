"""SolidRules: the Solid Protocol's resource rules over a dumb Backend; the bottom of the store
stack (see `pod.ldp.resources`). Imports storage, model.

The rules live here once, above every backend: containment, intermediate containers, slash twins,
auxiliary resources, server-managed triples, RDF validation and conditional writes. What the other
layers add (locking, conversion, caching, announcing) they add as wrappers: this class holds no
lock and announces nothing; each write answers with the changes it made. The one cache it keeps,
parsed documents by version for PATCH (`pod.ldp.graphs`), is read only for the version the
backend reports, inside the lock the layer above holds.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Set
from typing import Final, final

import pyoxigraph as ox

from pod import paths
from pod.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from pod.feed import Change, ResourceChanged
from pod.ldp import rdf
from pod.ldp.conditions import NO_CONDITIONS, Conditions, evaluate
from pod.ldp.containers import Listing, check_container_triples, listing_etag
from pod.ldp.graphs import ParsedGraph, ParsedGraphs
from pod.ldp.methods import check_deletable, check_postable
from pod.ldp.naming import fresh_name, slug_name
from pod.ldp.patch import Patch
from pod.ldp.resources import (
    BYTES_PER_TRIPLE,
    ETAG_SUFFIX,
    Representation,
    WriteResult,
    etag_of,
    offload,
)
from pod.ldp.storages import Storages
from pod.model import Metadata
from pod.storage.base import Backend

Validator = Callable[[str, list[ox.Triple]], Awaitable[None]]


@final
class SolidRules:
    """Solid resource operations over `backend`. Paths are validated (see `pod.paths`)."""

    def __init__(
        self,
        backend: Backend,
        *,
        base_url: str,
        storages: Storages | None = None,
        max_rdf_bytes: int = 8 * 1024 * 1024,
        graphs: ParsedGraphs | None = None,
    ) -> None:
        self.backend = backend
        self.base_url = base_url.rstrip("/")
        self.storages = storages or Storages()
        self.max_rdf_bytes = max_rdf_bytes
        self.graphs = graphs or ParsedGraphs()
        # Checks RDF documents must pass before they are stored (e.g. ACL validation, which
        # lives above this layer): each gets the path and the new triples, and raises PodError.
        # Container descriptions are checked too (with no triples for a container created
        # empty), so that a shape declaration or a container's place can be refused.
        self.validators: list[Validator] = []
        # Checks a non-RDF document must pass before it is stored (a constrained container
        # holds only RDF): each gets the path and raises PodError.
        self.non_rdf_checks: list[Callable[[str], Awaitable[None]]] = []
        # Checks a new resource must pass before the containers missing above it are created
        # (a pod's quota): each gets the path and the size to store, and raises PodError, so a
        # refused write leaves no empty container behind.
        self.size_checks: list[Callable[[str, int], Awaitable[None]]] = []

    def url(self, path: str) -> str:
        return self.base_url + paths.to_url_path(path)

    def path_of(self, url: str) -> str | None:
        if not url.startswith(self.base_url + "/"):
            return None
        try:
            return paths.parse_url_path(url[len(self.base_url) :].split("#", 1)[0].split("?", 1)[0])
        except BadRequest:
            return None

    async def open(self) -> None:
        await self.storages.load(self.backend)

    async def close(self) -> None:
        await self.backend.close()

    # --- reading --------------------------------------------------------------------------

    async def head(self, path: str) -> Metadata | None:
        return await self.backend.stat(path)

    async def get(
        self, path: str, *, accept: str | None = None, byte_range: slice | None = None
    ) -> Representation:
        """The stored representation of `path` (`accept` is the converting layer's): a
        document's bytes, or a container's listing as triples. Raises NotFound."""
        if paths.is_container(path):
            return await self._listing(path)
        if byte_range is None:
            # One read gives the bytes and the metadata of the same version.
            meta, data = await self.backend.read(path)
            partial = None
        else:
            start = byte_range.start or 0
            meta, data = await self.backend.read(path, start=start, end=byte_range.stop)
            partial = (start, start + len(data))
        if rdf.is_rdf_type(meta.content_type):
            return Representation(
                meta, rdf.canonical_type(meta.content_type), data, meta.version, True, len(data)
            )
        return Representation(
            meta, meta.content_type, data, meta.version, False, meta.size, partial
        )

    async def read_graph(self, path: str) -> tuple[Metadata, rdf.Graph] | None:
        try:
            meta, data = await self.backend.read(path)
        except NotFound:
            return None
        return meta, await self._parse_stored(path, meta, data)

    async def _parse_stored(self, path: str, meta: Metadata, data: bytes) -> rdf.Graph:
        if not paths.is_container(path) and not rdf.is_rdf_type(meta.content_type):
            raise UnsupportedMediaType(f"{path} is not an RDF document", accepted=rdf.RDF_TYPES)
        if not data:
            return rdf.Graph([])
        return await offload(len(data), rdf.parse, data, meta.content_type, base=self.url(path))

    async def _listing(self, path: str) -> Representation:
        """A container's listing: its own triples and the server-managed ones
        (#server-contained-resource-metadata), with an ETag over every child's version.
        `total_size` estimates the memory the listing holds, for caches above."""
        own = await self.read_graph(path)
        if own is None:
            raise NotFound(f"{path} does not exist")
        meta, graph = own
        children = [c for c in await self.backend.children(path) if not paths.is_auxiliary(c.path)]
        children.sort(key=lambda c: c.path)
        is_storage = self.storages.is_root(meta.path)
        listing = Listing.of(self.url(meta.path), meta, graph, children, is_storage=is_storage)
        etag = listing_etag(meta, children)
        return Representation(meta, rdf.TURTLE, b"", etag, True, listing.size, listing=listing)

    async def _check_conditions(
        self, path: str, meta: Metadata | None, conditions: Conditions
    ) -> None:
        """Evaluate a write's preconditions against the current state: a document's stored
        version, a container's listing ETag (computed only when there are conditions)."""
        if conditions is NO_CONDITIONS:
            return
        etag = None if meta is None else meta.version
        modified = None if meta is None else meta.modified
        if meta is not None and paths.is_container(path):
            listing = await self._listing(path)
            etag, modified = listing.etag, listing.metadata.modified
        _check(conditions, etag, modified)

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
        meaning when the server moves (`rdf.serialize_stored`). Clients' Turtle is stored as
        they sent it, their other RDF as Turtle with absolute IRIs: both are much cheaper to
        write, and `kluis migrate` moves them.
        """
        if paths.is_container(path):
            return await self._put_container(path, data, content_type, conditions)
        if content_type is None:
            raise BadRequest("a PUT body needs a Content-Type header")
        media, body = await self._prepare_body(path, data, content_type, relative=relative)
        current = await self.backend.stat(path)
        await self._check_conditions(path, current, conditions)
        changes: list[ResourceChanged] = []
        if current is None:
            await self._ensure_parents(path, changes, size=len(body))
        meta = await self._write(path, body, media)
        return _written(path, meta, created=current is None, changes=changes)

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
        else:
            await self._validate(path, [])
        current = await self.backend.stat(path)
        await self._check_conditions(path, current, conditions)
        changes: list[ResourceChanged] = []
        if current is None:
            await self._ensure_parents(path, changes, size=len(body))
            meta = await self._write(path, body, rdf.TURTLE)
            return _written(path, meta, created=True, changes=changes)
        own = await self.read_graph(path)
        if own is not None and await self._same_description(path, own[1], body):
            return WriteResult(path, False, own[0], ())  # nothing changes: keep the ETag
        meta = await self._write(path, body, rdf.TURTLE)
        return _written(path, meta, created=False, changes=changes)

    async def _same_description(self, path: str, current: rdf.Graph, body: bytes) -> bool:
        if not body:
            return not current.triples
        new = await offload(len(body), rdf.parse, body, rdf.TURTLE, base=self.url(path))
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
        check_postable(container, meta, self.storages)
        if data and content_type is None:
            raise BadRequest("a POST body needs a Content-Type header")
        name = slug_name(slug)
        for attempt in range(4):
            if name is None or attempt > 0:
                name = fresh_name(name)
            child = container + name + ("/" if as_container else "")
            if await self.backend.stat(paths.twin(child)) is not None:
                continue
            if as_container:
                body = b""
                if data:
                    assert content_type is not None
                    body = await self._container_body(child, data, content_type)
                else:
                    await self._validate(child, [])
                media = rdf.TURTLE
            else:
                media, body = await self._prepare_body(
                    child, data, content_type or "application/octet-stream"
                )
            try:
                # Create-only: a name someone else took meanwhile is refused, never replaced.
                written = await self.backend.write(
                    child, body, content_type=media, create_only=True
                )
            except Conflict:
                continue
            return _written(child, written, created=True, changes=[])
        raise Conflict("could not find a free name for the new resource; try again")

    async def patch(
        self,
        path: str,
        patch: Patch,
        *,
        conditions: Conditions = NO_CONDITIONS,
        seen: Metadata | None = None,
    ) -> WriteResult:
        """Apply an N3 Patch or SPARQL Update; a missing resource starts as an empty document.

        The target is read once, or not at all when its parsed version is kept; a non-RDF one
        is refused (415) from `seen`, its metadata found on the way in, before any byte of it is
        read. A patch that leaves an existing document as it was writes nothing and announces
        nothing: it answers with the version it found (RFC 5789 §2: success, and the ETag of
        what is stored)."""
        if paths.is_container(path):
            return await self._patch_container(path, patch, conditions)
        if seen is not None:
            _check_patchable(seen)
        meta = await self.backend.stat(path)
        if meta is not None and (seen is None or meta.version != seen.version):
            _check_patchable(meta)  # not seen, or replaced since
        stored = None if meta is None else self.graphs.get(path, meta.version)
        if meta is not None and stored is None:
            found = await self._read_parsed(path, meta)
            meta, stored = (None, None) if found is None else found
        await self._check_conditions(path, meta, conditions)
        before = _EMPTY if stored is None else stored.triples
        after = await _apply(patch, before)
        if after is None and meta is not None:
            return WriteResult(path, False, meta, ())
        triples = list(before if after is None else after)
        await self._validate(path, triples)
        size = 0 if stored is None else stored.stored_bytes
        growth = max(0, len(triples) - len(before)) * BYTES_PER_TRIPLE
        prefixes = {} if stored is None else stored.prefixes
        body = await offload(size + growth, _serialize, triples, rdf.TURTLE, prefixes)
        changes: list[ResourceChanged] = []
        if meta is None:
            await self._ensure_parents(path, changes, size=len(body))
        written = await self._write(path, body, rdf.TURTLE)
        # Kept as written, so that the next patch neither reads nor parses it.
        self.graphs.put(
            path,
            ParsedGraph(
                written.version, set(triples) if after is None else after, prefixes, len(body)
            ),
        )
        return _written(path, written, created=meta is None, changes=changes)

    async def _read_parsed(self, path: str, meta: Metadata) -> tuple[Metadata, ParsedGraph] | None:
        """Read and parse the document at `path` (None if it is gone), and keep it parsed."""
        try:
            found, data = await self.backend.read(path)
        except NotFound:
            return None
        if found.version != meta.version:
            _check_patchable(found)  # replaced since the stat
        graph = await self._parse_stored(path, found, data)
        parsed = ParsedGraph(found.version, frozenset(graph.triples), graph.prefixes, len(data))
        self.graphs.put(path, parsed)
        return found, parsed

    async def _patch_container(
        self, path: str, patch: Patch, conditions: Conditions
    ) -> WriteResult:
        listing = await self._listing(path)
        _check(conditions, listing.etag, listing.metadata.modified)
        assert listing.listing is not None
        own_triples = set(listing.listing.own.triples)
        triples = listing.listing.triples()
        managed = set(triples) - own_triples
        result = set(await asyncio.to_thread(patch.apply, triples))
        if not managed <= result:
            # Solid Protocol #server-protect-containment
            raise Conflict("the patch would remove containment or other server-managed triples")
        new_own = [t for t in result if t not in managed]
        check_container_triples(self.url(path), new_own)
        await self._validate(path, new_own)
        body = b""
        if new_own:
            body = await offload(
                len(new_own) * BYTES_PER_TRIPLE,
                _serialize,
                new_own,
                rdf.TURTLE,
                listing.listing.own.prefixes,
            )
        written = await self.backend.write(path, body, content_type=rdf.TURTLE)
        return _written(path, written, created=False, changes=[])

    async def delete(self, path: str, *, conditions: Conditions = NO_CONDITIONS) -> WriteResult:
        """Delete a resource with its auxiliary resources, or an empty container."""
        check_deletable(path, self.storages)
        meta = await self.backend.stat(path)
        if meta is None:
            raise NotFound(f"{path} does not exist")
        await self._check_conditions(path, meta, conditions)
        changes: list[ResourceChanged] = []
        if paths.is_container(path):
            children = await self.backend.children(path)
            if any(not paths.is_auxiliary(c.path) for c in children):
                # Solid Protocol #server-delete-protect-nonempty-container
                raise Conflict(f"container {path} is not empty; delete what it contains first")
            for aux in children:  # its own .acl/.meta, and strays of deleted children
                await self.backend.delete(aux.path)
                changes.append(ResourceChanged(Change.DELETE, aux.path))
        elif not paths.is_auxiliary(path):
            # Solid Protocol #server-delete-remove-auxiliary-resource
            for aux_path in (paths.acl_of(path), paths.meta_of(path)):
                try:
                    await self.backend.delete(aux_path)
                except NotFound:
                    continue
                changes.append(ResourceChanged(Change.DELETE, aux_path))
        await self.backend.delete(path)
        changes.append(ResourceChanged(Change.DELETE, path))
        parent = paths.parent(path)
        if parent is not None:
            changes.append(ResourceChanged(Change.REMOVE, parent, child=path))
        return WriteResult(path, False, None, tuple(changes))

    async def create_storage(self, path: str, *, owner: str | None = None) -> WriteResult:
        if not paths.is_container(path):
            raise BadRequest("a storage root must be a container")
        changes: list[ResourceChanged] = []
        if await self.backend.stat(path) is None:
            await self._ensure_parents(path, changes)
            created = await self.backend.write(path, b"", content_type=rdf.TURTLE)
            _announce_created(path, created, changes)
        attrs = {"storage": "true"}
        if owner:
            attrs["owner"] = owner
        meta = await self.backend.set_attrs(path, attrs)
        changes.append(ResourceChanged(Change.UPDATE, path, meta))
        return WriteResult(path, False, meta, tuple(changes))

    async def remove_storage(self, path: str) -> WriteResult:
        if await self.backend.stat(path) is None:
            return WriteResult(path, False, None, ())  # removed already: a resumed erasure
        if not self.storages.is_root(path):
            raise Conflict(f"{path} is not a storage root")
        children = await self.backend.children(path)
        if any(not paths.is_auxiliary(c.path) for c in children):
            raise Conflict(f"storage {path} is not empty; delete what it holds first")
        changes: list[ResourceChanged] = []
        for aux in children:  # the root's .acl and .meta, which no request may delete
            await self.backend.delete(aux.path)
            changes.append(ResourceChanged(Change.DELETE, aux.path))
        await self.backend.delete(path)
        changes.append(ResourceChanged(Change.DELETE, path))  # Storages.follow forgets it
        parent = paths.parent(path)
        if parent is not None:
            changes.append(ResourceChanged(Change.REMOVE, parent, child=path))
        return WriteResult(path, False, None, tuple(changes))

    # --- helpers --------------------------------------------------------------------------

    async def _prepare_body(
        self, path: str, data: bytes, content_type: str, *, relative: bool = False
    ) -> tuple[str, bytes]:
        """Validate a resource body: RDF is parsed and stored as Turtle (Turtle as sent); other
        bytes stay exact."""
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
            for check in self.non_rdf_checks:
                await check(path)
            return media, data
        if len(data) > self.max_rdf_bytes:
            raise PayloadTooLarge(f"RDF bodies are limited to {self.max_rdf_bytes} bytes")
        graph = await offload(len(data), rdf.parse, data, media, base=self.url(path))
        await self._validate(path, graph.triples)
        if relative:
            return rdf.TURTLE, await offload(
                len(data),
                rdf.serialize_stored,
                graph.triples,
                document=self.url(path),
                server=self.base_url + "/",
                prefixes=graph.prefixes,
            )
        if media == rdf.TURTLE:
            # Turtle is kept as the client wrote it (its comments, prefixes and layout), as CSS
            # and JSS keep it: it parsed, and every reader parses it against this document's URL,
            # so relative IRIs keep their meaning. Writing it afresh was a third of a PUT's CPU.
            return media, data
        return rdf.TURTLE, await offload(
            len(data), _serialize, graph.triples, rdf.TURTLE, graph.prefixes
        )

    async def _container_body(self, path: str, data: bytes, content_type: str) -> bytes:
        """The Turtle to store as a container's own description, from the RDF a client sent."""
        media = rdf.canonical_type(content_type)
        if not rdf.is_rdf_type(media):
            raise UnsupportedMediaType("a container's body must be RDF", accepted=rdf.RDF_TYPES)
        if len(data) > self.max_rdf_bytes:
            raise PayloadTooLarge(f"RDF bodies are limited to {self.max_rdf_bytes} bytes")
        graph = await offload(len(data), rdf.parse, data, media, base=self.url(path))
        check_container_triples(self.url(path), graph.triples)
        await self._validate(path, graph.triples)
        if not graph.triples:
            return b""
        return await offload(len(data), _serialize, graph.triples, rdf.TURTLE, graph.prefixes)

    async def _validate(self, path: str, triples: list[ox.Triple]) -> None:
        for validator in self.validators:
            await validator(path, triples)

    async def _ensure_parents(
        self, path: str, changes: list[ResourceChanged], *, size: int = 0
    ) -> None:
        """Create the missing containers above `path`, top-down, noting each in `changes`, once
        `path` with `size` bytes passed the size checks."""
        missing: list[str] = []
        for ancestor in paths.ancestors(path):
            meta = await self.backend.stat(ancestor)
            if meta is not None:
                break
            if await self.backend.stat(paths.twin(ancestor)) is not None:
                raise Conflict(f"{paths.twin(ancestor)} is not a container")
            missing.append(ancestor)
        if missing:
            # Each new container must pass the validators a container PUT passes (a shape's
            # container holds conforming documents, not containers), before any is created.
            await self._validate(missing[-1], [])
            for check in self.size_checks:
                await check(path, size)
        for container in reversed(missing):
            try:
                created = await self.backend.write(
                    container, b"", content_type=rdf.TURTLE, create_only=True
                )
            except Conflict:
                if await self.backend.stat(container) is None:
                    raise
                continue  # created concurrently: fine
            except NotFound as exc:  # an ancestor was deleted meanwhile
                raise Conflict(
                    f"a container above {path} was deleted during the write; try again"
                ) from exc
            _announce_created(container, created, changes)

    async def _write(self, path: str, body: bytes, media: str) -> Metadata:
        try:
            return await self.backend.write(path, body, content_type=media)
        except NotFound as exc:
            raise Conflict(f"the container of {path} disappeared during the write") from exc


_EMPTY: Final[frozenset[ox.Triple]] = frozenset()


async def _apply(patch: Patch, before: Set[ox.Triple]) -> Set[ox.Triple] | None:
    """The document after `patch` (None: unchanged). Matching a where clause is bounded by a
    work budget, not by the body's size, so it always runs in a thread; a patch without one
    costs a lookup per triple it names and, if it changes the document, a copy of it, and runs
    on the event loop when that is small."""
    if patch.where:
        return await asyncio.to_thread(patch.changes, before)
    named = sum(len(op.deletes) + len(op.inserts) for op in patch.operations)
    return await offload((len(before) + named) * BYTES_PER_TRIPLE, patch.changes, before)


def _check_patchable(meta: Metadata) -> None:
    if not rdf.is_rdf_type(meta.content_type):
        raise UnsupportedMediaType(
            f"{meta.path} is not an RDF document, so it cannot be patched; replace it with PUT",
            accepted=(),
        )


def _announce_created(path: str, meta: Metadata, changes: list[ResourceChanged]) -> None:
    changes.append(ResourceChanged(Change.CREATE, path, meta))
    parent = paths.parent(path)
    if parent is not None:
        changes.append(ResourceChanged(Change.ADD, parent, child=path))


def _written(
    path: str, meta: Metadata, *, created: bool, changes: list[ResourceChanged]
) -> WriteResult:
    if created:
        _announce_created(path, meta, changes)
    else:
        changes.append(ResourceChanged(Change.UPDATE, path, meta))
    return WriteResult(path, created, meta, tuple(changes))


def _check(conditions: Conditions, etag: str | None, modified: float | None) -> None:
    """Evaluate a write's preconditions against the stored version `etag` and the ETags of its
    converted representations (`etag_of`), each compared whole."""
    if conditions is NO_CONDITIONS:
        return
    aliases = () if etag is None else [etag_of(etag, media) for media in ETAG_SUFFIX]
    evaluate(conditions, etag=etag, modified=modified, safe_method=False, aliases=aliases)


def _serialize(triples: list[ox.Triple], media: str, prefixes: dict[str, str]) -> bytes:
    return rdf.serialize(triples, media, prefixes=prefixes)


_TCHARS = r"[!#$%&'*+.^_`|~0-9a-z-]+"
_MEDIA_TYPE = re.compile(rf"^{_TCHARS}/{_TCHARS}$")  # RFC 9110 §8.3.1
