"""Containers constrained by a SHACL shape: which they are, their shapes, and the check of a write
into one. Imports cache, feed, ldp, paths, vocab.

LDP 1.0 (https://www.w3.org/TR/ldp/#ldpr-gen-pubclireqs, §4.2.1.6) lets a server publish the
constraints on creating and updating resources as a `Link: <...>; rel="ldp:constrainedBy"`; here
a container's owner declares them in the container's own description (`<> ldp:constrainedBy
<shapes>`, PUT on the container, Solid Protocol #writing-resources), and every document written
into it must conform to those SHACL shapes (https://www.w3.org/TR/shacl/), checked by pyshacl.

Shapes are never fetched from elsewhere: a declaration may name a shapes document bundled with
the server (`vocab/`, served under `<base>.kluis/vocab/`) or an RDF document in the same storage,
read through the store; anything else is refused when declared (422). A shape that became
unreadable later (its document deleted) refuses writes with 409, never a 500.

Which containers are constrained is kept per container path, filled on first use (one read of
the container's description, none when it is empty) and dropped when the change feed announces
a change of the container, whichever process made it; a write into an unconstrained container
then costs one dictionary look-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, final

import pyoxigraph as ox
import rdflib
from rdflib.namespace import RDF as RDF_NS
from rdflib.namespace import SH as SH_NS

from pod import paths
from pod.cache import LruCache
from pod.errors import Conflict, NotFound, PodError, ShapeUnavailable, ShapeViolation, Violation
from pod.feed import Change, Event, ResourceChanged
from pod.ldp import rdf
from pod.ldp.resources import ResourceStore
from pod.vocab import LDP

log = logging.getLogger(__name__)

VOCAB_DIR: Final = Path(__file__).resolve().parents[2] / "vocab"
VOCAB_PATH: Final = ".kluis/vocab/"  # under the server's base URL; `.kluis` names no resource
PREFERENCES_SHAPES: Final = "preferences-shapes.ttl"
_CONSTRAINED_BY: Final = ox.NamedNode(LDP.constrainedBy)
_CONTAINERS: Final = 100_000
_MISSING: Final = "\x00"  # not a path: marks a container not looked at yet
_MAX_VIOLATIONS: Final = 50  # named in one answer; a huge bad document needs no more to fix


def bundled_files() -> dict[str, Path]:
    """The vocabulary files the server serves and accepts as shapes, by file name."""
    return {p.name: p for p in sorted(VOCAB_DIR.glob("*.ttl"))}


@final
@dataclass(frozen=True, slots=True)
class _Shapes:
    graph: rdflib.Graph
    target_classes: frozenset[rdflib.URIRef]
    version: str  # of the stored document; "" for a bundled one


@final
class ShapeConstraints:
    """The shapes containers declare, and the check of documents written into them."""

    def __init__(self, store: ResourceStore, *, bundled: Mapping[str, Path] | None = None) -> None:
        self.store = store
        self.vocab_url = store.base_url + "/" + VOCAB_PATH
        self._bundled_files = dict(bundled_files() if bundled is None else bundled)
        self._bundled: dict[str, _Shapes] = {}  # by URL, parsed once
        self._file_bytes: dict[str, bytes] = {}
        # container path -> the shapes document's URL it declares ("": none). A plain dict,
        # not an LruCache: it is read on every write of an RDF document, and forgetting it all
        # when it is full (`_remember`) costs only a look at each container again.
        self._declared: dict[str, str] = {}
        self._stored: LruCache[str, _Shapes] = LruCache(max_entries=256, max_bytes=64 << 20)
        self._generation = 0

    def bundled_file(self, name: str) -> bytes | None:
        """The bytes of the bundled file `name`, or None (read once; a few kilobytes)."""
        data = self._file_bytes.get(name)
        if data is None:
            file = self._bundled_files.get(name)
            if file is None:
                return None
            data = self._file_bytes[name] = file.read_bytes()
        return data

    def url_of(self, name: str) -> str:
        """The URL at which the bundled file `name` is served."""
        return self.vocab_url + name

    def follow(self, event: Event) -> None:
        """A change feed listener: forget what a changed container declares, and a changed
        shapes document."""
        if not isinstance(event, ResourceChanged) or event.change in (Change.ADD, Change.REMOVE):
            return
        if paths.is_container(event.path):
            self._generation += 1
            self._declared.pop(event.path, None)
        self._stored.pop(event.path)

    # --- what a container declares ------------------------------------------------------

    async def declared(self, container: str) -> str | None:
        """The URL of the shapes document `container` declares, or None."""
        found = self._declared.get(container, _MISSING)
        if found is _MISSING:
            found = await self._load(container)
        return found or None

    async def _load(self, container: str) -> str:
        generation = self._generation
        meta = await self.store.head(container)
        shape = ""
        if meta is not None and meta.size > 0:
            own = await self.store.read_graph(container)
            if own is not None:
                shape = _declaration(self.store.url(container), own[1].triples) or ""
        if generation == self._generation:
            if len(self._declared) >= _CONTAINERS:
                self._declared.clear()
            self._declared[container] = shape
        return shape

    # --- checks (store validators) -------------------------------------------------------

    async def validate(self, path: str, triples: list[ox.Triple]) -> None:
        """A store validator: a container's description may declare only a shape the server
        can read; a document in a constrained container must conform to its shape.
        Raises ShapeUnavailable, ShapeViolation, or Conflict (the declared shape is gone)."""
        if path[-1] != "/":  # a document: its container's declaration, one dict look-up
            found = self._declared.get(path[: path.rfind("/") + 1], _MISSING)
            if not found:
                return
            await self._check_document(path, found, triples)
            return
        parent = paths.parent(path)
        shape = _declaration(self.store.url(path), triples)
        if shape is not None:
            await self._shapes(shape, path, declaring=True)
        declared = None if parent is None else await self.declared(parent)
        if declared is not None:
            assert parent is not None
            raise ShapeViolation(
                f"{paths.name_of(parent)} is constrained by a shape: it holds documents "
                "that conform to it, not containers",
                shape=declared,
                violations=(),
            )

    async def _check_document(self, path: str, found: str, triples: list[ox.Triple]) -> None:
        """Check document `path` against the shapes its container declares (`found`: their URL,
        or _MISSING when the container was not looked at yet)."""
        parent = paths.parent(path)
        if parent is None or paths.is_auxiliary(path):
            return  # a document's .acl and .meta are not its members (LDP §5.2.1: containment)
        if found is _MISSING:
            found = await self._load(parent)
            if not found:
                return
        shapes = await self._shapes(found, parent, declaring=False)
        # pyshacl takes milliseconds per document (and building rdflib's graph grows with it):
        # off the event loop.
        violations = await asyncio.to_thread(_check_triples, shapes, triples)
        if violations:
            raise ShapeViolation(
                f"{paths.name_of(path)} does not conform to the shape {found} that "
                f"{paths.name_of(parent)} declares (ldp:constrainedBy): "
                + "; ".join(v.describe() for v in violations),
                shape=found,
                violations=tuple(violations),
            )

    async def check_non_rdf(self, path: str) -> None:
        """Refuse a non-RDF document in a constrained container: it cannot conform."""
        parent = paths.parent(path)
        if parent is None or paths.is_auxiliary(path):
            return
        found = self._declared.get(parent, _MISSING)
        if found is _MISSING:
            found = await self._load(parent)
        if found:
            raise ShapeViolation(
                f"{paths.name_of(parent)} is constrained by the shape {found}: it holds RDF "
                "documents only",
                shape=found,
                violations=(),
            )

    # --- shapes ---------------------------------------------------------------------------

    async def _shapes(self, url: str, container: str, *, declaring: bool) -> _Shapes:
        try:
            return await self._read_shapes(url, container)
        except ShapeUnavailable as exc:
            if declaring:
                raise
            log.warning("container %s declares a shape it cannot use: %s", container, exc)
            raise Conflict(
                f"{paths.name_of(container)} declares the shape {url}, which cannot be used now "
                f"({exc.message}); its owner must fix its ldp:constrainedBy"
            ) from exc

    async def _read_shapes(self, url: str, container: str) -> _Shapes:
        document = url.split("#", 1)[0]
        if document.startswith(self.vocab_url):
            return self._bundled_shapes(document)
        path = self.store.path_of(document)
        storages = self.store.storages
        if path is None or storages.root_of(path) != storages.root_of(container):
            raise ShapeUnavailable(
                f"the shape {url} is neither bundled with this server ({self.vocab_url}...) nor "
                "in the same storage; the server fetches no shapes from elsewhere"
            )
        meta = await self.store.head(path)
        if meta is None:
            raise ShapeUnavailable(f"the shape document {document} does not exist")
        kept = self._stored.get(path)
        if kept is not None and kept.version == meta.version:
            return kept
        try:
            found = await self.store.read_graph(path)
        except (NotFound, PodError) as exc:
            raise ShapeUnavailable(f"the shape document {document} cannot be read: {exc}") from exc
        if found is None:
            raise ShapeUnavailable(f"the shape document {document} does not exist")
        graph = await asyncio.to_thread(_rdflib_graph, found[1].triples)
        shapes = _shapes_of(graph, document, version=found[0].version)
        self._stored.put(path, shapes)
        return shapes

    def _bundled_shapes(self, document: str) -> _Shapes:
        kept = self._bundled.get(document)
        if kept is not None:
            return kept
        file = self._bundled_files.get(document[len(self.vocab_url) :])
        if file is None:
            raise ShapeUnavailable(f"no vocabulary file {document} is bundled with this server")
        graph = rdflib.Graph()
        graph.parse(file, format="turtle", publicID=document)
        shapes = _shapes_of(graph, document, version="")
        self._bundled[document] = shapes
        return shapes


def _declaration(container_url: str, triples: Iterable[ox.Triple]) -> str | None:
    """The shapes a container's description declares (`<> ldp:constrainedBy <shapes>`)."""
    me = ox.NamedNode(container_url)
    found = [
        t.object.value
        for t in triples
        if t.subject == me and t.predicate == _CONSTRAINED_BY and isinstance(t.object, ox.NamedNode)
    ]
    if len(found) > 1:
        raise ShapeUnavailable(
            "a container declares at most one shapes document with ldp:constrainedBy; "
            f"this one names {len(found)}"
        )
    return found[0] if found else None


def _rdflib_graph(triples: Iterable[ox.Triple]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for t in triples:
        graph.add((rdf.to_rdflib(t.subject), rdf.to_rdflib(t.predicate), rdf.to_rdflib(t.object)))
    return graph


def _shapes_of(graph: rdflib.Graph, document: str, *, version: str) -> _Shapes:
    targets = frozenset(
        o
        for s in graph.subjects(RDF_NS.type, SH_NS.NodeShape)
        for o in graph.objects(s, SH_NS.targetClass)
        if isinstance(o, rdflib.URIRef)
    )
    if not targets:
        raise ShapeUnavailable(
            f"{document} has no sh:NodeShape with an sh:targetClass, so no document could "
            "be checked against it"
        )
    return _Shapes(graph, targets, version)


def _check_triples(shapes: _Shapes, triples: list[ox.Triple]) -> list[Violation]:
    if any(isinstance(t.subject, ox.Triple) or isinstance(t.object, ox.Triple) for t in triples):
        # RDF 1.2 quoted triples (`<< s p o >>`): SHACL 1.0 and pyshacl's graphs have none.
        return [
            Violation(
                "",
                "",
                "a quoted triple (<< ... >>, RDF 1.2) cannot be checked "
                "against a shape; state the triple itself",
            )
        ]
    return _check(shapes, _rdflib_graph(triples))


def _check(shapes: _Shapes, data: rdflib.Graph) -> list[Violation]:
    """The violations of `data` against `shapes`, in plain words. A document with no node of a
    target class would conform to any shape (SHACL §2.1.3: no focus node, nothing to check),
    so it is refused too."""
    if not any((None, RDF_NS.type, cls) in data for cls in shapes.target_classes):
        names = ", ".join(sorted(str(c) for c in shapes.target_classes))
        return [Violation("", "", f"the document must describe a node of type {names}")]
    # Imported at first use, in the worker thread: pyshacl and what it loads hold about 9 MB,
    # which a server whose containers declare no shape never needs. Its Validator, not its
    # `validate` entry point: that one sets rdflib's process-wide NORMALIZE_LITERALS to True
    # when it returns, and the N3 Patch parser, in another thread, relies on it staying False
    # (pod.ldp.patch): a patch deleting "01"^^xsd:integer then missed the stored triple.
    from pyshacl import Validator
    from pyshacl.graph_abstraction import DataGraph

    options = {"inference": "none", "abort_on_first": False, "inplace": True, "logger": log}
    validator = Validator(DataGraph.from_rdflib(data), shacl_graph=shapes.graph, options=options)
    conforms, report, _ = validator.run()  # type: ignore[no-untyped-call]
    if conforms:
        return []
    assert isinstance(report, rdflib.Graph)
    violations: list[Violation] = []
    for result in report.subjects(RDF_NS.type, SH_NS.ValidationResult):
        focus = report.value(result, SH_NS.focusNode)
        path = report.value(result, SH_NS.resultPath)
        value = report.value(result, SH_NS.value)
        message = report.value(result, SH_NS.resultMessage)
        text = str(message) if message is not None else "does not conform"
        if value is not None:
            text += f" (found {value.n3()})"
        violations.append(
            Violation("" if focus is None else str(focus), "" if path is None else str(path), text)
        )
    violations.sort(key=lambda v: (v.focus, v.path, v.message))
    return violations[:_MAX_VIOLATIONS]


_BUNDLED_SHAPES: dict[str, _Shapes] = {}  # by file name; filled on first use, never changed


def check_bundled(name: str, triples: list[ox.Triple]) -> list[Violation]:
    """The violations of `triples` against the bundled shapes file `name` (parsed on first use),
    in plain words, at most 50; a document with no node of a target class is refused too.
    Runs pyshacl, which takes milliseconds: call it off the event loop.
    Raises ShapeUnavailable when no such file is bundled."""
    shapes = _BUNDLED_SHAPES.get(name)
    if shapes is None:
        file = bundled_files().get(name)
        if file is None:
            raise ShapeUnavailable(f"no vocabulary file {name} is bundled with this server")
        graph = rdflib.Graph()
        graph.parse(file, format="turtle", publicID=file.as_uri())
        # Two threads may both parse it the first time; either result is the same.
        shapes = _BUNDLED_SHAPES[name] = _shapes_of(graph, file.as_uri(), version="")
    return _check(shapes, _rdflib_graph(triples))
