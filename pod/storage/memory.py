"""MemoryBackend: everything in a dict, for tests and throw-away servers. Imports base, model.

There is no `await` between a check and the change it guards, so each method is atomic with
respect to other coroutines, which is all the atomicity an in-process store needs.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import final

from pod import paths
from pod.errors import Conflict, NotFound
from pod.model import Metadata
from pod.storage.base import CHUNK


@dataclass(slots=True)
class _Entry:
    data: bytes
    content_type: str
    version: str
    modified: float
    attrs: dict[str, str] = field(default_factory=dict)
    children: set[str] | None = None  # child paths, for containers only


@final
class MemoryBackend:
    """In-memory Backend. Versions come from one process-wide counter, so they never repeat."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._entries: dict[str, _Entry] = {}
        self._entries[paths.ROOT] = self._new_entry(b"", "text/turtle", container=True)

    def _new_entry(self, data: bytes, content_type: str, *, container: bool) -> _Entry:
        return _Entry(
            data=data,
            content_type=content_type,
            version=f"{next(self._counter):x}",
            modified=time.time(),
            children=set() if container else None,
        )

    def _metadata(self, path: str, entry: _Entry) -> Metadata:
        return Metadata(
            path=path,
            is_container=entry.children is not None,
            content_type=entry.content_type,
            version=entry.version,
            modified=entry.modified,
            size=len(entry.data),
            attrs=dict(entry.attrs),
        )

    async def stat(self, path: str) -> Metadata | None:
        entry = self._entries.get(path)
        return None if entry is None else self._metadata(path, entry)

    async def read(
        self, path: str, *, start: int = 0, end: int | None = None
    ) -> tuple[Metadata, bytes]:
        entry = self._entries.get(path)
        if entry is None:
            raise NotFound(f"{path} does not exist")
        return self._metadata(path, entry), entry.data[start:end]

    async def stream(
        self, path: str, *, chunk: int = CHUNK
    ) -> tuple[Metadata, AsyncIterator[bytes]]:
        entry = self._entries.get(path)
        if entry is None:
            raise NotFound(f"{path} does not exist")
        # A write replaces the entry's bytes object, never changes it: this one stays the
        # version the metadata describes.
        return self._metadata(path, entry), _slices(entry.data, chunk)

    async def write(
        self, path: str, data: bytes, *, content_type: str, create_only: bool = False
    ) -> Metadata:
        parent = paths.parent(path)
        if parent is None:  # the root container: only its own body changes
            root = self._entries[paths.ROOT]
            root.data, root.version, root.modified = data, f"{next(self._counter):x}", time.time()
            return self._metadata(path, root)
        parent_entry = self._entries.get(parent)
        if parent_entry is None or parent_entry.children is None:
            raise NotFound(f"container {parent} does not exist")
        if paths.twin(path) in self._entries:
            raise Conflict(f"{paths.twin(path)} exists; {path} cannot exist beside it")
        existing = self._entries.get(path)
        if existing is not None and create_only:
            raise Conflict(f"{path} already exists")
        fresh = self._new_entry(data, content_type, container=paths.is_container(path))
        if existing is not None:
            fresh.attrs, fresh.children = existing.attrs, existing.children
        self._entries[path] = fresh
        parent_entry.children.add(path)
        return self._metadata(path, fresh)

    async def delete(self, path: str) -> None:
        entry = self._entries.get(path)
        parent = paths.parent(path)
        if entry is None or parent is None:
            raise NotFound(f"{path} does not exist")
        if entry.children:
            raise Conflict(f"container {path} is not empty")
        del self._entries[path]
        parent_entry = self._entries[parent]
        assert parent_entry.children is not None
        parent_entry.children.discard(path)

    async def children(self, path: str) -> list[Metadata]:
        entry = self._entries.get(path)
        if entry is None or entry.children is None:
            raise NotFound(f"container {path} does not exist")
        return [self._metadata(child, self._entries[child]) for child in entry.children]

    async def set_attrs(self, path: str, attrs: dict[str, str]) -> Metadata:
        entry = self._entries.get(path)
        if entry is None:
            raise NotFound(f"{path} does not exist")
        entry.attrs = dict(attrs)
        return self._metadata(path, entry)

    async def close(self) -> None:
        return None


async def _slices(data: bytes, chunk: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]
