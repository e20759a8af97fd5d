"""What the server says about containers itself: containment, the metadata of each child, and
the container triples a client may not write.

Solid Protocol https://solidproject.org/TR/protocol#server-contained-resource-metadata and
#server-protect-containment; the types are LDP's (https://www.w3.org/TR/ldp/#ldpbc).
"""

from __future__ import annotations

import functools
import hashlib
import time
from typing import Final

import pyoxigraph as ox

from pod import paths
from pod.errors import Conflict
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
_MANAGED_TRIPLE_BYTES: Final = TRIPLE_BYTES + 100  # ... and with its predicate and object
_SHOWN_MAX: Final = 300  # characters of a refused triple an error message repeats


def managed_triples(
    base: str, meta: Metadata, children: list[Metadata], *, is_storage: bool
) -> tuple[list[ox.Triple], int]:
    """The triples the server manages for container `meta` at URL `base` holding `children`,
    and an estimate of the memory they hold in bytes.

    The container's own triples come first, then each child's, so that the serializers can
    group subjects without sorting.
    """
    me = ox.NamedNode(base)
    head = [ox.Triple(me, _TYPE, t) for t in _CONTAINER_TYPES]
    if is_storage:
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
