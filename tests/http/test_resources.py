"""Solid Protocol resource basics over HTTP: create, read, replace, delete."""

from __future__ import annotations

import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from tests.conftest import POD, Client, url

TURTLE = "text/turtle"
ALICE = """@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<#me> a foaf:Person ; foaf:name "Alice" ; foaf:knows <../bob/card#me> .
"""


def parse(body: str, base: str, fmt: str = "turtle") -> Graph:
    return Graph().parse(data=body, format=fmt, publicID=base)


async def test_put_creates_rdf_resource_and_get_returns_it(client: Client) -> None:
    r = await client.put(POD + "profile/card", data=ALICE, headers={"Content-Type": TURTLE})
    assert r.status == 201
    assert r.headers["Location"] == url(POD + "profile/card")
    r = await client.get(POD + "profile/card")
    assert r.status == 200
    assert r.headers["Content-Type"] == TURTLE
    got = parse(await r.text(), url(POD + "profile/card"))
    me = URIRef(url(POD + "profile/card#me"))
    assert (me, URIRef("http://xmlns.com/foaf/0.1/name"), Literal("Alice")) in got
    # relative IRIs resolved against the resource URL
    bob = URIRef(url(POD + "bob/card#me"))
    assert (me, URIRef("http://xmlns.com/foaf/0.1/knows"), bob) in got


async def test_turtle_is_kept_as_written_and_other_rdf_is_converted(client: Client) -> None:
    written = "# Alice's card, kept as she wrote it\n" + ALICE
    await client.put(POD + "profile/card", data=written, headers={"Content-Type": TURTLE})
    r = await client.get(POD + "profile/card", headers={"Accept": TURTLE})
    assert await r.text() == written
    # converted from it, relative IRIs resolve against the document's URL
    r = await client.get(POD + "profile/card", headers={"Accept": "application/n-triples"})
    bob = url(POD + "bob/card#me")
    assert f"<{url(POD + 'profile/card#me')}> <http://xmlns.com/foaf/0.1/knows> <{bob}> ." in (
        await r.text()
    )
    # N-Triples is stored as Turtle, not as sent
    nt = f'<{url(POD + "x#s")}> <http://example.org/p> "o" .\n'
    await client.put(POD + "x", data=nt, headers={"Content-Type": "application/n-triples"})
    r = await client.get(POD + "x", headers={"Accept": TURTLE})
    assert r.headers["Content-Type"] == TURTLE
    assert isomorphic(parse(await r.text(), url(POD + "x")), parse(nt, url(POD + "x"), "nt"))


async def test_put_replaces_and_changes_etag(client: Client) -> None:
    r1 = await client.put(POD + "doc", data=ALICE, headers={"Content-Type": TURTLE})
    etag1 = r1.headers["ETag"]
    r2 = await client.put(POD + "doc", data="<#x> <#p> 1 .", headers={"Content-Type": TURTLE})
    assert r2.status == 204
    assert r2.headers["ETag"] != etag1
    r = await client.get(POD + "doc")
    assert r.headers["ETag"] == r2.headers["ETag"]
    assert "Alice" not in await r.text()


async def test_etag_changes_on_every_write_even_with_same_body(client: Client) -> None:
    tags = set()
    for _ in range(5):
        r = await client.put(POD + "same", data=ALICE, headers={"Content-Type": TURTLE})
        tags.add(r.headers["ETag"])
    assert len(tags) == 5


async def test_non_rdf_resource_is_stored_byte_exact(client: Client) -> None:
    blob = bytes(range(256)) * 40
    r = await client.put(
        POD + "blob.bin", data=blob, headers={"Content-Type": "application/x-thing"}
    )
    assert r.status == 201
    r = await client.get(POD + "blob.bin")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/x-thing"
    assert await r.read() == blob
    assert '<http://www.w3.org/ns/ldp#NonRDFSource>; rel="type"' in r.headers["Link"]


async def test_put_creates_intermediate_containers(client: Client) -> None:
    r = await client.put(POD + "a/b/c/doc.txt", data="hi", headers={"Content-Type": "text/plain"})
    assert r.status == 201
    for container in ("a/", "a/b/", "a/b/c/"):
        r = await client.get(POD + container)
        assert r.status == 200, container
    g = parse(await (await client.get(POD + "a/b/")).text(), url(POD + "a/b/"))
    assert (
        URIRef(url(POD + "a/b/")),
        URIRef("http://www.w3.org/ns/ldp#contains"),
        URIRef(url(POD + "a/b/c/")),
    ) in g


async def test_get_missing_is_404(client: Client) -> None:
    r = await client.get(POD + "nothing-here")
    assert r.status == 404
    assert r.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["nothing-here", "no/container/"])
async def test_missing_target_says_how_to_create_it(client: Client, method: str, path: str) -> None:
    # Solid Protocol #server-allow-methods; Comunica PUTs a new document only when a 404 allows it.
    r = await client.request(method, POD + path)
    assert r.status == 404
    assert {"PUT", "PATCH"} <= {m.strip() for m in r.headers["Allow"].split(",")}
    assert "text/turtle" in r.headers["Accept-Put"]
    assert "application/sparql-update" in r.headers["Accept-Patch"]


async def test_accept_put_names_the_rdf_types_before_any_type(client: Client) -> None:
    await client.put(POD + "doc", data=ALICE, headers={"Content-Type": TURTLE})
    r = await client.get(POD + "doc")
    types = [t.strip() for t in r.headers["Accept-Put"].split(",")]
    assert types[0] == TURTLE
    assert types[-1] == "*/*"


async def test_delete_resource(client: Client) -> None:
    await client.put(POD + "gone", data="x", headers={"Content-Type": "text/plain"})
    r = await client.delete(POD + "gone")
    assert r.status == 204
    assert (await client.get(POD + "gone")).status == 404
    assert (await client.delete(POD + "gone")).status == 404


async def test_delete_removes_auxiliary_resources(client: Client) -> None:
    await client.put(POD + "doc", data=ALICE, headers={"Content-Type": TURTLE})
    await client.put(POD + "doc.meta", data="<doc> <#p> 1 .", headers={"Content-Type": TURTLE})
    assert (await client.get(POD + "doc.meta")).status == 200
    assert (await client.delete(POD + "doc")).status == 204
    assert (await client.get(POD + "doc.meta")).status == 404


async def test_head_has_headers_and_no_body(client: Client) -> None:
    await client.put(POD + "doc", data=ALICE, headers={"Content-Type": TURTLE})
    get = await client.get(POD + "doc")
    head = await client.head(POD + "doc")
    assert head.status == 200
    assert await head.read() == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Type"] == TURTLE


async def test_resource_and_container_cannot_share_a_path(client: Client) -> None:
    await client.put(POD + "thing", data="x", headers={"Content-Type": "text/plain"})
    r = await client.put(POD + "thing/", data=b"")
    assert r.status == 409
    r = await client.put(POD + "thing/child", data="x", headers={"Content-Type": "text/plain"})
    assert r.status == 409
    await client.put(POD + "box/", data=b"")
    r = await client.put(POD + "box", data="x", headers={"Content-Type": "text/plain"})
    assert r.status == 409


async def test_jsonld_put_is_readable_as_turtle(client: Client) -> None:
    doc = '{"@context": {"foaf": "http://xmlns.com/foaf/0.1/"}, "@id": "#me", "foaf:name": "Ann"}'
    r = await client.put(POD + "ann", data=doc, headers={"Content-Type": "application/ld+json"})
    assert r.status == 201
    r = await client.get(POD + "ann", headers={"Accept": TURTLE})
    g = parse(await r.text(), url(POD + "ann"))
    assert (
        URIRef(url(POD + "ann#me")),
        URIRef("http://xmlns.com/foaf/0.1/name"),
        Literal("Ann"),
    ) in g


@pytest.mark.parametrize(
    ("media", "fmt"),
    [
        ("text/turtle", "turtle"),
        ("application/ld+json", "json-ld"),
        ("application/n-triples", "nt"),
        ("application/rdf+xml", "xml"),
        ("text/n3", "n3"),
        ("application/n-quads", "nquads"),
        ("application/trig", "trig"),
    ],
)
async def test_every_rdf_format_reads_back_isomorphic(client: Client, media: str, fmt: str) -> None:
    await client.put(POD + "doc", data=ALICE, headers={"Content-Type": TURTLE})
    r = await client.get(POD + "doc", headers={"Accept": media})
    assert r.status == 200
    assert r.headers["Content-Type"] == media
    expected = parse(ALICE, url(POD + "doc"))
    assert isomorphic(parse(await r.text(), url(POD + "doc"), fmt), expected)


@pytest.mark.parametrize(
    ("media", "fmt"),
    [
        ("application/ld+json", "json-ld"),
        ("application/n-triples", "nt"),
        ("application/rdf+xml", "xml"),
        ("text/n3", "n3"),
        ("application/n-quads", "nquads"),
        ("application/trig", "trig"),
    ],
)
async def test_every_rdf_format_is_accepted_on_input(client: Client, media: str, fmt: str) -> None:
    graph = parse(ALICE, url(POD + "x"))
    if fmt in ("nquads", "trig"):  # dataset formats: the triples go in the default graph
        dataset = Dataset()
        for triple in graph:
            dataset.add(triple)
        body = dataset.serialize(format=fmt)
    else:
        body = graph.serialize(format=fmt)
    r = await client.put(POD + "x", data=body, headers={"Content-Type": media})
    assert r.status == 201, await r.text()
    r = await client.get(POD + "x")
    assert isomorphic(parse(await r.text(), url(POD + "x")), parse(ALICE, url(POD + "x")))


async def test_writes_answer_with_the_resource_links(client: Client) -> None:
    r = await client.put(POD + "linked", data=ALICE, headers={"Content-Type": TURTLE})
    assert f'<{url(POD + "linked.acl")}>; rel="acl"' in r.headers["Link"]
    r = await client.post(POD, data=ALICE, headers={"Content-Type": TURTLE, "Slug": "posted"})
    assert f'<{url(POD + "posted.acl")}>; rel="acl"' in r.headers["Link"]
    r = await client.post(
        POD,
        headers={"Slug": "box", "Link": '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"'},
    )
    assert '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"' in r.headers["Link"]
