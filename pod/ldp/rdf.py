"""RDF parsing and serialization for every format Kluis speaks. Imports errors, vocab.

pyoxigraph does the work (PERF.md: 30-160x faster than rdflib); PyLD handles JSON-LD, with a
document loader that only serves the contexts bundled in `pod/contexts/`, so parsing a client's
JSON-LD never makes the server fetch a URL (SPEC.md §13).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import pyoxigraph as ox
from pyld import jsonld

from pod.errors import InvalidRdf, UnsupportedMediaType
from pod.vocab import COMMON_PREFIXES

TURTLE: Final = "text/turtle"
JSON_LD: Final = "application/ld+json"
N_TRIPLES: Final = "application/n-triples"
RDF_XML: Final = "application/rdf+xml"
N3: Final = "text/n3"

# Output formats in server preference order (Turtle first: it is what we store).
RDF_TYPES: Final = (TURTLE, JSON_LD, N_TRIPLES, RDF_XML, N3)
_OX_FORMATS: Final = {
    TURTLE: ox.RdfFormat.TURTLE,
    N_TRIPLES: ox.RdfFormat.N_TRIPLES,
    RDF_XML: ox.RdfFormat.RDF_XML,
    N3: ox.RdfFormat.N3,
}
# Accepted on input under these names as well.
_ALIASES: Final = {"application/x-turtle": TURTLE, "text/rdf+n3": N3, "application/n3": N3}
_PREFIX_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_\-.]*[A-Za-z0-9_\-])?$|^[A-Za-z]$")
_XML_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def canonical_type(content_type: str) -> str:
    """Lower-case media type without parameters, with aliases resolved."""
    base = content_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def is_rdf_type(content_type: str) -> bool:
    return canonical_type(content_type) in RDF_TYPES


@dataclass(slots=True)
class Graph:
    """A parsed RDF document: its triples and the prefixes it declared."""

    triples: list[ox.Triple]
    prefixes: dict[str, str] = field(default_factory=dict)


def parse(data: bytes, content_type: str, *, base: str) -> Graph:
    """Parse an RDF document; relative IRIs resolve against `base`.

    Raises UnsupportedMediaType for a non-RDF type and InvalidRdf with the parser's message.
    """
    media = canonical_type(content_type)
    if media == JSON_LD:
        return _parse_jsonld(data, base)
    fmt = _OX_FORMATS.get(media)
    if fmt is None:
        raise UnsupportedMediaType(f"{media} is not an RDF format", accepted=RDF_TYPES)
    if media == RDF_XML and _XML_DTD.search(data):
        # No DTDs at all: entity expansion is the road to "billion laughs" and XXE.
        raise InvalidRdf("RDF/XML with a DOCTYPE or ENTITY declaration is not accepted")
    try:
        parser = ox.parse(data, fmt, base_iri=base, without_named_graphs=True)
        triples = [quad.triple for quad in parser]
    except SyntaxError as exc:
        raise InvalidRdf(f"invalid {_label(media)}: {exc.msg}") from exc
    except ValueError as exc:
        raise InvalidRdf(f"invalid {_label(media)}: {exc}") from exc
    return Graph(triples, dict(parser.prefixes))


def _label(media: str) -> str:
    return {TURTLE: "Turtle", N_TRIPLES: "N-Triples", RDF_XML: "RDF/XML", N3: "N3"}.get(
        media, media
    )


def _parse_jsonld(data: bytes, base: str) -> Graph:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRdf(f"invalid JSON-LD: not JSON: {exc}") from exc
    try:
        nquads = jsonld.to_rdf(
            document,
            {"base": base, "format": "application/n-quads", "documentLoader": load_context},
        )
    except jsonld.JsonLdError as exc:
        raise InvalidRdf(f"invalid JSON-LD: {_jsonld_message(exc)}") from exc
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise InvalidRdf(f"invalid JSON-LD: {exc}") from exc
    try:
        quads = list(ox.parse(nquads.encode(), ox.RdfFormat.N_QUADS))
    except SyntaxError as exc:
        raise InvalidRdf(f"invalid JSON-LD: produced invalid RDF: {exc.msg}") from exc
    if any(not isinstance(q.graph_name, ox.DefaultGraph) for q in quads):
        raise InvalidRdf("invalid JSON-LD: named graphs are not supported in a Solid resource")
    prefixes = _context_prefixes(document)
    return Graph([q.triple for q in quads], prefixes)


def _jsonld_message(exc: Any) -> str:
    parts = [str(getattr(exc, "message", "") or exc)]
    cause = getattr(exc, "cause", None)
    while cause is not None and len(parts) < 4:
        parts.append(str(getattr(cause, "message", "") or cause))
        cause = getattr(cause, "cause", None)
    return ": ".join(p for p in parts if p)


def _context_prefixes(document: Any) -> dict[str, str]:
    """Prefix-like entries (`"foaf": "http://..."`) of a JSON-LD document's inline context."""
    ctx = document.get("@context") if isinstance(document, dict) else None
    found: dict[str, str] = {}
    for item in ctx if isinstance(ctx, list) else [ctx]:
        if isinstance(item, dict):
            for key, value in item.items():
                if (
                    isinstance(value, str)
                    and not key.startswith("@")
                    and value.endswith(("/", "#"))
                    and _PREFIX_NAME.match(key)
                ):
                    found[key] = value
    return found


# --- serialization ------------------------------------------------------------------------


def serialize(
    triples: Iterable[ox.Triple], content_type: str, *, prefixes: dict[str, str] | None = None
) -> bytes:
    """Serialize triples as `content_type`, using those of `prefixes` (and common ones) that fit."""
    media = canonical_type(content_type)
    triples = list(triples)
    chosen = used_prefixes(triples, prefixes or {})
    if media == JSON_LD:
        return _serialize_jsonld(triples, chosen)
    fmt = _OX_FORMATS.get(media)
    if fmt is None:
        raise UnsupportedMediaType(f"cannot serialize RDF as {media}", accepted=RDF_TYPES)
    if media == N_TRIPLES:
        return _bytes(ox.serialize(triples, format=fmt))
    return _bytes(ox.serialize(_sorted(triples), format=fmt, prefixes=chosen))


def _bytes(out: bytes | None) -> bytes:
    assert out is not None  # serialize() returns bytes when no output file is given
    return out


def _sorted(triples: list[ox.Triple]) -> list[ox.Triple]:
    # Grouping a subject's triples lets the serializers write `;` lists instead of repeating it.
    return sorted(triples, key=lambda t: (str(t.subject), str(t.predicate)))


def used_prefixes(triples: list[ox.Triple], preferred: dict[str, str]) -> dict[str, str]:
    """Prefixes from `preferred`, then COMMON_PREFIXES, whose namespace some IRI here uses."""
    iris: set[str] = set()
    for t in triples:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal):
                iris.add(term.datatype.value)
    namespaces = {iri[: max(iri.rfind("#"), iri.rfind("/")) + 1] for iri in iris}
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for source in (preferred, COMMON_PREFIXES):
        for name, namespace in source.items():
            if name in chosen or namespace in taken or not _PREFIX_NAME.match(name):
                continue
            if namespace in namespaces or any(iri.startswith(namespace) for iri in iris):
                chosen[name] = namespace
                taken.add(namespace)
    return chosen


def _serialize_jsonld(triples: list[ox.Triple], prefixes: dict[str, str]) -> bytes:
    expanded = json.loads(_bytes(ox.serialize(_sorted(triples), format=ox.RdfFormat.JSON_LD)))
    if not prefixes:
        return json.dumps(expanded).encode()
    compacted = jsonld.compact(expanded, {"@context": prefixes}, {"documentLoader": load_context})
    return json.dumps(compacted).encode()


# --- bundled JSON-LD contexts --------------------------------------------------------------

_CONTEXT_FILES: Final = {
    "https://www.w3.org/ns/solid/oidc-context.jsonld": "solid-oidc.jsonld",
    "https://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    "https://www.w3.org/ns/solid/notification/v1": "notification-v1.jsonld",
}
_context_cache: dict[str, Any] = {}


def load_context(url: str, options: Any = None) -> dict[str, Any]:
    """PyLD document loader: bundled contexts only; anything else is refused, never fetched."""
    key = url.rstrip("#").replace("http://", "https://", 1)
    if key.endswith("/") and key[:-1] in _CONTEXT_FILES:
        key = key[:-1]
    name = _CONTEXT_FILES.get(key)
    if name is None:
        raise jsonld.JsonLdError(
            f"remote context {url} is not loaded by this server; inline the context instead",
            "jsonld.LoadDocumentError",
            code="loading remote context failed",
        )
    document = _context_cache.get(name)
    if document is None:
        text = resources.files("pod").joinpath("contexts", name).read_text("utf-8")
        document = json.loads(text)
        _context_cache[name] = document
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": document,
    }
