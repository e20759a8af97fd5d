"""KeyValueStore: small JSON records for accounts, the identity provider and sessions.

Imports storage.claim (file modes) only. Records are JSON objects in namespaces; a record may
expire. Two implementations: in memory, and on disk under `<data_dir>/.kluis/kv/` (a name no URL
can reach), one file per record (0600), written atomically. `take` and `put_new` are atomic, so
single-use codes cannot be redeemed twice and unique names cannot be claimed twice, even across
processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any, Protocol, final

from pod.storage.claim import FILE_MODE, make_dirs

Record = dict[str, Any]


class KeyValueStore(Protocol):
    async def get(self, namespace: str, key: str) -> Record | None:
        """The record, or None if absent or expired."""
        ...

    async def put(
        self, namespace: str, key: str, value: Record, *, ttl: float | None = None
    ) -> None:
        """Create or replace a record; it expires after `ttl` seconds if given."""
        ...

    async def put_new(
        self, namespace: str, key: str, value: Record, *, ttl: float | None = None
    ) -> bool:
        """Create a record only if none exists; False if the key is taken."""
        ...

    async def take(self, namespace: str, key: str) -> Record | None:
        """Remove and return a record atomically: of concurrent takers only one gets it."""
        ...

    async def delete(self, namespace: str, key: str) -> bool: ...

    async def items(self, namespace: str) -> list[tuple[str, Record]]:
        """Every live record of a namespace."""
        ...


def _expiry(ttl: float | None) -> float | None:
    return None if ttl is None else time.time() + ttl


def _copy(value: Record) -> Record:
    # Through JSON, as the file store does: callers never share mutable state with the store.
    copied: Record = json.loads(json.dumps(value))
    return copied


def _alive(expires: float | None) -> bool:
    return expires is None or expires > time.time()


@final
class MemoryKeyValueStore:
    def __init__(self) -> None:
        self._data: dict[str, dict[str, tuple[Record, float | None]]] = {}

    async def get(self, namespace: str, key: str) -> Record | None:
        found = self._data.get(namespace, {}).get(key)
        if found is None or not _alive(found[1]):
            return None
        return _copy(found[0])

    async def put(
        self, namespace: str, key: str, value: Record, *, ttl: float | None = None
    ) -> None:
        self._data.setdefault(namespace, {})[key] = (_copy(value), _expiry(ttl))

    async def put_new(
        self, namespace: str, key: str, value: Record, *, ttl: float | None = None
    ) -> bool:
        found = self._data.get(namespace, {}).get(key)
        if found is not None and _alive(found[1]):
            return False
        await self.put(namespace, key, value, ttl=ttl)
        return True

    async def take(self, namespace: str, key: str) -> Record | None:
        found = self._data.get(namespace, {}).pop(key, None)
        return None if found is None or not _alive(found[1]) else found[0]

    async def delete(self, namespace: str, key: str) -> bool:
        return self._data.get(namespace, {}).pop(key, None) is not None

    async def items(self, namespace: str) -> list[tuple[str, Record]]:
        return [
            (k, _copy(v))
            for k, (v, expires) in list(self._data.get(namespace, {}).items())
            if _alive(expires)
        ]


@final
class FileKeyValueStore:
    """One JSON file per record: `<root>/<namespace>/<sha256(key)>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, namespace: str, key: str) -> Path:
        if not namespace.isidentifier():
            raise ValueError(f"bad namespace {namespace!r}")
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / namespace / f"{digest}.json"

    @staticmethod
    def _load(path: Path) -> tuple[str, Record, float | None] | None:
        """The record's key, value and expiry time, or None if it is absent or expired."""
        try:
            raw = json.loads(path.read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        expires = raw.get("expires")
        if not _alive(expires):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return None
        return str(raw["key"]), dict(raw["value"]), expires

    def _write(
        self, path: Path, key: str, value: Record, expires: float | None, *, new: bool
    ) -> bool:
        make_dirs(path.parent)
        tmp = path.parent / f".tmp-{secrets.token_hex(8)}"
        data = json.dumps({"key": key, "value": value, "expires": expires}).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            if not new:
                os.replace(tmp, path)
                return True
            if path.exists() and self._load(path) is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # expired: free the name
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    async def get(self, namespace: str, key: str) -> Record | None:
        found = await asyncio.to_thread(self._load, self._file(namespace, key))
        return None if found is None else found[1]

    async def put(
        self, namespace: str, key: str, value: Record, *, ttl: float | None = None
    ) -> None:
        path, expires = self._file(namespace, key), _expiry(ttl)
        await asyncio.to_thread(self._write, path, key, value, expires, new=False)

    async def put_new(
        self, namespace: str, key: str, value: Record, *, ttl: float | None = None
    ) -> bool:
        path = self._file(namespace, key)
        return await asyncio.to_thread(self._write, path, key, value, _expiry(ttl), new=True)

    async def take(self, namespace: str, key: str) -> Record | None:
        return await asyncio.to_thread(self._take, self._file(namespace, key))

    def _take(self, path: Path) -> Record | None:
        claimed = path.parent / f".taken-{secrets.token_hex(8)}"
        try:
            os.rename(path, claimed)  # atomic: exactly one taker wins
        except FileNotFoundError:
            return None
        try:
            found = self._load(claimed)
        finally:
            with contextlib.suppress(FileNotFoundError):
                claimed.unlink()
        return None if found is None else found[1]

    async def delete(self, namespace: str, key: str) -> bool:
        path = self._file(namespace, key)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        return True

    async def items(self, namespace: str) -> list[tuple[str, Record]]:
        return await asyncio.to_thread(self._items, namespace)

    def _items(self, namespace: str) -> list[tuple[str, Record]]:
        folder = self.root / namespace
        if not folder.is_dir():
            return []
        out = []
        for path in folder.glob("*.json"):
            found = self._load(path)
            if found is not None:
                out.append(found[:2])
        return out

    # --- maintenance (`kluis migrate`), with no server running ------------------------------

    def namespaces(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(d.name for d in self.root.iterdir() if d.is_dir() and d.name.isidentifier())

    def records(self, namespace: str) -> list[tuple[str, Record, float | None]]:
        """Every live record of a namespace with its expiry time (seconds since the epoch)."""
        loaded = (self._load(path) for path in sorted((self.root / namespace).glob("*.json")))
        return [found for found in loaded if found is not None]

    def replace(
        self, namespace: str, old_key: str, key: str, value: Record, expires: float | None
    ) -> None:
        """Store `value` under `key` with the same expiry time, then drop `old_key` if different."""
        self._write(self._file(namespace, key), key, value, expires, new=False)
        if old_key != key:
            with contextlib.suppress(FileNotFoundError):
                self._file(namespace, old_key).unlink()
