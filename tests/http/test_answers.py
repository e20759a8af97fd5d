"""Kept answers to anonymous reads (pod.http.answers): served again only while everything they were
built from holds, over real HTTP, on both backends (issue 13, target 1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from aiohttp.web import Application

from pod.acl.authorizer import GrantAll
from pod.acl.defaults import create_owned_storage
from pod.app import create_app
from pod.config import Settings
from pod.http.answers import MAX_BODY_BYTES, VARIANTS_PER_PATH
from pod.http.keys import ANSWERS, STORE
from pod.model import AccessMode, Credentials
from pod.storage.base import Backend
from tests.conftest import POD, ClientFactory, url
from tests.support import Agent, PodClient

TURTLE = {"Content-Type": "text/turtle"}
DOC = POD + "public"
ACL = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<#owner> a acl:Authorization ; acl:agent <{owner}> ; acl:accessTo <{doc}> ; acl:default <{doc}> ;
  acl:mode acl:Read, acl:Write, acl:Control .
"""
PUBLIC = """<#public> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:accessTo <{doc}> ;
  acl:default <{doc}> ; acl:mode acl:Read {origin} .
"""
# What differs between two answers to the same request by design.
PER_REQUEST = frozenset({"x-request-id", "date"})


async def publish(client: PodClient, owner: Agent, path: str, *, origin: str = "") -> None:
    """Let the public read `path` (only from `origin`, when given)."""
    restriction = f"; acl:origin <{origin}>" if origin else ""
    public = PUBLIC.format(doc=url(path), origin=restriction)
    body = ACL.format(owner=owner.webid, doc=url(path)) + public
    assert (await client.put(path + ".acl", data=body, headers=TURTLE)).status in (201, 204)


def answer(response: ClientResponse, body: bytes) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k.lower() not in PER_REQUEST)
    return response.status, body, headers


@pytest.fixture
async def pod(client: PodClient, alice: Agent) -> PodClient:
    assert (await client.put(DOC, data='<#a> <#b> "first" .', headers=TURTLE)).status == 201
    await publish(client, alice, DOC)
    return client


@pytest.mark.parametrize("accept", ["text/turtle", "application/ld+json", None])
@pytest.mark.parametrize("origin", [None, "https://app.example"])
async def test_a_kept_answer_is_the_answer(
    pod: PodClient, app: Application, accept: str | None, origin: str | None
) -> None:
    headers = {k: v for k, v in (("Accept", accept), ("Origin", origin)) if v is not None}
    first = await pod.get(DOC, as_agent=None, headers=headers)
    first_answer = answer(first, await first.read())
    assert first.status == 200
    assert len(app[ANSWERS]) == 1
    again = await pod.get(DOC, as_agent=None, headers=headers)
    assert answer(again, await again.read()) == first_answer
    assert again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    if origin is not None:
        assert again.headers["Access-Control-Allow-Origin"] == origin
    head = await pod.head(DOC, as_agent=None, headers=headers)
    assert await head.read() == b""
    assert answer(head, b"")[2] == first_answer[2]


async def test_a_write_shows_at_once(pod: PodClient) -> None:
    assert "first" in await (await pod.get(DOC, as_agent=None)).text()
    assert (await pod.put(DOC, data='<#a> <#b> "second" .', headers=TURTLE)).status == 204
    text = await (await pod.get(DOC, as_agent=None)).text()
    assert "second" in text
    assert (await pod.delete(DOC)).status == 204
    # Its ACL went with it: to the public it is as missing as anything it may not read.
    assert (await pod.get(DOC, as_agent=None)).status == 401


async def test_a_withdrawn_grant_holds_for_the_next_request(pod: PodClient, alice: Agent) -> None:
    assert (await pod.get(DOC, as_agent=None)).status == 200
    only_owner = ACL.format(owner=alice.webid, doc=url(DOC))
    assert (await pod.put(DOC + ".acl", data=only_owner, headers=TURTLE)).status == 204
    assert (await pod.get(DOC, as_agent=None)).status == 401


async def test_an_origin_restriction_is_not_shared_between_origins(
    client: PodClient, alice: Agent
) -> None:
    assert (await client.put(DOC, data="<#a> <#b> 1 .", headers=TURTLE)).status == 201
    await publish(client, alice, DOC, origin="https://trusted.example")
    trusted = {"Origin": "https://trusted.example"}
    for _ in range(2):
        assert (await client.get(DOC, as_agent=None, headers=trusted)).status == 200
        other = await client.get(DOC, as_agent=None, headers={"Origin": "https://other.example"})
        assert other.status in (401, 403)


async def test_a_container_listing_shows_a_new_child(pod: PodClient, alice: Agent) -> None:
    folder = POD + "open/"
    assert (await pod.put(folder + "a", data="<#a> <#b> 1 .", headers=TURTLE)).status == 201
    await publish(pod, alice, folder)
    assert url(folder + "a") in await (await pod.get(folder, as_agent=None)).text()
    assert (await pod.put(folder + "b", data="<#a> <#b> 2 .", headers=TURTLE)).status == 201
    assert url(folder + "b") in await (await pod.get(folder, as_agent=None)).text()


async def test_conditions_and_ranges_are_answered_afresh_and_agents_get_their_own(
    pod: PodClient, app: Application
) -> None:
    first = await pod.get(DOC, as_agent=None)
    etag = first.headers["ETag"]
    assert (await pod.get(DOC, as_agent=None, headers={"If-None-Match": etag})).status == 304
    ranged = await pod.get(DOC, as_agent=None, headers={"Range": "bytes=0-3"})
    assert ranged.status in (200, 206)  # RDF may be served whole (RFC 9110 §14.2)
    for _ in range(2):  # alice, authenticated: her WAC-Allow, never the public's
        owner = await pod.get(DOC)
        assert 'user="read write append control"' in owner.headers["WAC-Allow"]
        public = await pod.get(DOC, as_agent=None)
        assert public.headers["WAC-Allow"] == 'user="read",public="read"'
    assert len(app[ANSWERS]) == 1


async def test_a_file_replaced_by_hand_is_noticed(
    pod: PodClient, backend_kind: str, data_dir: Path
) -> None:
    if backend_kind != "fs":
        pytest.skip("only files can be replaced by hand")
    assert "first" in await (await pod.get(DOC, as_agent=None)).text()
    stored = data_dir / DOC.strip("/")
    [found] = [
        p for p in stored.parent.iterdir() if p.name.startswith("public") and "acl" not in p.name
    ]
    found.write_text('<#a> <#b> "by hand" .')
    later = found.stat().st_mtime_ns + 5_000_000
    os.utime(found, ns=(later, later))
    assert "by hand" in await (await pod.get(DOC, as_agent=None)).text()


async def test_variants_and_bodies_are_bounded(
    pod: PodClient, app: Application, alice: Agent
) -> None:
    for i in range(VARIANTS_PER_PATH + 5):
        response = await pod.get(DOC, as_agent=None, headers={"Accept": f"text/turtle;q=0.{i + 1}"})
        assert response.status == 200
    variants = app[ANSWERS]._kept.get(DOC)
    assert variants is not None
    assert len(variants) == VARIANTS_PER_PATH
    big = POD + "big"
    body = b"x" * (MAX_BODY_BYTES + 1)
    assert (await pod.put(big, data=body, headers={"Content-Type": "text/plain"})).status == 201
    await publish(pod, alice, big)
    assert (await pod.get(big, as_agent=None)).status == 200
    assert app[ANSWERS]._kept.get(big) is None


class OfficeHours:
    """A reader that decides by something the change feed never announces (a switch here)."""

    def __init__(self) -> None:
        self.open = True

    async def modes(self, credentials: Credentials, path: str) -> AccessMode:
        return AccessMode.READ if self.open else AccessMode.NONE


async def test_nothing_is_kept_over_a_reader_that_does_not_follow_the_feed(
    aiohttp_client: ClientFactory, settings: Settings, backend: Backend, alice: Agent
) -> None:
    hours = OfficeHours()
    app = create_app(settings, backend=backend, readers=[hours], more_readers=[GrantAll()])
    assert not app[ANSWERS].enabled
    app = create_app(settings, backend=backend, readers=[hours])
    client = PodClient(await aiohttp_client(app), alice)
    await create_owned_storage(app[STORE], POD, owner=alice.webid)
    await app[STORE].put(DOC, data=b"<#a> <#b> 1 .", content_type="text/turtle")
    assert (await client.get(DOC, as_agent=None)).status == 200
    hours.open = False
    assert (await client.get(DOC, as_agent=None)).status == 401
    assert len(app[ANSWERS]) == 0


async def test_a_change_through_another_worker_drops_the_answer(
    worker_apps: list[Application], workers: tuple[PodClient, PodClient], alice: Agent
) -> None:
    apps = worker_apps
    one, two = workers
    assert (await one.put(DOC, data="<#a> <#b> 1 .", headers=TURTLE)).status == 201
    await publish(one, alice, DOC)
    assert (await two.get(DOC, as_agent=None)).status == 200
    assert len(apps[1][ANSWERS]) == 1
    only_owner = ACL.format(owner=alice.webid, doc=url(DOC))
    assert (await one.put(DOC + ".acl", data=only_owner, headers=TURTLE)).status == 204
    assert len(apps[1][ANSWERS]) == 0
    assert (await two.get(DOC, as_agent=None)).status == 401
