"""What requests leave behind in the store's caches: bounded in bytes, never stale, never shared
between two apps (issue 10, items 10 and 21)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.web import Application

from pod import paths
from pod.acl.defaults import create_owned_storage
from pod.acl.wac_reader import WacReader
from pod.app import create_app
from pod.cache import LruCache
from pod.config import Settings
from pod.http.keys import AUTHORIZER, HEADERS, QUOTAS, STORE
from pod.ldp import negotiation, rdf
from pod.ldp.converting import ConvertingStore
from pod.ldp.listings import CachedListings
from pod.ldp.resources import ResourceStore, layer
from pod.storage.fs import FileBackend
from pod.storage.memory import MemoryBackend
from tests.conftest import POD, Client, url
from tests.support import Agent, PodClient

TURTLE = {"Content-Type": "text/turtle"}
PUBLIC_READ = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<#owner> a acl:Authorization ; acl:agent <{owner}> ; acl:accessTo <{doc}> ;
  acl:mode acl:Read, acl:Write, acl:Control .
<#public> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:accessTo <{doc}> ;
  acl:mode acl:Read .
"""
# Formats pyoxigraph writes quickly; each is a conversion of the stored Turtle.
FORMATS = (
    "application/n-triples",
    "application/rdf+xml",
    "text/n3",
    "application/n-quads",
    "application/trig",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Room for a document of about a megabyte."""
    return replace(settings, max_rdf_bytes=2_000_000, max_body_bytes=4_000_000)


def big_document(version: int) -> str:
    """About 0.9 MB of Turtle (below the 1 MiB at which aiohttp warns of a raw body), different
    in each version."""
    lines = (
        f'<#s{i}> <http://example.org/p{i % 7}> "version {version}, value {i}: {"." * 40}" .'
        for i in range(9_000)
    )
    return "\n".join(lines)


async def test_conversions_of_old_versions_do_not_linger(
    client: Client, store: ResourceStore, alice: Agent
) -> None:
    """Reading each new version of a big public document in several formats kept every
    conversion of every version (about 7 MB per version of a 1 MB document, 4,096 entries
    whatever their size); now a write drops the old version's conversions, and the cache stays
    within its byte budget."""
    doc = POD + "big"
    acl = PUBLIC_READ.format(owner=alice.webid, doc=url(doc))
    for version in range(5):
        r = await client.put(doc, data=big_document(version), headers=TURTLE)
        assert r.status in (201, 204), await r.text()
        if version == 0:
            assert (await client.put(doc + ".acl", data=acl, headers=TURTLE)).status == 201
        served = 0
        for media in FORMATS:
            for _ in range(2):  # the second read is served from the cache
                r = await client.get(doc, as_agent=None, headers={"Accept": media})
                assert r.status == 200, await r.text()
                assert r.headers["Content-Type"] == media
            served += len(await r.read())
        conversions = layer(store, ConvertingStore).conversions
        assert served <= conversions.bytes <= served + 4096  # this version's, and only those
        assert conversions.bytes <= conversions.max_bytes


async def test_listings_count_every_serialization_they_keep(
    client: Client, store: ResourceStore
) -> None:
    """A listing is kept, and with it each format it was served in: the caches count them
    all."""
    for i in range(50):
        r = await client.put(f"{POD}list/doc-{i}", data="<#a> <#b> 1 .", headers=TURTLE)
        assert r.status == 201
    served = 0
    for media in ("text/turtle", *FORMATS, "application/ld+json"):
        r = await client.get(POD + "list/", headers={"Accept": media})
        assert r.status == 200
        served += len(await r.read())
    listings = layer(store, CachedListings).listings
    conversions = layer(store, ConvertingStore).conversions
    assert len(listings) == 1
    assert listings.bytes <= listings.max_bytes
    assert served <= conversions.bytes <= conversions.max_bytes


async def test_headers_of_many_long_paths_are_bounded(client: Client, app: Application) -> None:
    """Anyone may ask OPTIONS of any path: each answer's headers are kept, counted by size."""
    header_cache = app[HEADERS]
    names = [f"{i:04d}-" + "n" * 190 for i in range(100)]
    before = header_cache.bytes
    for name in names:
        path = f"{POD}{name}/{name}/{name}/{name}"
        r = await client.options(path, as_agent=None)
        assert r.status == 204
        assert url(path) + ".acl" in r.headers["Link"]
    kept = header_cache.bytes - before
    # the key's path, the acl and the describedby link: three copies of each path at least
    assert kept >= 3 * 100 * len(f"{POD}{names[0]}/" * 4)
    assert header_cache.bytes <= header_cache.max_bytes


async def test_a_write_answers_with_headers_it_does_not_keep(
    client: Client, app: Application
) -> None:
    """Thousands of new documents (a bulk upload) must not fill the header cache: a write's
    answer builds its Link headers; the first read of the document keeps them."""
    header_cache = app[HEADERS]
    before = len(header_cache)
    for i in range(20):
        r = await client.put(f"{POD}bulk/d{i}", data="<#a> <#b> 1 .", headers=TURTLE)
        assert r.status == 201
        assert url(f"{POD}bulk/d{i}.acl") in r.headers["Link"]
    assert len(header_cache) - before <= 2  # the new container's, at most
    assert (await client.get(f"{POD}bulk/d0")).status == 200
    assert len(header_cache) - before <= 3


async def test_two_apps_in_one_process_advertise_their_own_urls(
    aiohttp_client: Any, alice: Agent, tmp_path: Path
) -> None:
    """The Link headers of one path were cached for the whole process: an app at b.example
    advertised a.example's ACL, description and storage URLs (issue 10, item 21)."""
    clients = {}
    for host in ("a.example", "b.example"):
        settings = Settings(base_url=f"http://{host}/", data_dir=tmp_path / host, access_log=False)
        app: Application = create_app(settings, backend=MemoryBackend())
        clients[host] = PodClient(await aiohttp_client(app), None)
        await create_owned_storage(app[STORE], POD, owner=alice.webid)
    for path in (POD + "doc", POD, "/"):
        for host, other in (("a.example", "b.example"), ("b.example", "a.example")):
            r = await clients[host].options(path)
            assert r.status == 204
            link = r.headers["Link"]
            if path != "/":
                assert f"<http://{host}{path}.acl>; " in link
                assert f"<http://{host}{POD}.well-known/solid>; " in link
            assert other not in link, link


async def test_anonymous_requests_for_many_long_paths_leave_bounded_state(
    client: Client, app: Application, backend_kind: str
) -> None:
    """Each anonymous GET of a new path, from a new Origin, left a parsed path, the file paths
    of every ACL above it, the effective rules, the ACL documents looked for, and a decision
    keyed by path and Origin: all kept by count only. Each is now counted by its size too."""
    authorizer = app[AUTHORIZER].readers[0]
    assert isinstance(authorizer, WacReader)
    caches: dict[str, LruCache[Any, Any]] = {
        "parsed paths": paths._parsed,
        "decisions": authorizer._decisions,
        "rules": authorizer._rules,
        "ACL documents": authorizer._documents,
    }
    backend = app[QUOTAS].backend  # the backend itself, under the quota counter
    if isinstance(backend, FileBackend):
        caches["file paths"] = backend._fs_paths
    before = {name: cache.bytes for name, cache in caches.items()}
    requests = 60
    run = secrets.token_hex(4)  # the parsed-path memo is the process's: new paths every run
    names = [f"{run}-{i:04d}-" + "n" * 180 for i in range(requests)]
    for i, name in enumerate(names):
        path = f"{POD}{name}/{name}/{name}/{name}"
        origin = f"https://{i}.example/" + "o" * 3000
        r = await client.get(path, as_agent=None, headers={"Origin": origin})
        assert r.status == 401
        # each kept entry counts the path it is kept for (decisions: the Origin too)
        for cache_name, cache in caches.items():
            assert cache.bytes <= cache.max_bytes, cache_name
    path_bytes = len(f"{POD}{names[0]}/" * 4)
    for cache_name, least in (
        ("parsed paths", path_bytes),
        ("decisions", path_bytes + 3000),
        ("rules", path_bytes),
        ("ACL documents", path_bytes),
        ("file paths", path_bytes),
    ):
        if cache_name in caches:
            grown = caches[cache_name].bytes - before[cache_name]
            assert grown >= requests * least, cache_name


async def test_long_accept_and_content_type_headers_are_not_memoized(client: Client) -> None:
    """The memos of content negotiation took any header up to aiohttp's 8 KB limit, 1,024 and
    512 of them: 8 MB and more. They now keep short headers only, where real ones are."""
    memos = (negotiation.choose, rdf.canonical_type, rdf.is_rdf_type)
    doc = POD + "memo"

    async def write_and_read(content_type: str, accept: str) -> None:
        r = await client.put(doc, data="<#a> <#b> 1 .", headers={"Content-Type": content_type})
        assert r.status in (201, 204), await r.text()
        r = await client.get(doc, headers={"Accept": accept})
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/turtle"

    run = secrets.token_hex(4)
    for i in range(20):
        await write_and_read("text/turtle", "text/turtle;q=0.9")  # short: memoized
        misses = [memo.cache_info().misses for memo in memos]
        padding = f"{run}{i}" + "x" * 4000
        await write_and_read(f"text/turtle; p={padding}", f"text/turtle;q=0.9;p={padding}")
        assert [memo.cache_info().misses for memo in memos] == misses
