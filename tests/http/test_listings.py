"""Container listings under concurrency: requests for one listing share its build, a change
announced during a build is in the next answer, and builds at once are bounded (issue 13)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from rdflib import Graph, Namespace, URIRef

from pod.ldp.listings import LISTING_BUILDS
from pod.model import Metadata
from pod.storage.base import Backend
from tests.conftest import POD, Client, url

LDP = Namespace("http://www.w3.org/ns/ldp#")
TURTLE = {"Content-Type": "text/turtle"}
READ_TURTLE = {"Accept": "text/turtle"}


class Lister:
    """Watches the backend's `children` (the real one runs): how many listings were read, how
    many at most at once, and, while `gate` is set, holds the next one, once read, until the
    gate opens (so what it read may be out of date by then).
    Each call yields to the event loop first, as a slow disk or database would, so concurrent
    requests really overlap on every backend."""

    def __init__(self, backend: Backend) -> None:
        self.calls: list[str] = []
        self.running = 0
        self.most = 0
        self.gate: asyncio.Event | None = None
        self.held = asyncio.Event()
        real: Callable[[str], Awaitable[list[Metadata]]] = backend.children

        async def children(path: str) -> list[Metadata]:
            self.calls.append(path)
            self.running += 1
            self.most = max(self.most, self.running)
            try:
                gate, self.gate = self.gate, None
                await asyncio.sleep(0.02)
                found = await real(path)
                if gate is not None:
                    self.held.set()
                    await gate.wait()
                return found
            finally:
                self.running -= 1

        backend.children = children  # type: ignore[method-assign]


@pytest.fixture
def lister(backend: Backend) -> Lister:
    return Lister(backend)


async def _fill(client: Client, container: str, count: int) -> None:
    for i in range(count):
        r = await client.put(f"{container}item-{i:03d}", data="<#a> <#b> <#c> .", headers=TURTLE)
        assert r.status == 201, await r.text()


def _contained(body: str, container: str) -> set[str]:
    g = Graph().parse(data=body, format="turtle", publicID=url(container))
    return {str(o) for o in g.objects(URIRef(url(container)), LDP.contains)}


async def test_concurrent_gets_of_a_container_share_one_build(
    client: Client, lister: Lister
) -> None:
    container = POD + "many/"
    await _fill(client, container, 40)
    lister.calls.clear()
    answers = await asyncio.gather(*(client.get(container, headers=READ_TURTLE) for _ in range(16)))
    bodies = {await r.text() for r in answers}
    assert [r.status for r in answers] == [200] * 16
    assert len(bodies) == 1  # identical listings
    expected = {url(f"{container}item-{i:03d}") for i in range(40)}
    assert _contained(bodies.pop(), container) == expected
    assert lister.calls.count(container) == 1  # one build served all 16


async def test_a_child_added_during_a_build_is_listed_on_the_next_request(
    client: Client, lister: Lister
) -> None:
    container = POD + "busy/"
    await _fill(client, container, 3)
    lister.gate = gate = asyncio.Event()
    first = asyncio.ensure_future(client.get(container, headers=READ_TURTLE))
    await asyncio.wait_for(lister.held.wait(), 5)  # the first build is under way, held
    r = await client.put(container + "late", data="<#a> <#b> <#c> .", headers=TURTLE)
    assert r.status == 201
    second = asyncio.ensure_future(client.get(container, headers=READ_TURTLE))
    await asyncio.sleep(0.05)  # the second request is in, while the first build still waits
    gate.set()
    assert (await first).status == 200
    after = await second
    assert after.status == 200
    assert url(container + "late") in _contained(await after.text(), container)
    third = await client.get(container, headers=READ_TURTLE)
    assert url(container + "late") in _contained(await third.text(), container)


async def test_builds_of_different_containers_at_once_are_bounded(
    client: Client, lister: Lister
) -> None:
    containers = [f"{POD}c{i}/" for i in range(6)]
    for container in containers:
        await _fill(client, container, 2)
    lister.calls.clear()
    lister.most = 0
    answers = await asyncio.gather(
        *(client.get(c, headers=READ_TURTLE) for c in containers for _ in range(4))
    )
    assert {r.status for r in answers} == {200}
    assert sorted(lister.calls) == sorted(containers)  # one build per container
    assert lister.most == LISTING_BUILDS  # never more at once, whatever was asked
