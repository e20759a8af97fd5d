"""RDF parsing and serialization for every format Kluis speaks. Imports errors, vocab.

pyoxigraph does the work (measured 30-160x faster than rdflib), JSON-LD input included: it keeps
literals exactly as written, where PyLD rewrites typed values such as doubles. The contexts
bundled in `pod/contexts/` are inlined before parsing and any other remote context is refused,
so parsing a client's JSON-LD never makes the server fetch a URL. PyLD compacts
JSON-LD output, with a document loader that serves only the bundled contexts.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final
from urllib.parse import urlsplit
from xml.parsers import expat

import pyoxigraph as ox
import rdflib
from pyld import jsonld

from pod.cache import memoize_short
from pod.errors import InvalidRdf, NotAcceptable, UnsupportedMediaType
from pod.vocab import COMMON_PREFIXES, RDF, XSD

TURTLE: Final = "text/turtle"
JSON_LD: Final = "application/ld+json"
N_TRIPLES: Final = "application/n-triples"
RDF_XML: Final = "application/rdf+xml"
N3: Final = "text/n3"
# Dataset formats, read and written with the default graph only, as CSS does: a Solid resource
# is one graph. A named graph in the input is refused (400) rather than silently dropped.
N_QUADS: Final = "application/n-quads"
TRIG: Final = "application/trig"

# Output formats in server preference order (Turtle first: it is what we store).
RDF_TYPES: Final = (TURTLE, JSON_LD, N_TRIPLES, RDF_XML, N3, N_QUADS, TRIG)
_OX_FORMATS: Final = {
    TURTLE: ox.RdfFormat.TURTLE,
    N_TRIPLES: ox.RdfFormat.N_TRIPLES,
    RDF_XML: ox.RdfFormat.RDF_XML,
    N3: ox.RdfFormat.N3,
    N_QUADS: ox.RdfFormat.N_QUADS,
    TRIG: ox.RdfFormat.TRIG,
}
_LABELS: Final = {
    TURTLE: "Turtle",
    N_TRIPLES: "N-Triples",
    RDF_XML: "RDF/XML",
    N3: "N3",
    N_QUADS: "N-Quads",
    TRIG: "TriG",
}
# Accepted on input under these names as well.
_ALIASES: Final = {"application/x-turtle": TURTLE, "text/rdf+n3": N3, "application/n3": N3}
_PREFIX_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_\-.]*[A-Za-z0-9_\-])?$|^[A-Za-z]$")
_XML_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


# Memos over Content-Type headers up to 256 characters (pod.cache.memoize_short): 512 entries
# of at most 256 characters (and the answer) each, about 300 KB.
_MEMO_MAX_LENGTH: Final = 256


@memoize_short(maxsize=512, max_length=_MEMO_MAX_LENGTH)
def canonical_type(content_type: str) -> str:
    """Lower-case media type without parameters, with aliases resolved."""
    base = content_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


@memoize_short(maxsize=512, max_length=_MEMO_MAX_LENGTH)
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
    if media == RDF_XML:
        _check_xml(data)
    try:
        parser = ox.parse(data, fmt, base_iri=base, without_named_graphs=True)
        triples = [quad.triple for quad in parser]
    except SyntaxError as exc:
        message = exc.msg
        if message == "Named graphs are not allowed":
            message = "named graphs are not supported: a Solid resource holds one graph"
        raise InvalidRdf(f"invalid {_label(media)}: {message}") from exc
    except ValueError as exc:
        raise InvalidRdf(f"invalid {_label(media)}: {exc}") from exc
    return Graph(triples, dict(parser.prefixes))


class _DtdFound(Exception):
    """Raised from expat's handler to stop at the first DOCTYPE."""


def _refuse_dtd(*_: object) -> None:
    raise _DtdFound


def _check_xml(data: bytes) -> None:
    """Refuse RDF/XML that is not well-formed XML, or that has a DTD.

    pyoxigraph's RDF/XML reader does not check well-formedness: a document cut short
    (`<rdf:RDF ...><rdf:Description rdf:about="#a">`, no end tags) reads as an empty or partial
    graph. expat checks the whole document first (one root element, every element closed:
    https://www.w3.org/TR/xml/#sec-well-formed). No DTDs at all: entity expansion is the road
    to "billion laughs" and XXE; expat reports a DOCTYPE in any encoding (UTF-16 too), before
    it reads the declarations inside. expat fetches no external entity unless asked, and is
    never asked here.
    """
    if _XML_DTD.search(data):  # also names a lower-case `<!doctype`, which XML does not allow
        raise InvalidRdf("RDF/XML with a DOCTYPE or ENTITY declaration is not accepted")
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    try:
        parser.Parse(data, True)
    except _DtdFound:
        raise InvalidRdf("RDF/XML with a DOCTYPE or ENTITY declaration is not accepted") from None
    except expat.ExpatError as exc:
        raise InvalidRdf(f"invalid RDF/XML: not well-formed XML: {exc}") from exc


def _label(media: str) -> str:
    return _LABELS.get(media, media)


def _parse_jsonld(data: bytes, base: str) -> Graph:
    """JSON-LD through pyoxigraph (spec-exact literals), with bundled contexts inlined first.

    pyoxigraph refuses any context left remote, so nothing is ever fetched.
    """
    try:
        document = json.loads(data)
    except RecursionError as exc:
        raise InvalidRdf("invalid JSON-LD: nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRdf(f"invalid JSON-LD: not JSON: {exc}") from exc
    try:
        inlined = _inline_contexts(document, depth=0)
        text = json.dumps(inlined)
    except RecursionError as exc:
        raise InvalidRdf("invalid JSON-LD: nested too deeply") from exc
    try:
        parser = ox.parse(text.encode(), ox.RdfFormat.JSON_LD, base_iri=base)
        quads = list(parser)
    except SyntaxError as exc:
        message = str(exc.msg)
        if "remote context" in message:
            message = (
                "it uses a remote @context this server does not load; inline the context "
                f"(bundled: {', '.join(_CONTEXT_FILES)})"
            )
        raise InvalidRdf(f"invalid JSON-LD: {message}") from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidRdf(f"invalid JSON-LD: {exc}") from exc
    if any(not isinstance(q.graph_name, ox.DefaultGraph) for q in quads):
        raise InvalidRdf("invalid JSON-LD: named graphs are not supported in a Solid resource")
    prefixes = _context_prefixes(document)
    return Graph([q.triple for q in quads], prefixes)


_MAX_JSON_DEPTH: Final = 64


def _inline_contexts(node: Any, *, depth: int) -> Any:
    """A copy of a JSON-LD document with bundled context URLs replaced by their content."""
    if depth > _MAX_JSON_DEPTH:
        raise InvalidRdf(f"invalid JSON-LD: nested deeper than {_MAX_JSON_DEPTH} levels")
    if isinstance(node, list):
        return [_inline_contexts(item, depth=depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "@context":
            out[key] = _inline_context_value(value)
        else:
            out[key] = _inline_contexts(value, depth=depth + 1)
    return out


def _inline_context_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_inline_context_value(v) for v in value]
    if isinstance(value, str):
        bundled = bundled_context(value)
        return value if bundled is None else bundled.get("@context", bundled)
    return value


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
    triples: Iterable[ox.Triple],
    content_type: str,
    *,
    prefixes: dict[str, str] | None = None,
    grouped: bool = False,
) -> bytes:
    """Serialize triples as `content_type`, using those of `prefixes` (and common ones) that fit.

    `grouped`: the triples already come subject by subject, so they need no sorting.
    """
    media = canonical_type(content_type)
    triples = list(triples)
    # Prefixes are chosen only for the formats that write them (not N-Triples, N-Quads, or the
    # expanded JSON-LD of a large graph).
    if media == JSON_LD:
        ordered = triples if grouped else _sorted(triples)
        if len(triples) > JSONLD_COMPACT_MAX_TRIPLES:
            return _bytes(ox.serialize(ordered, format=ox.RdfFormat.JSON_LD))
        return _serialize_jsonld(ordered, used_prefixes(triples, prefixes or {}))
    fmt = _OX_FORMATS.get(media)
    if fmt is None:
        raise UnsupportedMediaType(f"cannot serialize RDF as {media}", accepted=RDF_TYPES)
    if media in (N_TRIPLES, N_QUADS):
        return _bytes(ox.serialize(triples, format=fmt))
    ordered = triples if grouped else _sorted(triples)
    chosen = used_prefixes(triples, prefixes or {})
    if media == RDF_XML:
        return _serialize_xml(ordered, chosen)
    return _bytes(ox.serialize(ordered, format=fmt, prefixes=chosen))


def serialize_parts(
    parts: Iterable[list[ox.Triple]], content_type: str, *, prefixes: dict[str, str]
) -> bytes:
    """Serialize a graph given in parts, one part at a time, so that only one part's triples
    are held at once (a listing of 10,000 children is 60,000 triples, about 60 MB as pyoxigraph
    objects). Each part holds whole subjects, grouped; `prefixes` are the ones to declare,
    already chosen for the whole graph (`prefixes_for`).

    Turtle, TriG and N3 declare the prefixes once, before the first part: a subject written in
    two parts comes out as two statements, which say the same. N-Triples and N-Quads simply
    follow each other; JSON-LD is expanded (as `serialize` writes a large graph), each part's
    nodes in one array. RDF/XML is not written in parts: ask `serialize`.
    """
    media = canonical_type(content_type)
    if media == RDF_XML or (media != JSON_LD and media not in _OX_FORMATS):
        raise UnsupportedMediaType(f"cannot serialize RDF in parts as {media}", accepted=RDF_TYPES)
    out: list[bytes] = []
    for part in parts:
        if not part:
            continue
        if media == JSON_LD:
            text = _bytes(ox.serialize(part, format=ox.RdfFormat.JSON_LD))
            out.append(text[1:-1])  # the nodes, without the array around them
        elif media in (N_TRIPLES, N_QUADS):
            out.append(_bytes(ox.serialize(part, format=_OX_FORMATS[media])))
        else:
            text = _bytes(ox.serialize(part, format=_OX_FORMATS[media], prefixes=prefixes))
            out.append(text if not out else _without_prefix_lines(text))
    if media == JSON_LD:
        return b"[" + b",".join(out) + b"]"
    return b"".join(out)


def _without_prefix_lines(text: bytes) -> bytes:
    """Turtle-like text without the `@prefix` lines pyoxigraph writes first."""
    start = 0
    while text.startswith(b"@prefix ", start):
        start = text.index(b"\n", start) + 1
    return text[start:]


# The documents the server writes itself name its resources with relative IRIs, so a data
# directory moved to another scheme, host or port (a new domain, a TLS proxy in front) keeps them
# meaning the same resources. pyoxigraph writes relative IRIs against a `base_iri`, but for any IRI
# that shares the base's scheme, other hosts included (`<//xmlns.com/foaf/0.1/>`), which a move
# from http to https would change. So our own IRIs are first moved to a scheme of their own that
# nothing else uses; only they then come out relative, as `<#me>`, `<card>` or `</alice/inbox/>`
# (RFC 3986 §4.2).
_HERE: Final = "x-kluis-here:"


def serialize_stored(
    triples: list[ox.Triple], *, document: str, server: str, prefixes: dict[str, str] | None = None
) -> bytes:
    """Turtle for storing document `document`: IRIs under `server` (the base URL, ending in `/`)
    are written relative to the document, every other IRI in full.

    Read back with `parse(..., base=<the document's URL>)`, the same triples come out, with the
    document's URL then (a server moved elsewhere) in place of `document`.
    """
    own = prefixes or {}
    if not triples:
        return b""  # pyoxigraph writes nothing, not even `@base`, for an empty graph
    origin = len(server) - len(urlsplit(server).path)  # the length of `scheme://host:port`
    moved_nodes: dict[Any, Any] = {}  # a document repeats its subjects and predicates

    def here(term: Any) -> Any:
        found = moved_nodes.get(term)
        if found is None:
            found = term
            if type(term) is ox.NamedNode:
                value = term.value
                if value.startswith(server):
                    found = ox.NamedNode(_HERE + value[origin:])
                elif value.startswith(_HERE):
                    raise _Unmovable
            elif type(term) is ox.Literal and term.datatype.value.startswith(_HERE):
                raise _Unmovable
            moved_nodes[term] = found
        return found

    try:
        moved = [ox.Triple(here(t.subject), here(t.predicate), here(t.object)) for t in triples]
    except _Unmovable:  # cannot happen by accident: stay exact, in absolute IRIs
        return serialize(triples, TURTLE, prefixes=own)
    chosen = {
        name: _HERE + iri[origin:] if iri.startswith(server) else iri
        for name, iri in used_prefixes(triples, own).items()
    }
    base = _HERE + document[origin:]
    out = _bytes(
        ox.serialize(_sorted(moved), format=ox.RdfFormat.TURTLE, prefixes=chosen, base_iri=base)
    )
    # Drop the `@base` line pyoxigraph writes first: without it, the relative IRIs resolve against
    # wherever the document is read from (RFC 3986 §5.1.3).
    head = f"@base <{base}> .\n".encode()
    if not out.startswith(head) or _HERE.encode() in out[len(head) :]:
        # A literal holding the placeholder's text, or pyoxigraph writing in a form not
        # expected: absolute IRIs are always right.
        return serialize(triples, TURTLE, prefixes=own)
    return out[len(head) :]


class _Unmovable(Exception):
    """An IRI already uses the placeholder scheme (see serialize_stored)."""


def _serialize_xml(ordered: list[ox.Triple], prefixes: dict[str, str]) -> bytes:
    _check_xml_representable(ordered)
    reordered = _typed_nodes_named(ordered)
    if reordered is None:
        out = _rdflib_xml(ordered, prefixes)
    else:
        out = _bytes(ox.serialize(reordered, format=ox.RdfFormat.RDF_XML, prefixes=prefixes))
    # A raw CR reads back as LF in XML (end-of-line handling): write it as a reference.
    # It can only occur in text and attribute values, where the reference means the same.
    return out.replace(b"\r", b"&#13;")


_XML_NAME_END = re.compile(r"[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*$")
_RDF_TYPE: Final = ox.NamedNode(str(RDF.type))
_NOT_XML: Final = [t for t in RDF_TYPES if t != RDF_XML]
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _check_xml_representable(triples: list[ox.Triple]) -> None:
    """RDF/XML cannot write every graph: predicates need an XML local name, and XML 1.0 has no
    way to carry most control characters. Refuse rather than send XML other parsers reject."""
    for t in triples:
        if not _XML_NAME_END.search(t.predicate.value):
            raise NotAcceptable(
                f"the predicate <{t.predicate.value}> cannot be written in RDF/XML; "
                "ask for Turtle or JSON-LD",
                available=_NOT_XML,
            )
        for term in (t.subject, t.object):
            if not isinstance(term, ox.Triple) and _XML_FORBIDDEN.search(term.value):
                raise NotAcceptable(
                    "a value holds characters RDF/XML cannot carry; ask for Turtle or JSON-LD",
                    available=_NOT_XML,
                )


def _typed_nodes_named(ordered: list[ox.Triple]) -> list[ox.Triple] | None:
    """pyoxigraph writes a subject whose first triple is `rdf:type <T>` as a typed node `<T>`,
    even when T has no XML local name (`<ex:>`, malformed XML). Lead such a subject with another
    triple, which makes the writer use `rdf:Description` and `rdf:type rdf:resource` instead.
    None when some subject has nothing else to lead with."""
    out: list[ox.Triple] = []
    for _, run in itertools.groupby(ordered, key=lambda t: t.subject):
        group = list(run)
        if _unnamed_type(group[0]):
            lead = next((i for i, t in enumerate(group) if not _unnamed_type(t)), None)
            if lead is None:
                return None
            group.insert(0, group.pop(lead))
        out.extend(group)
    return out


def _unnamed_type(t: ox.Triple) -> bool:
    return (
        t.predicate == _RDF_TYPE
        and isinstance(t.object, ox.NamedNode)
        and not _XML_NAME_END.search(t.object.value)
    )


def _rdflib_xml(triples: list[ox.Triple], prefixes: dict[str, str]) -> bytes:
    # rdflib's plain RDF/XML writer always uses rdf:Description. Several times slower than
    # pyoxigraph's, so it is kept for the rare graph pyoxigraph would write wrongly.
    graph = rdflib.Graph(bind_namespaces="none")
    for prefix, namespace in prefixes.items():
        graph.bind(prefix, namespace)
    for t in triples:
        graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    return graph.serialize(format="xml", encoding="utf-8")


_XSD_STRING: Final = str(XSD.string)


def to_rdflib(term: Any) -> rdflib.term.Node:
    """An rdflib term for a pyoxigraph one (rdflib has the N3 and SPARQL machinery we reuse)."""
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    datatype = term.datatype.value
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    if datatype == _XSD_STRING:
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(datatype), normalize=False)


def _bytes(out: bytes | None) -> bytes:
    assert out is not None  # serialize() returns bytes when no output file is given
    return out


def _sorted(triples: list[ox.Triple]) -> list[ox.Triple]:
    # Grouping a subject's triples lets the serializers write `;` lists instead of repeating it.
    return sorted(triples, key=_subject_predicate)


def _subject_predicate(t: ox.Triple) -> tuple[str, str]:
    subject = t.subject
    key = subject.value if not isinstance(subject, ox.Triple) else str(subject)
    return (key, t.predicate.value)


def used_prefixes(triples: list[ox.Triple], preferred: dict[str, str]) -> dict[str, str]:
    """Prefixes from `preferred`, then COMMON_PREFIXES, whose namespace some IRI here uses."""
    return prefixes_for(iris_of(triples), preferred)


def prefixes_for(iris: set[str], preferred: dict[str, str]) -> dict[str, str]:
    """Prefixes from `preferred`, then COMMON_PREFIXES, whose namespace one of `iris` uses."""
    cuts = _cuts({iri[: max(iri.rfind("#"), iri.rfind("/")) + 1] for iri in iris})
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for source in (preferred, COMMON_PREFIXES):
        for name, namespace in source.items():
            if name in chosen or namespace in taken or not _PREFIX_NAME.match(name):
                continue
            if _is_used(namespace, cuts, iris):
                chosen[name] = namespace
                taken.add(namespace)
    return chosen


# In N-Triples (https://www.w3.org/TR/n-triples/#grammar-production-IRIREF): a literal, whose
# text is skipped whole (an IRI in it is only text), with its datatype or language; or an IRI.
_NT_TERM: Final = re.compile(r'"(?:[^"\\]|\\.)*"(?:\^\^<([^<>"\s]*)>|(@))?|<([^<>"\s]*)>')
_LANG_STRING: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def iris_of(triples: list[ox.Triple]) -> set[str]:
    """Every IRI the triples use, literals' datatypes included. Read off pyoxigraph's N-Triples
    with one regular expression: walking the terms in Python made a new object per term and
    took a tenth of the CPU of a PUT."""
    text = _bytes(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)).decode()
    iris: set[str] = set()
    # finditer, not findall: a match at a time, where findall lists every term first (4 MB
    # for a document of 10,000 triples, at the same speed).
    for match in _NT_TERM.finditer(text):
        datatype, language, iri = match.groups()
        if iri:
            iris.add(iri)
        elif datatype:
            iris.add(datatype)
        else:
            iris.add(_LANG_STRING if language else _XSD_STRING)
    return iris


def _is_used(namespace: str, cuts: frozenset[str], iris: set[str]) -> bool:
    """Whether some IRI starts with `namespace`. One that ends in `/` or `#` starts an IRI only
    if it starts that IRI's own namespace at one of its `/` or `#` (a listing of 10,000
    children has 20,000 IRIs in about ten namespaces)."""
    if namespace.endswith(("/", "#")):
        return namespace in cuts
    return any(iri.startswith(namespace) for iri in iris)


def _cuts(namespaces: set[str]) -> frozenset[str]:
    """Every beginning of these namespaces that ends in `/` or `#`."""
    return frozenset(ns[: i + 1] for ns in namespaces for i, c in enumerate(ns) if c in "/#")


# PyLD compacts at about 80 µs a triple (measured: 77 ms for 1,000), so a large graph (a listing
# of 10,000 children took 64 s) is served in expanded form, which is JSON-LD just as well
# (https://www.w3.org/TR/json-ld11/#expanded-document-form): no anonymous GET may cost minutes.
JSONLD_COMPACT_MAX_TRIPLES: Final = 2_000


def _serialize_jsonld(triples: list[ox.Triple], prefixes: dict[str, str]) -> bytes:
    if not prefixes:
        return _bytes(ox.serialize(triples, format=ox.RdfFormat.JSON_LD))
    expanded = json.loads(_bytes(ox.serialize(triples, format=ox.RdfFormat.JSON_LD)))
    compacted = jsonld.compact(expanded, {"@context": prefixes}, {"documentLoader": load_context})
    return json.dumps(compacted).encode()


# --- bundled JSON-LD contexts --------------------------------------------------------------

_CONTEXT_FILES: Final = {
    "https://www.w3.org/ns/solid/oidc-context.jsonld": "solid-oidc.jsonld",
    "https://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    "https://www.w3.org/ns/solid/notification/v1": "notification-v1.jsonld",
}
_context_cache: dict[str, Any] = {}


def bundled_context(url: str) -> dict[str, Any] | None:
    """The bundled copy of a well-known JSON-LD context document, or None."""
    key = url.rstrip("#").replace("http://", "https://", 1)
    if key.endswith("/") and key[:-1] in _CONTEXT_FILES:
        key = key[:-1]
    name = _CONTEXT_FILES.get(key)
    if name is None:
        return None
    document: dict[str, Any] | None = _context_cache.get(name)
    if document is None:
        text = resources.files("pod").joinpath("contexts", name).read_text("utf-8")
        document = json.loads(text)
        _context_cache[name] = document
    return document


def load_context(url: str, options: Any = None) -> dict[str, Any]:
    """PyLD document loader: bundled contexts only; anything else is refused, never fetched."""
    document = bundled_context(url)
    if document is None:
        raise jsonld.JsonLdError(
            f"remote context {url} is not loaded by this server; inline the context instead",
            "jsonld.LoadDocumentError",
            code="loading remote context failed",
        )
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": document,
    }
