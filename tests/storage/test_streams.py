"""`StreamingBackend.stream` (pod/storage/base.py), checked against every backend: the chunks
and the metadata are one version, even when the resource is replaced while it is read."""

from __future__ import annotations

import contextlib
import gc
import os
from pathlib import Path

import pytest

from pod.errors import NotFound
from pod.storage.base import Backend, StreamingBackend, chunks_of
from pod.storage.fs import FileBackend
from pod.storage.memory import MemoryBackend


def streaming(backend: Backend) -> StreamingBackend:
    assert isinstance(backend, FileBackend | MemoryBackend)
    return backend


async def test_stream_gives_the_bytes_in_chunks(backend: Backend) -> None:
    data = os.urandom(10_000)
    written = await backend.write("/blob", data, content_type="application/octet-stream")
    meta, chunks = await streaming(backend).stream("/blob", chunk=4096)
    parts = [part async for part in chunks]
    assert [len(p) for p in parts] == [4096, 4096, 1808]
    assert b"".join(parts) == data
    assert meta.version == written.version
    assert meta.size == len(data)
    assert meta.content_type == "application/octet-stream"


async def test_a_stream_keeps_its_version_when_the_resource_is_replaced(
    backend: Backend,
) -> None:
    old = b"a" * 3000
    await backend.write("/doc", old, content_type="text/plain")
    meta, chunks = await streaming(backend).stream("/doc", chunk=1000)
    first = await anext(chunks)
    await backend.write("/doc", b"b" * 5000, content_type="text/plain")
    rest = [part async for part in chunks]
    assert first + b"".join(rest) == old
    assert meta.size == len(old)
    _, now = await backend.read("/doc")
    assert now == b"b" * 5000


async def test_a_container_streams_its_own_description(backend: Backend) -> None:
    await backend.write("/c/", b"<> a <#Thing> .\n", content_type="text/turtle")
    meta, chunks = await streaming(backend).stream("/c/")
    assert meta.is_container
    assert b"".join([p async for p in chunks]) == b"<> a <#Thing> .\n"
    await backend.write("/e/", b"", content_type="text/turtle")
    meta, chunks = await streaming(backend).stream("/e/")
    assert meta.is_container
    assert [p async for p in chunks] == []


async def test_an_empty_file_streams_nothing(backend: Backend) -> None:
    await backend.write("/empty", b"", content_type="text/plain")
    meta, chunks = await streaming(backend).stream("/empty")
    assert meta.size == 0
    assert [p async for p in chunks] == []


async def test_a_missing_resource_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await streaming(backend).stream("/nothing")
    with pytest.raises(NotFound):
        await streaming(backend).stream("/no/such/thing")
    with pytest.raises(NotFound):
        await streaming(backend).stream("/nothing/")


async def test_chunks_of_reaches_below_a_wrapper(backend: Backend) -> None:
    class Wrapper:
        def __init__(self, inner: Backend) -> None:
            self.inner = inner
            self.read = inner.read

    await backend.write("/w", b"xyz" * 1000, content_type="text/plain")
    wrapped = Wrapper(backend)
    meta, chunks = await chunks_of(wrapped, "/w", chunk=1000)  # type: ignore[arg-type]
    parts = [p async for p in chunks]
    assert len(parts) == 3
    assert b"".join(parts) == b"xyz" * 1000
    assert meta.size == 3000


def _open_in(folder: Path) -> int:
    """How many of this process's descriptors name files under `folder` (other tests in the
    same worker open and close descriptors of their own meanwhile, so a total would not do)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed since it was listed
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder) + os.sep)
    return count


async def test_a_file_stream_releases_its_descriptor(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path, fsync=False)
    await backend.write("/f", b"x" * 10, content_type="text/plain")
    before = _open_in(tmp_path)
    _, chunks = await backend.stream("/f", chunk=4)
    assert _open_in(tmp_path) == before + 1
    assert [len(p) async for p in chunks] == [4, 4, 2]
    assert _open_in(tmp_path) == before  # read to the end: closed
    _, chunks = await backend.stream("/f", chunk=4)
    await anext(chunks)
    assert _open_in(tmp_path) == before + 1
    del chunks  # dropped half-way (a client went away): closed too
    gc.collect()
    assert _open_in(tmp_path) == before
