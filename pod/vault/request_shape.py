"""An access request's body: parsed, checked against vocab/access-request-shapes.ttl, and read
into a RequestedAccess. Imports errors, ldp, model, vocab.

A publisher POSTs (Turtle or JSON-LD) which resources it asks for, with which modes, for which
DPV purposes, until when, with a short text for the owner (issue 14 §3). Who asks and with which
app is not in the body: the caller takes them from the verified access token.

Pure (no store, no HTTP), but slow: pyshacl takes milliseconds per request (measured on a
shared 2-core machine: 4.6 ms CPU for a one-resource request, 6.4 ms for 50 resources and 10
purposes, and about 200 ms for the first, which imports pyshacl and reads the shape), so
callers run `parse_request` in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final, final

import pyoxigraph as ox
from rdflib.namespace import RDFS

from pod.errors import PayloadTooLarge, ShapeViolation, Violation
from pod.ldp import rdf
from pod.ldp.shapes import check_bundled
from pod.model import AccessMode
from pod.vocab import ACL, CRED, GC, KLUIS, RDF, VC

SHAPES_FILE: Final = "access-request-shapes.ttl"
MAX_BYTES: Final = 64 << 10  # 50 resources of 2,000 characters, and texts, fit with room
# More statements than the shape allows plus a text in each of many languages: beyond this
# pyshacl's time grows for nothing a person would read.
_MAX_TRIPLES: Final = 200
_MAX_AHEAD: Final = 366 * 86_400  # seconds: a request asks for at most a year (a leap one)
# Parsing resolves relative IRIs against this, not against the request's URL, so that a
# resource named by a relative URL is refused (it is not http(s)) rather than silently taken
# as a URL under the request's own; `<>` and `<#...>` still name the request.
_RELATIVE: Final = "urn:x-kluis:relative/"
_MODES: Final = {
    str(ACL.Read): AccessMode.READ,
    str(ACL.Append): AccessMode.APPEND,
    str(ACL.Write): AccessMode.WRITE,
}
_TYPE: Final = ox.NamedNode(str(RDF.type))
_REQUEST: Final = ox.NamedNode(str(VC.SolidAccessRequest))
_RESOURCE: Final = str(GC.forPersonalData)
_PURPOSE: Final = str(GC.forPurpose)
_MODE: Final = str(ACL.mode)
_INHERIT: Final = str(KLUIS.inherit)
_EXPIRES: Final = str(CRED.expirationDate)
_TEXT: Final = str(RDFS.comment)


@final
@dataclass(frozen=True, slots=True)
class RequestedAccess:
    """What a valid access request asks for. `resources`: sorted IRIs; `inherit`: whether
    containers' contents are asked for too; `expires`: epoch seconds; `texts`: the text for the
    owner by language tag ("" for a text without one)."""

    resources: tuple[str, ...]
    inherit: bool
    modes: AccessMode
    purposes: frozenset[str]
    expires: float
    texts: Mapping[str, str]


def parse_request(
    data: bytes,
    content_type: str,
    *,
    base: str,
    now: float | None = None,
    shape_url: str = SHAPES_FILE,
) -> RequestedAccess:
    """Parse and check an access request's body; `base` is the request's own URL (`<>`).

    A body describes one vc:SolidAccessRequest and nothing else; it conforms to the shape, names
    every resource by its whole http(s) URL, and expires after `now` (default: the time now)
    and at most 366 days later. `inherit` is false unless the body says true: a request covers
    what it names (GDPR Art. 5(1)(c), data minimisation), where Inrupt's requests default to
    true. `shape_url`, where the server serves the shape, is named in a ShapeViolation.
    Raises InvalidRdf (a BadRequest) for a body that does not parse, UnsupportedMediaType for
    a non-RDF type, PayloadTooLarge, and ShapeViolation naming every fault.
    """
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"an access request has at most {MAX_BYTES} bytes")
    triples = rdf.parse(data, content_type, base=_RELATIVE).triples
    if len(triples) > _MAX_TRIPLES:
        violations = [Violation("", "", f"an access request has at most {_MAX_TRIPLES} statements")]
    elif any(isinstance(t.object, ox.Triple) or isinstance(t.subject, ox.Triple) for t in triples):
        # RDF 1.2 triple terms, which pyshacl (through rdflib) cannot take.
        violations = [Violation("", "", "an access request holds no quoted triples (<< ... >>)")]
    else:
        violations = [_readable(v, base) for v in check_bundled(SHAPES_FILE, triples)]
        violations += _beyond_shapes(triples, base, time.time() if now is None else now)
    if violations:
        raise ShapeViolation(
            f"the access request does not conform to the shape {shape_url}: "
            + "; ".join(v.describe() for v in violations),
            shape=shape_url,
            violations=tuple(violations),
        )
    return _read(triples)


def _beyond_shapes(triples: list[ox.Triple], base: str, now: float) -> list[Violation]:
    """What SHACL cannot check: one request and nothing else, the expiry's range, and at most
    one text without a language (sh:uniqueLang ignores those)."""
    nodes = {t.subject for t in triples if t.predicate == _TYPE and t.object == _REQUEST}
    if len(nodes) > 1:
        return [Violation("", "", f"a body describes one access request, not {len(nodes)}")]
    others = sorted({_shown(t.subject, base) for t in triples if t.subject not in nodes})
    found: list[Violation] = []
    if nodes and others:
        found.append(
            Violation(
                "",
                "",
                "a body describes the access request and nothing else; it also describes "
                + ", ".join(others[:3]),
            )
        )
    plain = [t for t in triples if t.predicate.value == _TEXT and _language(t.object) == ""]
    if len(plain) > 1:
        found.append(
            Violation(
                "",
                _TEXT,
                "give at most one text for the owner (rdfs:comment) without a language tag",
            )
        )
    expiries = [t.object for t in triples if t.predicate.value == _EXPIRES]
    if len(expiries) == 1 and isinstance(expiries[0], ox.Literal):
        found += _expiry(expiries[0], now)
    return found


def _expiry(literal: ox.Literal, now: float) -> list[Violation]:
    try:
        moment = datetime.fromisoformat(literal.value)
    except ValueError:
        return [Violation("", _EXPIRES, f"the expiry {literal.value!r} is not a date and time")]
    if moment.tzinfo is None:
        return []  # the shape refuses it, saying why
    expires = moment.timestamp()
    if expires <= now:
        return [Violation("", _EXPIRES, "the expiry is in the past: it must lie ahead")]
    if expires > now + _MAX_AHEAD:
        return [
            Violation(
                "", _EXPIRES, "the expiry is more than 366 days ahead: ask for a year at most"
            )
        ]
    return []


def _read(triples: list[ox.Triple]) -> RequestedAccess:
    """The RequestedAccess of triples that passed every check."""
    resources: list[str] = []
    purposes: set[str] = set()
    modes = AccessMode.NONE
    inherit = False
    expires = 0.0
    texts: dict[str, str] = {}
    for t in triples:
        p, o = t.predicate.value, t.object
        if isinstance(o, ox.Triple):
            continue  # refused before (parse_request)
        if p == _RESOURCE:
            resources.append(o.value)
        elif p == _PURPOSE:
            purposes.add(o.value)
        elif p == _MODE:
            modes |= _MODES[o.value]
        elif p == _INHERIT:
            inherit = o.value in ("true", "1")
        elif p == _EXPIRES:
            expires = datetime.fromisoformat(o.value).timestamp()
        elif p == _TEXT:
            texts[_language(o)] = o.value
    return RequestedAccess(
        resources=tuple(sorted(resources)),
        inherit=inherit,
        modes=modes,
        purposes=frozenset(purposes),
        expires=expires,
        texts=MappingProxyType(texts),
    )


def _language(term: object) -> str:
    return (term.language or "") if isinstance(term, ox.Literal) else ""


def _shown(term: object, base: str) -> str:
    """A term as the body wrote it: the request's own URL for `<>`."""
    if isinstance(term, ox.NamedNode):
        return f"<{_unrelative(term.value, base)}>"
    return str(term)


def _unrelative(iri: str, base: str) -> str:
    """An IRI as the body wrote it: `<>` and `<#it>` against the request's URL, other relative
    references (which are refused) as written."""
    if not iri.startswith(_RELATIVE):
        return iri
    rest = iri.removeprefix(_RELATIVE)
    return base + rest if rest[:1] in ("", "#") else rest


def _readable(violation: Violation, base: str) -> Violation:
    """A violation naming the request by its own URL and relative IRIs as written."""
    return Violation(
        _unrelative(violation.focus, base),
        violation.path,
        violation.message.replace("<" + _RELATIVE, "<"),
    )
