"""What the server says about containers itself: containment, the metadata of each child, and
the container triples a client may not write.

Solid Protocol https://solidproject.org/TR/protocol#server-contained-resource-metadata and
#server-protect-containment; the types are LDP's (https://www.w3.org/TR/ldp/#ldpbc).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, final

import pyoxigraph as ox

from pod import paths
from pod.errors import Conflict
from pod.ldp import rdf
from pod.model import Metadata
from pod.vocab import DCTERMS, LDP, PIM, RDF, STAT, XSD, media_type_class

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
TRIPLE_BYTES: Final = 240  # a pyoxigraph triple beside the text of its terms (measured)
_MANAGED_IRIS: Final = frozenset(
    t.value for t in (_TYPE, _MODIFIED, _MTIME, _DATETIME, _INTEGER, *_CONTAINER_TYPES)
)  # what every listing uses
_PREFIXED: Final = (rdf.TURTLE, rdf.TRIG, rdf.N3)  # the formats that declare prefixes
_SHOWN_MAX: Final = 300  # characters of a refused triple an error message repeats


# A child of a kept listing, compact (about 200 bytes beside its name): its URL relative to the
# container's (a quoted name, with "/" for a container), the class of its media type (one shared
# string per type; None for a container), its size in bytes and its modification time.
Child = tuple[str, str | None, int, float]
_CHILD_BYTES: Final = 200
# Children whose triples are built and serialized at once (`Listing.parts`): a listing larger
# than this is written part by part, so a container of 10,000 children never holds its 60,000
# triples at once.
PART_CHILDREN: Final = 1000


@final
@dataclass(frozen=True, slots=True)
class Listing:
    """What a container's listing says, kept compact: its own description and the metadata of
    each child. The triples (about 1 KB each as pyoxigraph objects, six per child) are made only
    to serialize the listing afresh, part by part (`parts`), or for a patch (`triples`)."""

    url: str
    modified: float
    is_storage: bool
    own: rdf.Graph  # the triples the container's own description holds (a PUT's or PATCH's)
    children: tuple[Child, ...]  # ordered by path

    @classmethod
    def of(
        cls, url: str, meta: Metadata, own: rdf.Graph, children: list[Metadata], *, is_storage: bool
    ) -> Listing:
        """The listing of container `meta` at `url` holding `children` (ordered by path)."""
        return cls(url, meta.modified, is_storage, own, tuple(_child(c) for c in children))

    @property
    def size(self) -> int:
        """An estimate of the memory the listing holds, in bytes."""
        own = sum(TRIPLE_BYTES + len(str(t)) for t in self.own.triples)
        own += sum(len(k) + len(v) for k, v in self.own.prefixes.items())
        return own + sum(_CHILD_BYTES + len(c[0]) for c in self.children) + len(self.url)

    @property
    def triple_count(self) -> int:
        head = len(_CONTAINER_TYPES) + 2 + (1 if self.is_storage else 0)
        # a child's ldp:contains, its types (three, or two for a document and its size) and times
        return len(self.own.triples) + head + 6 * len(self.children)

    def triples(self) -> list[ox.Triple]:
        """Every triple of the listing: the container's own, then the managed ones."""
        return [t for part in self.parts() for t in part]

    def parts(self, children: int = PART_CHILDREN) -> Iterator[list[ox.Triple]]:
        """The triples in parts of whole subjects, each made when asked for: the container's
        own triples with its types and times, then for every `children` children their
        `ldp:contains` and their own triples (Solid Protocol
        https://solidproject.org/TR/protocol#server-contained-resource-metadata)."""
        me = ox.NamedNode(self.url)
        head = [*self.own.triples, *(ox.Triple(me, _TYPE, t) for t in _CONTAINER_TYPES)]
        if self.is_storage:
            head.append(ox.Triple(me, _TYPE, _STORAGE))
        head += _time_triples(me, self.modified)
        yield head
        for start in range(0, len(self.children), children):
            chunk = self.children[start : start + children]
            nodes = [ox.NamedNode(self.url + c[0]) for c in chunk]
            part = [ox.Triple(me, _CONTAINS, node) for node in nodes]
            for node, (_, media_class, size, modified) in zip(nodes, chunk, strict=True):
                if media_class is None:
                    part += [ox.Triple(node, _TYPE, t) for t in _CONTAINER_TYPES]
                else:
                    part.append(ox.Triple(node, _TYPE, _RESOURCE))
                    part.append(ox.Triple(node, _TYPE, _named(media_class)))
                    part.append(ox.Triple(node, _SIZE, ox.Literal(str(size), datatype=_INTEGER)))
                part += _time_triples(node, modified)
            yield part

    def iris(self) -> set[str]:
        """Every IRI the listing's triples use, to choose its prefixes without making them."""
        found = rdf.iris_of(self.own.triples) if self.own.triples else set()
        found |= _MANAGED_IRIS
        found.add(self.url)
        if self.is_storage:
            found.add(_STORAGE.value)
        if self.children:
            found.add(_CONTAINS.value)
        for name, media_class, _, _ in self.children:
            found.add(self.url + name)
            if media_class is not None:
                found.add(media_class)
                found.add(_RESOURCE.value)
                found.add(_SIZE.value)
        return found

    def serialize(self, media: str) -> bytes:
        """The listing as `media`. A large one is written part by part; RDF/XML and compacted
        JSON-LD (a listing of at most `rdf.JSONLD_COMPACT_MAX_TRIPLES` triples) whole."""
        whole = len(self.children) <= PART_CHILDREN or media == rdf.RDF_XML
        if whole or (media == rdf.JSON_LD and self.triple_count <= rdf.JSONLD_COMPACT_MAX_TRIPLES):
            return rdf.serialize(self.triples(), media, prefixes=self.own.prefixes, grouped=True)
        prefixes = {}
        if media in _PREFIXED:
            prefixes = rdf.prefixes_for(self.iris(), self.own.prefixes)
        return rdf.serialize_parts(self.parts(), media, prefixes=prefixes)


def _child(meta: Metadata) -> Child:
    name = paths.quote_name(paths.name_of(meta.path))
    if meta.is_container:
        return (name + "/", None, 0, meta.modified)
    return (name, _media_class(meta.content_type), meta.size, meta.modified)


def listing_etag(meta: Metadata, children: list[Metadata]) -> str:
    """A listing's version: it changes with the container's own and with any child's."""
    digest = hashlib.blake2b(meta.version.encode(), digest_size=10)
    for c in children:
        digest.update(f"\0{c.path}\0{c.version}\0{c.modified}\0{c.size}\0{c.content_type}".encode())
    return digest.hexdigest()


def check_container_triples(url: str, triples: list[ox.Triple]) -> None:
    """Refuse, naming it, a triple of the description of the container at `url` that the
    server manages."""
    me = ox.NamedNode(url)
    for t in triples:
        subject = t.subject.value if isinstance(t.subject, ox.NamedNode) else ""
        if t.predicate == _CONTAINS:
            managed = "ldp:contains triples are"
        elif t.subject == me and t.predicate == _TYPE and t.object in _MANAGED_TYPES:
            managed = "the container's LDP and storage types are"
        elif t.subject == me and t.predicate in _MANAGED_PREDICATES:
            managed = "the container's modification time and size are"
        elif subject.startswith(url) and subject != url and "#" not in subject:
            managed = "metadata of contained resources is"
        else:
            continue
        raise Conflict(f"{managed} managed by the server; refused {_shown(t)}")


def _shown(triple: ox.Triple) -> str:
    """A triple for an error message, cut short: it echoes what the client sent."""
    text = str(triple)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."


@functools.lru_cache(maxsize=256)
def _media_class(content_type: str) -> str:
    """The IRI of a media type's class: one string shared by every child of that type."""
    return str(media_type_class(content_type))


@functools.lru_cache(maxsize=256)
def _named(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _time_triples(node: ox.NamedNode, modified: float) -> list[ox.Triple]:
    seconds = int(modified)
    millis = int((modified - seconds) * 1000)
    stamp = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z"
    return [
        ox.Triple(node, _MODIFIED, ox.Literal(stamp, datatype=_DATETIME)),
        ox.Triple(node, _MTIME, ox.Literal(str(int(modified)), datatype=_INTEGER)),
    ]
