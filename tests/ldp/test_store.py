"""The store stack under the HTTP layer: each layer, and what the top announces on the feed."""

from __future__ import annotations

import pytest
from aiohttp.web import Application

from pod.feed import Change, Event, RecordChanged, ResourceChanged
from pod.http.keys import FEED, STORE
from pod.ldp.announcing import AnnouncingStore
from pod.ldp.converting import ConvertingStore
from pod.ldp.listings import CachedListings
from pod.ldp.locks import LockingStore
from pod.ldp.resources import layer
from pod.ldp.rules import SolidRules
from pod.ldp.storages import Storages
from tests.conftest import POD, Client

TURTLE = {"Content-Type": "text/turtle"}


def test_the_stack_is_stacked_in_order(app: Application) -> None:
    store = app[STORE]
    assert isinstance(store, AnnouncingStore)
    order = []
    current: object = store
    while current is not None:
        order.append(type(current))
        current = getattr(current, "inner", None)
    assert order == [AnnouncingStore, ConvertingStore, CachedListings, LockingStore, SolidRules]
    assert layer(store, SolidRules).url(POD) == store.url(POD)
    with pytest.raises(LookupError):
        layer(store, Storages)


async def test_each_write_announces_its_changes_with_who_made_them(
    client: Client, app: Application
) -> None:
    seen: list[Event] = []
    app[FEED].subscribe(seen.append)
    r = await client.put(POD + "a/b/doc", data="<#a> <#b> <#c> .", headers=TURTLE)
    assert r.status == 201
    resources = [e for e in seen if isinstance(e, ResourceChanged)]
    assert [(e.change, e.path, e.child) for e in resources] == [
        (Change.CREATE, POD + "a/", None),
        (Change.ADD, POD, POD + "a/"),
        (Change.CREATE, POD + "a/b/", None),
        (Change.ADD, POD + "a/", POD + "a/b/"),
        (Change.CREATE, POD + "a/b/doc", None),
        (Change.ADD, POD + "a/b/", POD + "a/b/doc"),
    ]
    assert client.agent is not None
    for event in resources:
        assert event.actor.webid == client.agent.webid
        assert event.actor.request_id == r.headers["X-Request-Id"]
    assert resources[-2].version == r.headers["ETag"].strip('"')
    seen.clear()
    r = await client.delete(POD + "a/b/doc")
    assert r.status == 204
    changes = [(e.change, e.path) for e in seen if isinstance(e, ResourceChanged)]
    assert changes == [(Change.DELETE, POD + "a/b/doc"), (Change.REMOVE, POD + "a/b/")]


async def test_a_refused_write_announces_nothing(client: Client, app: Application) -> None:
    seen: list[Event] = []
    app[FEED].subscribe(seen.append)
    r = await client.put(POD + "doc", data="<#a> <#b> <#c> .", headers=TURTLE, as_agent=None)
    assert r.status == 401
    r = await client.put(POD + "doc", data="not turtle <", headers=TURTLE)
    assert r.status == 400
    assert not [e for e in seen if not isinstance(e, RecordChanged)]


async def test_an_unchanged_container_description_announces_nothing(
    client: Client, app: Application
) -> None:
    assert (await client.put(POD + "box/", data="", headers=TURTLE)).status == 201
    seen: list[Event] = []
    app[FEED].subscribe(seen.append)
    r = await client.put(POD + "box/", data="", headers=TURTLE)
    assert r.status == 204
    assert not [e for e in seen if isinstance(e, ResourceChanged)]
