"""Per-resource locks, so that concurrent writers of one resource never interleave.

In one process an asyncio lock per path suffices; a multi-worker backend (PostgreSQL) brings its
own Locker with the same interface.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, final


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
