"""Conditional requests and ETags (RFC 9110 §13; SPEC.md §6)."""

from __future__ import annotations

from pod.ldp import rdf
from tests.conftest import POD, Client

DOC = "<#a> <#b> <#c> ."
TURTLE = {"Content-Type": "text/turtle"}


async def test_if_none_match_on_get_gives_304(client: Client) -> None:
    await client.put(POD + "doc", data=DOC, headers=TURTLE)
    etag = (await client.get(POD + "doc")).headers["ETag"]
    r = await client.get(POD + "doc", headers={"If-None-Match": etag})
    assert r.status == 304
    assert r.headers["ETag"] == etag
    r = await client.get(POD + "doc", headers={"If-None-Match": '"other"'})
    assert r.status == 200


async def test_representations_have_distinct_etags(client: Client) -> None:
    await client.put(POD + "doc", data=DOC, headers=TURTLE)
    # RFC 9110 §8.8.3: a strong ETag names one representation, so each format has its own.
    tags = [
        (await client.get(POD + "doc", headers={"Accept": media})).headers["ETag"]
        for media in rdf.RDF_TYPES
    ]
    assert len(set(tags)) == len(rdf.RDF_TYPES), tags
    jsonld = tags[rdf.RDF_TYPES.index(rdf.JSON_LD)]
    # the JSON-LD ETag still identifies the version for a conditional write
    r = await client.put(POD + "doc", data=DOC, headers={**TURTLE, "If-Match": jsonld})
    assert r.status == 204


async def test_if_match_on_write(client: Client) -> None:
    r = await client.put(POD + "doc", data=DOC, headers=TURTLE)
    etag = r.headers["ETag"]
    r = await client.put(POD + "doc", data=DOC, headers={**TURTLE, "If-Match": '"stale"'})
    assert r.status == 412
    r = await client.put(POD + "doc", data=DOC, headers={**TURTLE, "If-Match": etag})
    assert r.status == 204
    r = await client.delete(POD + "doc", headers={"If-Match": etag})
    assert r.status == 412  # the PUT above changed the version


async def test_if_none_match_star_only_creates(client: Client) -> None:
    r = await client.put(POD + "once", data=DOC, headers={**TURTLE, "If-None-Match": "*"})
    assert r.status == 201
    r = await client.put(POD + "once", data=DOC, headers={**TURTLE, "If-None-Match": "*"})
    assert r.status == 412


async def test_if_match_star_needs_existing(client: Client) -> None:
    r = await client.put(POD + "nope", data=DOC, headers={**TURTLE, "If-Match": "*"})
    assert r.status == 412
    assert (await client.get(POD + "nope")).status == 404


async def test_if_modified_since(client: Client) -> None:
    await client.put(POD + "doc", data=DOC, headers=TURTLE)
    last = (await client.get(POD + "doc")).headers["Last-Modified"]
    r = await client.get(POD + "doc", headers={"If-Modified-Since": last})
    assert r.status == 304
    r = await client.get(
        POD + "doc", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )
    assert r.status == 200


async def test_if_unmodified_since_on_write(client: Client) -> None:
    await client.put(POD + "doc", data=DOC, headers=TURTLE)
    r = await client.put(
        POD + "doc",
        data=DOC,
        headers={**TURTLE, "If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
    )
    assert r.status == 412


async def test_container_etag_changes_when_a_child_is_added(client: Client) -> None:
    await client.put(POD + "c/", data=b"")
    before = (await client.get(POD + "c/")).headers["ETag"]
    await client.put(POD + "c/x", data=DOC, headers=TURTLE)
    after = (await client.get(POD + "c/")).headers["ETag"]
    assert before != after
    r = await client.get(POD + "c/", headers={"If-None-Match": after})
    assert r.status == 304
