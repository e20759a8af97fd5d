"""Two workers over one storage and one change feed: what one writes, the other's caches follow.

Issue 12: every cache kept itself fresh by seeing the writes of its own process, so with two
workers a revocation through one never reached the other. Here two apps (two workers, as the
PostgreSQL backend will run them) share a backend and a change feed; each has its own caches.
"""

from __future__ import annotations

import pytest
from aiohttp.web import Application

from pod.acl.defaults import create_owned_storage
from pod.app import create_app
from pod.config import Settings
from pod.feed import LocalFeed
from pod.http.keys import STORE
from pod.storage.base import Backend
from tests.conftest import POD, ClientFactory, url
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
async def workers(
    aiohttp_client: ClientFactory, settings: Settings, backend: Backend, alice: Agent
) -> tuple[PodClient, PodClient]:
    feed = LocalFeed()
    apps: list[Application] = [create_app(settings, backend=backend, feed=feed) for _ in range(2)]
    clients = [PodClient(await aiohttp_client(app), alice) for app in apps]
    await create_owned_storage(apps[0][STORE], POD, owner=alice.webid)
    return clients[0], clients[1]


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
