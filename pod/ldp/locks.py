"""Per-resource locks, so that concurrent writers of one resource never interleave.

In one process an asyncio lock per path suffices; a multi-worker backend (PostgreSQL) brings its
own Locker with the same interface.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, final

from pod.ldp.conditions import NO_CONDITIONS, Conditions
from pod.ldp.patch import Patch
from pod.ldp.resources import Passthrough, ResourceStore, WriteResult
from pod.model import Metadata


class Locker(Protocol):
    def hold(self, path: str) -> AbstractAsyncContextManager[None]:
        """Async context manager: exclusive access to `path` while inside."""
        ...


@final
class MemoryLocker:
    """asyncio locks keyed by path, dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, path: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(path, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[path] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[path]
            if users <= 1:
                del self._locks[path]
            else:
                self._locks[path] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@final
class LockingStore(Passthrough):
    """Store layer: one write at a time per target path, from its first read to its last write,
    so a conditional write or a patch never works on a version another write is replacing.

    POST is not locked: it names a new child and creates it with the backend's create-only
    write, which refuses a name taken meanwhile."""

    def __init__(self, inner: ResourceStore, locker: Locker | None = None) -> None:
        super().__init__(inner)
        self.locker = locker or MemoryLocker()

    async def put(
        self,
        path: str,
        *,
        data: bytes,
        content_type: str | None,
        conditions: Conditions = NO_CONDITIONS,
        relative: bool = False,
    ) -> WriteResult:
        async with self.locker.hold(path):
            return await self.inner.put(
                path, data=data, content_type=content_type, conditions=conditions, relative=relative
            )

    async def patch(
        self,
        path: str,
        patch: Patch,
        *,
        conditions: Conditions = NO_CONDITIONS,
        seen: Metadata | None = None,
    ) -> WriteResult:
        async with self.locker.hold(path):
            return await self.inner.patch(path, patch, conditions=conditions, seen=seen)

    async def delete(self, path: str, *, conditions: Conditions = NO_CONDITIONS) -> WriteResult:
        async with self.locker.hold(path):
            return await self.inner.delete(path, conditions=conditions)

    async def create_storage(self, path: str, *, owner: str | None = None) -> WriteResult:
        async with self.locker.hold(path):
            return await self.inner.create_storage(path, owner=owner)

    async def remove_storage(self, path: str) -> WriteResult:
        async with self.locker.hold(path):
            return await self.inner.remove_storage(path)
