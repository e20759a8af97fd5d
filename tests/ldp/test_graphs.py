"""Parsed documents kept by version (pod.ldp.graphs)."""

from __future__ import annotations

import pyoxigraph as ox

from pod.feed import Change, LocalFeed, ResourceChanged
from pod.ldp.graphs import TRIPLE_BYTES, ParsedGraph, ParsedGraphs
from pod.model import Metadata

TRIPLE = ox.Triple(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), ox.Literal("o"))


def _meta(path: str, version: str) -> Metadata:
    return Metadata(path, False, "text/turtle", version, 0.0, 10, {})


def test_a_document_is_kept_for_its_version_until_the_feed_announces_another() -> None:
    graphs = ParsedGraphs()
    feed = LocalFeed()
    feed.subscribe(graphs.follow)
    graphs.put("/d", ParsedGraph("v1", frozenset({TRIPLE}), {}, 40))
    assert graphs.get("/d", "v1") is not None
    assert graphs.get("/d", "v0") is None  # another version is never served
    feed.publish(ResourceChanged(Change.UPDATE, "/d", _meta("/d", "v1")))  # the write that kept it
    assert graphs.get("/d", "v1") is not None
    feed.publish(ResourceChanged(Change.UPDATE, "/d", _meta("/d", "v2")))
    assert len(graphs) == 0
    graphs.put("/d", ParsedGraph("v2", frozenset({TRIPLE}), {}, 40))
    feed.publish(ResourceChanged(Change.DELETE, "/d"))
    assert graphs.get("/d", "v2") is None


def test_kept_documents_are_bounded_in_bytes() -> None:
    graphs = ParsedGraphs(max_bytes=10 * TRIPLE_BYTES)
    many = frozenset(
        ox.Triple(TRIPLE.subject, TRIPLE.predicate, ox.Literal(str(i))) for i in range(30)
    )
    graphs.put("/big", ParsedGraph("v", many, {}, 30 * 50))  # over a quarter: not kept
    assert graphs.get("/big", "v") is None
    for i in range(20):
        graphs.put(f"/d{i}", ParsedGraph("v", frozenset({TRIPLE}), {}, 40))
    assert 0 < len(graphs) < 20
