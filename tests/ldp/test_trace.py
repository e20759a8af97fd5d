"""What one request costs the backend: the calls a PATCH makes, traced over real HTTP.

Issue 12: a PATCH stat-ed its target five times and checked "non-RDF cannot be patched" twice.
Now the authorizer looks at the target once on the way in, the store looks again under its lock
(for the version), reads it only if it does not keep that version parsed, and writes it once, or
not at all if the patch changes nothing; the quota counter looks once more, for the size the
write replaces; the response's headers come from the write's own metadata.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.web import Application

from pod.acl.defaults import create_owned_storage
from pod.app import create_app
from pod.config import Settings
from pod.http.keys import STORE
from pod.storage.base import Backend
from tests.conftest import POD, ClientFactory
from tests.support import Agent, PodClient, Traced

TURTLE = {"Content-Type": "text/turtle"}
N3 = {"Content-Type": "text/n3"}
INSERT = (
    "@prefix solid: <http://www.w3.org/ns/solid/terms#>. "
    '_:p a solid:InsertDeletePatch; solid:inserts {{ <#s> <#p> "{value}" }}.'
)


@pytest.fixture
def traced(backend: Backend) -> Traced:
    return Traced(backend)


@pytest.fixture
def app(settings: Settings, traced: Traced) -> Application:
    return create_app(settings, backend=traced)


async def _client(aiohttp_client: ClientFactory, app: Application, alice: Agent) -> PodClient:
    test_client = await aiohttp_client(app)
    await create_owned_storage(app[STORE], POD, owner=alice.webid)
    return PodClient(test_client, alice)


async def test_a_patch_reads_once_then_keeps_the_document_parsed(
    aiohttp_client: ClientFactory, app: Application, alice: Agent, traced: Traced
) -> None:
    client = await _client(aiohttp_client, app, alice)
    doc = POD + "notes/doc"
    assert (await client.put(doc, data="<#a> <#b> <#c> .", headers=TURTLE)).status == 201
    # The first PATCH warms the access decision and reads the document once; the second is the
    # steady state: a look on the way in, one inside the lock for the version, one by the quota
    # counter for the size the write replaces (pod.ldp.quotas), and the write.
    traced.calls.clear()
    r = await client.patch(doc, data=INSERT.format(value="one"), headers=N3)
    assert r.status == 204, await r.text()
    assert traced.calls.count(("read", doc)) == 1
    traced.calls.clear()
    r = await client.patch(doc, data=INSERT.format(value="two"), headers=N3)
    assert r.status == 204, await r.text()
    assert traced.calls == [("stat", doc), ("stat", doc), ("stat", doc), ("write", doc)]
    assert r.headers["ETag"]
    assert 'rel="acl"' in r.headers["Link"]
    assert '"two"' in await (await client.get(doc)).text()


async def test_a_patch_that_changes_nothing_writes_nothing(
    aiohttp_client: ClientFactory, app: Application, alice: Agent, traced: Traced
) -> None:
    client = await _client(aiohttp_client, app, alice)
    doc = POD + "notes/doc"
    assert (await client.put(doc, data="<#a> <#b> <#c> .", headers=TURTLE)).status == 201
    first = await client.patch(doc, data=INSERT.format(value="one"), headers=N3)
    assert first.status == 204, await first.text()
    traced.calls.clear()
    again = await client.patch(doc, data=INSERT.format(value="one"), headers=N3)
    assert again.status == 204, await again.text()
    assert traced.calls == [("stat", doc), ("stat", doc)]
    assert again.headers["ETag"] == first.headers["ETag"]


async def test_a_patch_of_a_file_is_refused_without_reading_it(
    aiohttp_client: ClientFactory, app: Application, alice: Agent, traced: Traced
) -> None:
    client = await _client(aiohttp_client, app, alice)
    photo = POD + "photo.png"
    data = b"\x89PNG" + bytes(4096)
    r = await client.put(photo, data=data, headers={"Content-Type": "image/png"})
    assert r.status == 201
    await client.patch(photo, data=INSERT.format(value="x"), headers=N3)  # warms the decision
    traced.calls.clear()
    r = await client.patch(photo, data=INSERT.format(value="x"), headers=N3)
    assert r.status == 415
    assert "cannot be patched" in await r.text()
    assert traced.calls == [("stat", photo)]


async def test_a_patch_creating_a_document_looks_up_to_the_nearest_container(
    aiohttp_client: ClientFactory, app: Application, alice: Agent, traced: Traced
) -> None:
    client = await _client(aiohttp_client, app, alice)
    doc = POD + "new/doc"
    traced.calls.clear()
    r = await client.patch(doc, data=INSERT.format(value="x"), headers=N3)
    assert r.status == 201, await r.text()
    writes: list[Any] = [c for c in traced.calls if c[0] == "write"]
    assert writes == [("write", POD + "new/"), ("write", doc)]
    assert ("read", doc) not in traced.calls  # not there: nothing to read
