"""Containers: listing, POST with Slug, container creation and deletion (Solid Protocol §5)."""

from __future__ import annotations

import asyncio

import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF

from pod.acl.defaults import owner_acl
from pod.errors import MethodNotAllowed
from pod.ldp.methods import check_deletable, is_deletable
from pod.ldp.resources import ResourceStore
from tests.conftest import POD, Client, url
from tests.support import Agent

LDP = Namespace("http://www.w3.org/ns/ldp#")
POSIX = Namespace("http://www.w3.org/ns/posix/stat#")
DC = Namespace("http://purl.org/dc/terms/")
PIM = Namespace("http://www.w3.org/ns/pim/space#")
TURTLE = {"Content-Type": "text/turtle"}


async def listing(client: Client, path: str) -> Graph:
    r = await client.get(path, headers={"Accept": "text/turtle"})
    assert r.status == 200, await r.text()
    return Graph().parse(data=await r.text(), format="turtle", publicID=url(path))


async def test_container_lists_children_with_metadata(client: Client) -> None:
    await client.put(POD + "c/doc", data="<#a> <#b> <#c> .", headers=TURTLE)
    await client.put(POD + "c/pic.png", data=b"\x89PNG....", headers={"Content-Type": "image/png"})
    await client.put(POD + "c/sub/", data=b"")
    g = await listing(client, POD + "c/")
    me = URIRef(url(POD + "c/"))
    doc, pic, sub = (URIRef(url(POD + "c/" + n)) for n in ("doc", "pic.png", "sub/"))
    assert set(g.objects(me, LDP.contains)) == {doc, pic, sub}
    assert (me, RDF.type, LDP.BasicContainer) in g
    assert (sub, RDF.type, LDP.BasicContainer) in g
    assert (pic, RDF.type, URIRef("http://www.w3.org/ns/iana/media-types/image/png#Resource")) in g
    assert (pic, POSIX.size, Literal(8)) in g
    assert (doc, DC.modified, None) in g


async def test_container_link_headers(client: Client) -> None:
    r = await client.get(POD)
    link = r.headers["Link"]
    assert '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"' in link
    assert '<http://www.w3.org/ns/ldp#Container>; rel="type"' in link
    assert '<http://www.w3.org/ns/pim/space#Storage>; rel="type"' in link
    assert f'<{url(POD)}.acl>; rel="acl"' in link
    assert "POST" in r.headers["Allow"]
    assert "DELETE" not in r.headers["Allow"]  # a storage root is never deleted
    accept_post = [t.strip() for t in r.headers["Accept-Post"].split(",")]
    assert accept_post[0] == "text/turtle"  # RDF first, for clients that pick from the list
    assert accept_post[-1] == "*/*"


async def test_auxiliary_resources_are_not_listed(client: Client) -> None:
    await client.put(POD + "d/doc", data="<#a> <#b> <#c> .", headers=TURTLE)
    await client.put(POD + "d/doc.acl", data="<#a> <#b> <#c> .", headers=TURTLE)
    await client.put(POD + "d/.meta", data="<#a> <#b> <#c> .", headers=TURTLE)
    g = await listing(client, POD + "d/")
    assert set(g.objects(URIRef(url(POD + "d/")), LDP.contains)) == {URIRef(url(POD + "d/doc"))}


async def test_post_creates_resource_with_slug(client: Client) -> None:
    r = await client.post(POD, data="<#x> <#y> 1 .", headers={**TURTLE, "Slug": "notes"})
    assert r.status == 201
    assert r.headers["Location"] == url(POD + "notes")
    assert (await client.get(POD + "notes")).status == 200


async def test_post_with_taken_slug_gets_a_fresh_name(client: Client) -> None:
    first = await client.post(
        POD, data="hi", headers={"Content-Type": "text/plain", "Slug": "a.txt"}
    )
    second = await client.post(
        POD, data="ho", headers={"Content-Type": "text/plain", "Slug": "a.txt"}
    )
    assert first.status == second.status == 201
    assert first.headers["Location"] == url(POD + "a.txt")
    location = second.headers["Location"]
    assert location != first.headers["Location"]
    assert location.startswith(url(POD + "a-"))
    assert location.endswith(".txt")
    assert await (await client.get(POD + "a.txt")).text() == "hi"


async def test_post_without_slug_mints_a_name(client: Client) -> None:
    r = await client.post(POD, data="hi", headers={"Content-Type": "text/plain"})
    assert r.status == 201
    assert r.headers["Location"].startswith(url(POD))
    assert (await client.get(r.headers["Location"].removeprefix(url("")))).status == 200


async def test_post_slug_is_sanitised(client: Client) -> None:
    r = await client.post(POD, data="x", headers={"Content-Type": "text/plain", "Slug": "a/b c"})
    assert r.status == 201
    assert r.headers["Location"] == url(POD + "a-b%20c")
    r = await client.post(POD, data="<#a> <#b> 1 .", headers={**TURTLE, "Slug": "x.acl"})
    assert r.status == 201
    assert not r.headers["Location"].endswith(".acl")


async def test_post_container_with_link_header(client: Client) -> None:
    r = await client.post(
        POD,
        headers={"Slug": "photos", "Link": '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"'},
    )
    assert r.status == 201
    assert r.headers["Location"] == url(POD + "photos/")
    r = await client.get(POD + "photos/")
    assert r.status == 200
    assert "BasicContainer" in r.headers["Link"]


async def test_put_creates_empty_container(client: Client) -> None:
    r = await client.put(POD + "box/")
    assert r.status == 201
    r = await client.put(POD + "box/")
    assert r.status == 204


async def test_put_rdf_to_a_container_sets_its_description_and_keeps_its_children(
    client: Client,
) -> None:
    # Solid Protocol §5.3: a container PUT may carry RDF; it becomes the container's own triples
    box = POD + "described/"
    me = URIRef(url(box))
    assert (await client.put(box + "child", data="<#a> <#b> 1 .", headers=TURTLE)).status == 201
    r = await client.put(box, data='<> <http://purl.org/dc/terms/title> "Box" .', headers=TURTLE)
    assert r.status == 204, await r.text()
    g = await listing(client, box)
    assert (me, DC.title, Literal("Box")) in g
    assert (me, LDP.contains, URIRef(url(box + "child"))) in g
    assert (me, RDF.type, LDP.BasicContainer) in g
    etag = (await client.get(box)).headers["ETag"]
    # the same description again changes nothing, not even the ETag
    r = await client.put(box, data='<> <http://purl.org/dc/terms/title> "Box" .', headers=TURTLE)
    assert r.status == 204
    assert (await client.get(box)).headers["ETag"] == etag
    # whitespace-only Turtle: no description of its own, and the child stays
    r = await client.put(box, data=" \n\t ", headers=TURTLE)
    assert r.status == 204, await r.text()
    g = await listing(client, box)
    assert (me, DC.title, None) not in g
    assert (me, LDP.contains, URIRef(url(box + "child"))) in g
    assert (await client.get(box + "child")).status == 200
    # JSON-LD works too, and a new container is created with its description
    new = POD + "fresh/"
    body = '{"@id": "", "http://purl.org/dc/terms/title": "Fresh"}'
    r = await client.put(new, data=body, headers={"Content-Type": "application/ld+json"})
    assert r.status == 201, await r.text()
    assert (URIRef(url(new)), DC.title, Literal("Fresh")) in await listing(client, new)
    r = await client.put(POD + "blank/", data="\n", headers=TURTLE)
    assert r.status == 201, await r.text()


async def test_put_rdf_to_the_storage_root_keeps_it_a_storage(client: Client) -> None:
    r = await client.put(POD, data='<> <http://purl.org/dc/terms/title> "Mine" .', headers=TURTLE)
    assert r.status == 204, await r.text()
    g = await listing(client, POD)
    assert (URIRef(url(POD)), DC.title, Literal("Mine")) in g
    assert (URIRef(url(POD)), RDF.type, PIM.Storage) in g
    assert (await client.get(POD + ".acl")).status == 200


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("<> ldp:contains <child> .", "ldp:contains"),
        ("<> a ldp:BasicContainer .", "LDP and storage types"),
        ("<> a pim:Storage .", "LDP and storage types"),
        ('<> dc:modified "2020-01-01T00:00:00Z"^^xsd:dateTime .', "modification time"),
        ("<> stat:mtime 0 .", "modification time"),
        ('<child> dc:title "no" .', "contained resources"),
    ],
)
async def test_put_to_a_container_refuses_server_managed_triples(
    client: Client, body: str, says: str
) -> None:
    box = POD + "managed/"
    await client.put(box + "child", data="<#a> <#b> 1 .", headers=TURTLE)
    await client.put(box, data='<> <http://purl.org/dc/terms/title> "Kept" .', headers=TURTLE)
    before = await (await client.get(box, headers={"Accept": "text/turtle"})).read()
    prefixes = """@prefix ldp: <http://www.w3.org/ns/ldp#> .
    @prefix pim: <http://www.w3.org/ns/pim/space#> .
    @prefix dc: <http://purl.org/dc/terms/> .
    @prefix stat: <http://www.w3.org/ns/posix/stat#> .
    @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
    """
    title = '<> <http://purl.org/dc/terms/title> "New" .\n'
    r = await client.put(box, data=prefixes + title + body, headers=TURTLE)
    assert r.status == 409
    detail = (await r.json())["detail"]
    assert says in detail
    assert "refused <" in detail  # names the triple
    assert await (await client.get(box, headers={"Accept": "text/turtle"})).read() == before


async def test_put_to_a_container_with_a_body_that_is_not_rdf_is_415(client: Client) -> None:
    r = await client.put(POD + "box/", data="words", headers={"Content-Type": "text/plain"})
    assert r.status == 415
    assert "RDF" in (await r.json())["detail"]
    assert (await client.get(POD + "box/")).status == 404


async def test_delete_container_only_when_empty(client: Client, alice: Agent) -> None:
    await client.put(POD + "e/doc", data="x", headers={"Content-Type": "text/plain"})
    r = await client.delete(POD + "e/")
    assert r.status == 409
    assert "not empty" in (await r.json())["detail"]
    await client.delete(POD + "e/doc")
    acl = owner_acl(url(POD + "e/"), alice.webid)
    assert (await client.put(POD + "e/.acl", data=acl, headers=TURTLE)).status == 201
    assert (await client.delete(POD + "e/")).status == 204
    assert (await client.get(POD + "e/")).status == 404
    assert (await client.get(POD + "e/.acl")).status == 404
    g = await listing(client, POD)
    assert URIRef(url(POD + "e/")) not in set(g.objects(None, LDP.contains))


async def test_storage_root_cannot_be_deleted(client: Client) -> None:
    r = await client.delete(POD)
    assert r.status == 405
    assert "DELETE" not in r.headers["Allow"]


async def test_server_root_and_its_acl_are_never_deleted(
    client: Client, store: ResourceStore
) -> None:
    # The server's root container holds the pods, and its ACL is the last word on access there.
    for path in ("/", "/.acl", POD + ".acl"):
        assert not is_deletable(path, store.storages), path
        with pytest.raises(MethodNotAllowed):
            check_deletable(path, store.storages)
    assert is_deletable(POD + "doc", store.storages)
    r = await client.options("/")
    assert r.status == 204, await r.text()
    assert "DELETE" not in r.headers["Allow"]


async def test_container_metadata_can_be_patched_but_not_containment(client: Client) -> None:
    await client.put(POD + "f/doc", data="x", headers={"Content-Type": "text/plain"})
    patch = """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
    _:p a solid:InsertDeletePatch; solid:inserts { <> <http://purl.org/dc/terms/title> "Files" }."""
    r = await client.patch(POD + "f/", data=patch, headers={"Content-Type": "text/n3"})
    assert r.status == 204, await r.text()
    g = await listing(client, POD + "f/")
    assert (URIRef(url(POD + "f/")), DC.title, Literal("Files")) in g
    assert (URIRef(url(POD + "f/")), LDP.contains, URIRef(url(POD + "f/doc"))) in g
    remove = """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
    _:p a solid:InsertDeletePatch;
      solid:deletes { <> <http://www.w3.org/ns/ldp#contains> <doc> }."""
    r = await client.patch(POD + "f/", data=remove, headers={"Content-Type": "text/n3"})
    assert r.status == 409
    add = """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
    _:p a solid:InsertDeletePatch;
      solid:inserts { <> <http://www.w3.org/ns/ldp#contains> <other> }."""
    r = await client.patch(POD + "f/", data=add, headers={"Content-Type": "text/n3"})
    assert r.status == 409


async def test_storage_description(client: Client, alice: Agent) -> None:
    r = await client.get(POD)
    link = r.headers["Link"]
    description = url(POD + ".well-known/solid")
    assert f'<{description}>; rel="http://www.w3.org/ns/solid/terms#storageDescription"' in link
    r = await client.get(POD + ".well-known/solid")
    assert r.status == 200
    g = Graph().parse(data=await r.text(), format="turtle")
    assert (URIRef(url(POD)), RDF.type, PIM.Storage) in g
    assert (
        URIRef(url(POD)),
        URIRef("http://www.w3.org/ns/solid/terms#owner"),
        URIRef(alice.webid),
    ) in g
    # resources inside the storage link the same description
    await client.put(POD + "x", data="x", headers={"Content-Type": "text/plain"})
    assert description in (await client.head(POD + "x")).headers["Link"]


async def test_writes_racing_a_container_delete_lose_nothing_and_never_fail_500(
    client: Client,
) -> None:
    """Issue 10 item 15: a PUT into a container being deleted answered 500 (the file backend's
    directory vanished under the write), and the deletion could unlink a child written in
    between. Every outcome is now a clean answer, and whatever was answered 201 exists."""
    turtle = {"Content-Type": "text/turtle"}
    created = 0
    for i in range(40):
        container = f"{POD}race{i}/"
        r = await client.put(container + "seed", data="<#a> <#b> 1 .", headers=turtle)
        assert r.status == 201
        assert (await client.delete(container + "seed")).status == 204
        children = [f"x{k}" for k in range(4)] + [f"y{k}/z" for k in range(4)]
        deleted, *puts = await asyncio.gather(
            client.delete(container),
            *(client.put(container + c, data="<#a> <#b> 2 .", headers=turtle) for c in children),
        )
        assert deleted.status in (204, 409), await deleted.text()
        for response, child in zip(puts, children, strict=True):
            assert response.status in (201, 409), await response.text()
            if response.status == 201:
                created += 1
                assert (await client.get(container + child)).status == 200, child
    assert created
