"""Conditional requests and ETags (RFC 9110 §13)."""

from __future__ import annotations

import dataclasses

from pod.acl.defaults import create_owned_storage
from pod.app import create_app
from pod.config import Settings
from pod.http.keys import STORE
from pod.ldp import rdf
from pod.model import Metadata
from pod.storage.memory import MemoryBackend
from tests.conftest import POD, Client, ClientFactory
from tests.support import Agent, PodClient

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


class _HyphenatedVersions:
    """A backend whose versions contain hyphens (a date, a UUID, a PostgreSQL xid-epoch...):
    the Backend contract makes versions opaque, so nothing may read meaning into their parts."""

    def __init__(self) -> None:
        self._inner = MemoryBackend()

    @staticmethod
    def _meta(meta: Metadata) -> Metadata:
        return dataclasses.replace(meta, version=f"2026-12-{meta.version}")

    async def stat(self, path: str) -> Metadata | None:
        meta = await self._inner.stat(path)
        return None if meta is None else self._meta(meta)

    async def read(
        self, path: str, *, start: int = 0, end: int | None = None
    ) -> tuple[Metadata, bytes]:
        meta, data = await self._inner.read(path, start=start, end=end)
        return self._meta(meta), data

    async def write(
        self, path: str, data: bytes, *, content_type: str, create_only: bool = False
    ) -> Metadata:
        written = await self._inner.write(
            path, data, content_type=content_type, create_only=create_only
        )
        return self._meta(written)

    async def delete(self, path: str) -> None:
        await self._inner.delete(path)

    async def children(self, path: str) -> list[Metadata]:
        return [self._meta(m) for m in await self._inner.children(path)]

    async def set_attrs(self, path: str, attrs: dict[str, str]) -> Metadata:
        return self._meta(await self._inner.set_attrs(path, attrs))

    async def close(self) -> None:
        await self._inner.close()


async def test_if_match_compares_whole_etags_even_when_versions_hold_hyphens(
    aiohttp_client: ClientFactory, settings: Settings, alice: Agent
) -> None:
    """Issue 10 item 20: a different version sharing the part before a hyphen must not pass."""
    app = create_app(settings, backend=_HyphenatedVersions())
    client = PodClient(await aiohttp_client(app), alice)
    await create_owned_storage(app[STORE], POD, owner=alice.webid)
    r = await client.put(POD + "doc", data=DOC, headers=TURTLE)
    etag = r.headers["ETag"]
    assert "-" in etag
    for stale in ('"2026-12-ffff"', '"2026-x"', '"2026"'):
        r = await client.put(
            POD + "doc", data="<#a> <#b> 2 .", headers={**TURTLE, "If-Match": stale}
        )
        assert r.status == 412, (stale, await r.text())
        r = await client.delete(POD + "doc", headers={"If-Match": stale})
        assert r.status == 412
    jsonld = (await client.get(POD + "doc", headers={"Accept": rdf.JSON_LD})).headers["ETag"]
    r = await client.put(POD + "doc", data=DOC, headers={**TURTLE, "If-Match": jsonld})
    assert r.status == 204
    r = await client.put(POD + "doc", data=DOC, headers={**TURTLE, "If-None-Match": '"2026"'})
    assert r.status == 204
    r = await client.get(POD + "doc", headers={"If-None-Match": '"2026"'})
    assert r.status == 200
