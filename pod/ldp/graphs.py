"""Parsed RDF documents kept between patches, by version: a patch to a document of 10,000
triples then neither parses it again (about 25 ms) nor copies it when it changes nothing.
Imports cache, feed.

An entry is used only for the exact version the backend reports at the time of the patch, so a
stale one is never read; the change feed only frees the memory of documents that changed.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Final, final

import pyoxigraph as ox

from pod.cache import LruCache
from pod.feed import Event, ResourceChanged

# What a parsed document holds: about 390 bytes a triple for the benchmarks' documents (52 bytes
# a triple as Turtle; measured by RSS over 100,000 triples), which grows with the lengths of its
# IRIs and literals, so an entry is sized from both. 32 MB holds a document of about 80,000
# such triples, or many small ones; one over a quarter of the budget is used but not kept.
TRIPLE_BYTES: Final = 320
GRAPH_BYTES: Final = 32 * 1024 * 1024
_GRAPH_ENTRIES: Final = 4096


@final
@dataclass(frozen=True, slots=True)
class ParsedGraph:
    """One version of a document, parsed. `triples` is never modified: it is shared."""

    version: str
    triples: Set[ox.Triple]
    prefixes: dict[str, str]
    stored_bytes: int  # the size of the stored document, to size work on it


def _size(path: str, graph: ParsedGraph) -> int:
    return len(path) + TRIPLE_BYTES * len(graph.triples) + 2 * graph.stored_bytes


@final
class ParsedGraphs:
    """Parsed documents by path, each with its version; bounded in entries and in bytes."""

    def __init__(self, *, max_bytes: int = GRAPH_BYTES) -> None:
        self._graphs: LruCache[str, ParsedGraph] = LruCache(
            max_entries=_GRAPH_ENTRIES,
            max_bytes=max_bytes,
            max_entry_bytes=max_bytes // 4,
            sizer=_size,
        )

    def get(self, path: str, version: str) -> ParsedGraph | None:
        """The parsed document at `path` if it is kept in version `version`."""
        graph = self._graphs.get(path)
        return graph if graph is not None and graph.version == version else None

    def put(self, path: str, graph: ParsedGraph) -> None:
        self._graphs.put(path, graph)

    def follow(self, event: Event) -> None:
        """Drop a document when the feed announces another version of it (the version a write
        kept as it wrote stays)."""
        if not isinstance(event, ResourceChanged):
            return
        graph = self._graphs.get(event.path)
        if graph is not None and graph.version != event.version:
            self._graphs.pop(event.path)

    def __len__(self) -> int:
        return len(self._graphs)
