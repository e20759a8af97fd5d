"""Renaming the URLs RDF names, for a data directory moved to another base URL (`kluis migrate`)
and a pod imported under another name or on another server (`pod.rights.importing`). Imports
ldp.rdf.

Only IRIs are renamed, and datatypes: URLs inside literals are data, not links the server
resolves, and stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyoxigraph as ox

from pod.ldp import rdf


def renamer(old: str, new: str) -> Callable[[str], str]:
    """A function that moves a URL under `old` to the same place under `new`."""
    return renamer_of(((old, new),))


def renamer_of(moves: Sequence[tuple[str, str]]) -> Callable[[str], str]:
    """A function that moves a URL under the first `old` of `moves` that it starts with to
    the same place under its `new` (a pod root before its server's base URL, say)."""

    def rename(url: str) -> str:
        for old, new in moves:
            if url.startswith(old):
                return new + url[len(old) :]
        return url

    return rename


def renamed(term: Any, rename: Callable[[str], str]) -> Any:
    """`term` with its IRI (or a literal's datatype) renamed."""
    if isinstance(term, ox.NamedNode):
        return ox.NamedNode(rename(term.value))
    if isinstance(term, ox.Literal) and term.language is None:
        return ox.Literal(term.value, datatype=ox.NamedNode(rename(term.datatype.value)))
    return term


def moved_document(
    data: bytes,
    content_type: str,
    *,
    old_url: str,
    new_url: str,
    server: str,
    rename: Callable[[str], str],
) -> bytes:
    """The Turtle of RDF document `data`, read at `old_url`, with every IRI renamed, to be
    stored at `new_url` on the server at `server` (relative IRIs, as `rdf.serialize_stored`
    writes them). Raises InvalidRdf when `data` does not parse."""
    graph = rdf.parse(data, content_type, base=old_url)
    triples = [ox.Triple(*(renamed(term, rename) for term in t)) for t in graph.triples]
    prefixes = {name: rename(iri) for name, iri in graph.prefixes.items()}
    return rdf.serialize_stored(triples, document=new_url, server=server, prefixes=prefixes)
