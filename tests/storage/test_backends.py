"""The Backend contract (pod/storage/base.py), checked against every backend."""

from __future__ import annotations

import pytest

from pod.errors import Conflict, NotFound
from pod.storage.base import Backend


async def test_root_exists(backend: Backend) -> None:
    meta = await backend.stat("/")
    assert meta is not None
    assert meta.is_container


async def test_write_read_and_versions(backend: Backend) -> None:
    first = await backend.write("/a", b"one", content_type="text/plain")
    meta, data = await backend.read("/a")
    assert data == b"one"
    assert meta.content_type == "text/plain"
    assert meta.size == 3
    assert meta.version == first.version
    seen = {first.version}
    for i in range(5):
        m = await backend.write("/a", b"one", content_type="text/plain")
        assert m.version not in seen, i
        seen.add(m.version)


async def test_read_range(backend: Backend) -> None:
    await backend.write("/r", b"0123456789", content_type="application/octet-stream")
    _, data = await backend.read("/r", start=2, end=5)
    assert data == b"234"
    _, data = await backend.read("/r", start=8)
    assert data == b"89"


async def test_missing_parent_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await backend.write("/no/such/file", b"x", content_type="text/plain")


async def test_create_only(backend: Backend) -> None:
    await backend.write("/c", b"x", content_type="text/plain", create_only=True)
    with pytest.raises(Conflict):
        await backend.write("/c", b"y", content_type="text/plain", create_only=True)
    assert (await backend.read("/c"))[1] == b"x"


async def test_slash_twins_conflict(backend: Backend) -> None:
    await backend.write("/t", b"x", content_type="text/plain")
    with pytest.raises(Conflict):
        await backend.write("/t/", b"", content_type="text/turtle")
    await backend.write("/d/", b"", content_type="text/turtle")
    with pytest.raises(Conflict):
        await backend.write("/d", b"x", content_type="text/plain")


async def test_children_and_delete(backend: Backend) -> None:
    await backend.write("/box/", b"", content_type="text/turtle")
    await backend.write("/box/x", b"x", content_type="text/plain")
    await backend.write("/box/sub/", b"", content_type="text/turtle")
    kids = {m.path: m for m in await backend.children("/box/")}
    assert set(kids) == {"/box/x", "/box/sub/"}
    assert kids["/box/sub/"].is_container
    with pytest.raises(Conflict):
        await backend.delete("/box/")
    await backend.delete("/box/x")
    await backend.delete("/box/sub/")
    await backend.delete("/box/")
    assert await backend.stat("/box/") is None
    with pytest.raises(NotFound):
        await backend.delete("/box/")


async def test_container_body_and_attrs(backend: Backend) -> None:
    await backend.write("/k/", b"", content_type="text/turtle")
    await backend.write("/k/", b"<a> <b> <c> .", content_type="text/turtle")
    meta, data = await backend.read("/k/")
    assert data == b"<a> <b> <c> ."
    await backend.set_attrs("/k/", {"storage": "true", "owner": "https://x/#me"})
    meta2 = await backend.stat("/k/")
    assert meta2 is not None
    assert meta2.is_storage
    assert meta2.attrs["owner"] == "https://x/#me"
    # a body write keeps the attributes
    await backend.write("/k/", b"", content_type="text/turtle")
    meta3 = await backend.stat("/k/")
    assert meta3 is not None
    assert meta3.is_storage
    assert (await backend.read("/k/"))[1] == b""
    del meta


async def test_content_type_changes(backend: Backend) -> None:
    await backend.write("/p.png", b"png", content_type="image/png")
    await backend.write("/p.png", b"txt", content_type="text/plain")
    meta, data = await backend.read("/p.png")
    assert (meta.content_type, data) == ("text/plain", b"txt")
    await backend.write("/p.png", b"png2", content_type="image/png")
    meta, data = await backend.read("/p.png")
    assert (meta.content_type, data) == ("image/png", b"png2")
