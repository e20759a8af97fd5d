"""Byte ranges on non-RDF resources (RFC 9110 §14)."""

from __future__ import annotations

from tests.conftest import POD, Client

BLOB = bytes(range(256)) * 4  # 1024 bytes


async def put_blob(client: Client) -> None:
    r = await client.put(
        POD + "blob", data=BLOB, headers={"Content-Type": "application/octet-stream"}
    )
    assert r.status == 201


async def test_range_gives_206(client: Client) -> None:
    await put_blob(client)
    r = await client.get(POD + "blob", headers={"Range": "bytes=10-19"})
    assert r.status == 206
    assert await r.read() == BLOB[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/1024"


async def test_open_and_suffix_ranges(client: Client) -> None:
    await put_blob(client)
    r = await client.get(POD + "blob", headers={"Range": "bytes=1000-"})
    assert await r.read() == BLOB[1000:]
    assert r.headers["Content-Range"] == "bytes 1000-1023/1024"
    r = await client.get(POD + "blob", headers={"Range": "bytes=-4"})
    assert await r.read() == BLOB[-4:]
    r = await client.get(POD + "blob", headers={"Range": "bytes=1000-5000"})
    assert r.status == 206
    assert await r.read() == BLOB[1000:]


async def test_unsatisfiable_range_gives_416(client: Client) -> None:
    await put_blob(client)
    r = await client.get(POD + "blob", headers={"Range": "bytes=2000-3000"})
    assert r.status == 416
    assert r.headers["Content-Range"] == "bytes */1024"


async def test_if_range_with_stale_etag_sends_everything(client: Client) -> None:
    await put_blob(client)
    r = await client.get(POD + "blob", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert r.status == 200
    assert await r.read() == BLOB


async def test_range_is_ignored_on_rdf(client: Client) -> None:
    await client.put(POD + "doc", data="<#a> <#b> <#c> .", headers={"Content-Type": "text/turtle"})
    r = await client.get(POD + "doc", headers={"Range": "bytes=0-3"})
    assert r.status == 200
    assert r.headers.get("Accept-Ranges", True)
