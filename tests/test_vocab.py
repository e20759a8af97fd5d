"""Every RDF term the code uses (pod/vocab.py) is declared in vocab/*.ttl."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import ClosedNamespace

from pod import vocab

VOCAB_DIR = Path(__file__).parents[1] / "vocab"


def declared_terms() -> set[URIRef]:
    g = Graph()
    for ttl in VOCAB_DIR.glob("*.ttl"):
        g.parse(ttl, format="turtle")
    return {s for s in g.subjects() if isinstance(s, URIRef)}


def test_every_code_term_is_declared() -> None:
    declared = declared_terms()
    namespaces = [v for v in vars(vocab).values() if isinstance(v, ClosedNamespace)]
    assert namespaces
    used = {ns[name] for ns in namespaces for name in dir(ns) if not name.startswith("__")}
    assert len(used) > 50
    missing = sorted(str(term) for term in used if term not in declared)
    assert missing == []


def test_common_prefixes_are_valid_namespaces() -> None:
    for name, iri in vocab.COMMON_PREFIXES.items():
        assert name.isidentifier() or name.replace("-", "_").isidentifier()
        assert iri.endswith(("/", "#"))
