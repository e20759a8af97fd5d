"""Two workers over one storage and one change feed: what one writes, the other's caches follow.

Issue 12: every cache kept itself fresh by seeing the writes of its own process, so with two
workers a revocation through one never reached the other. Here two apps (two workers, as the
PostgreSQL backend will run them) share a backend and a change feed; each has its own caches.
"""

from __future__ import annotations

import pytest
from aiohttp.web import Application
from rdflib import Graph, Literal, URIRef

from pod.http.keys import STORE
from pod.ldp.containers import PART_CHILDREN
from pod.ldp.resources import ResourceStore
from tests.conftest import POD, url
from tests.support import Agent, PodClient

TURTLE = {"Content-Type": "text/turtle"}
ACL = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<#owner> a acl:Authorization ; acl:agent <{owner}> ; acl:accessTo <{doc}> ;
  acl:mode acl:Read, acl:Write, acl:Control .
"""
PUBLIC = """<#public> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:accessTo <{doc}> ;
  acl:mode acl:Read .
"""


@pytest.fixture
def store_one(worker_apps: list[Application]) -> ResourceStore:
    return worker_apps[0][STORE]


async def test_a_revocation_through_one_worker_holds_on_the_other(
    workers: tuple[PodClient, PodClient], alice: Agent
) -> None:
    one, two = workers
    doc = POD + "shared"
    assert (await one.put(doc, data="<#a> <#b> <#c> .", headers=TURTLE)).status == 201
    acl = ACL.format(owner=alice.webid, doc=url(doc))
    public = acl + PUBLIC.format(doc=url(doc))
    assert (await one.put(doc + ".acl", data=public, headers=TURTLE)).status == 201
    # Worker two decides (and caches) that the public may read.
    assert (await two.get(doc, as_agent=None)).status == 200
    # Worker one withdraws it; worker two refuses the very next request.
    assert (await one.put(doc + ".acl", data=acl, headers=TURTLE)).status == 204
    assert (await two.get(doc, as_agent=None)).status == 401


async def test_listings_conversions_and_storages_follow_the_other_worker(
    workers: tuple[PodClient, PodClient],
) -> None:
    one, two = workers
    folder = POD + "folder/"
    assert (await one.put(folder + "a", data="<#a> <#b> 1 .", headers=TURTLE)).status == 201
    listing = await two.get(folder)
    assert listing.status == 200
    assert "<a>" in await listing.text() or url(folder + "a") in await listing.text()
    as_json = await two.get(folder + "a", headers={"Accept": "application/ld+json"})
    assert "1" in await as_json.text()
    # Worker one changes both; worker two's cached listing and conversion are dropped.
    assert (await one.put(folder + "b", data="<#a> <#b> 2 .", headers=TURTLE)).status == 201
    assert (await one.put(folder + "a", data="<#a> <#b> 3 .", headers=TURTLE)).status == 204
    text = await (await two.get(folder)).text()
    assert url(folder + "b") in text or "<b>" in text
    as_json = await two.get(folder + "a", headers={"Accept": "application/ld+json"})
    body = await as_json.text()
    assert "3" in body
    assert '"1"' not in body
    # A pod provisioned through worker one is a storage to worker two at once.
    r = await two.options(POD)
    assert 'rel="type"' in r.headers["Link"]
    assert "http://www.w3.org/ns/pim/space#Storage" in r.headers["Link"]


STAT_SIZE = URIRef("http://www.w3.org/ns/posix/stat#size")
CONTAINS = URIRef("http://www.w3.org/ns/ldp#contains")


async def _listed(worker: PodClient, folder: str, media: str = "text/turtle") -> Graph:
    r = await worker.get(folder, headers={"Accept": media})
    assert r.status == 200, await r.text()
    return Graph().parse(data=await r.read(), format=media, publicID=url(folder))


@pytest.mark.parametrize("children", [3, PART_CHILDREN + 2], ids=["small", "in-parts"])
async def test_a_kept_listing_follows_children_the_other_worker_changes(
    workers: tuple[PodClient, PodClient], store_one: ResourceStore, children: int
) -> None:
    """Worker two keeps its listing (compact, as metadata); each child that worker one adds,
    removes or rewrites is in worker two's next answer, in every format, also for a listing
    large enough to be serialized in parts."""
    one, two = workers
    folder = POD + "many/"
    for i in range(children):  # through the store: a thousand PUTs over HTTP take long
        await store_one.put(f"{folder}c{i:05d}", data=b"<#a> <#b> 1 .", content_type="text/turtle")
    first = await _listed(two, folder)
    names = {url(f"{folder}c{i:05d}") for i in range(children)}
    assert {str(o) for o in first.objects(URIRef(url(folder)), CONTAINS)} == names
    assert (await one.put(folder + "new", data="<#a> <#b> 2 .", headers=TURTLE)).status == 201
    assert (await one.delete(f"{folder}c00000")).status == 204
    body = "<#a> <#b> " + " , ".join(str(n) for n in range(50)) + " ."
    assert (await one.put(f"{folder}c00001", data=body, headers=TURTLE)).status == 204
    size = len(await (await one.get(f"{folder}c00001")).read())
    names = names - {url(f"{folder}c00000")} | {url(folder + "new")}
    turtle = await _listed(two, folder)
    for media in ("application/ld+json", "application/n-triples", "application/rdf+xml"):
        assert set(await _listed(two, folder, media)) == set(turtle), media
    assert {str(o) for o in turtle.objects(URIRef(url(folder)), CONTAINS)} == names
    listed_size = turtle.value(URIRef(url(f"{folder}c00001")), STAT_SIZE)
    assert isinstance(listed_size, Literal)
    assert listed_size.toPython() == size
