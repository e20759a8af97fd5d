"""The purposes an access request or a grant may name: the DPV purposes bundled in
`vocab/purposes.ttl`, with their labels and definitions in English and Dutch. Imports ldp, vocab.

Read once, on first use, from the bundled file (no other I/O): a request names only these
purposes (https://w3id.org/dpv#, checked by vocab/access-request-shapes.ttl), and the dashboard
shows their labels in the owner's language.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, final

import rdflib
from rdflib.namespace import RDF as RDF_NS
from rdflib.namespace import SKOS

from pod.ldp.shapes import VOCAB_DIR
from pod.vocab import DPV

PURPOSES_FILE: Final = "purposes.ttl"
_FALLBACK_LANGUAGE: Final = "en"


@final
@dataclass(frozen=True, slots=True)
class Purpose:
    """One bundled DPV purpose: its IRI, its label and definition by language tag (`en`, `nl`),
    and the IRIs of its DPV parents that are bundled too (sorted)."""

    iri: str
    labels: Mapping[str, str]
    definitions: Mapping[str, str]
    broader: tuple[str, ...]


def purposes() -> Mapping[str, Purpose]:
    """The bundled purposes by IRI, sorted by IRI."""
    return _load()


def within(iri: str) -> frozenset[str]:
    """Every bundled purpose `iri` falls under: its skos:broader ones, and theirs."""
    found: set[str] = set()
    todo = [iri]
    bundled = _load()
    while todo:
        purpose = bundled.get(todo.pop())
        for parent in () if purpose is None else purpose.broader:
            if parent not in found:
                found.add(parent)
                todo.append(parent)
    return frozenset(found)


def label(iri: str, lang: str) -> str:
    """The label of purpose `iri` in language `lang` (a tag such as `nl` or `nl-BE`), else in
    English, else the IRI's local name (also for an IRI that is not a bundled purpose)."""
    purpose = _load().get(iri)
    if purpose is not None:
        tag = lang.lower()
        for candidate in (tag, tag.split("-", 1)[0], _FALLBACK_LANGUAGE):
            text = purpose.labels.get(candidate)
            if text is not None:
                return text
    return _local_name(iri)


def _local_name(iri: str) -> str:
    for separator in ("#", "/"):
        name = iri.rsplit(separator, 1)[-1]
        if name != iri and name:
            return name
    return iri


@functools.cache
def _load() -> Mapping[str, Purpose]:
    graph = rdflib.Graph()
    graph.parse(VOCAB_DIR / PURPOSES_FILE, format="turtle")
    found = sorted(
        s
        for s in graph.subjects(RDF_NS.type, rdflib.URIRef(DPV.Purpose), unique=True)
        if isinstance(s, rdflib.URIRef)
    )
    bundled = {str(s) for s in found}
    out: dict[str, Purpose] = {}
    for subject in found:
        out[str(subject)] = Purpose(
            iri=str(subject),
            labels=_by_language(graph, subject, SKOS.prefLabel),
            definitions=_by_language(graph, subject, SKOS.definition),
            broader=tuple(
                sorted(str(o) for o in graph.objects(subject, SKOS.broader) if str(o) in bundled)
            ),
        )
    return MappingProxyType(out)


def _by_language(
    graph: rdflib.Graph, subject: rdflib.URIRef, predicate: rdflib.URIRef
) -> Mapping[str, str]:
    return MappingProxyType(
        {
            (o.language or "").lower(): str(o)
            for o in graph.objects(subject, predicate)
            if isinstance(o, rdflib.Literal)
        }
    )
