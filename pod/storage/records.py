"""Typed records over the KeyValueStore: each namespace declared once, by the module that owns it.

Imports storage.kv and feed. A module that keeps records declares its namespace at import time
with `declare` (the name, the record type, how long records live, whether keys are secrets),
and reads and writes it only through `Records`, a typed view. No other module touches that
namespace: what a record means, and when it may go, is known in one place. The declarations
also fill a registry, so maintenance (sweeping expired records) needs no list of namespaces
of its own.

`AnnouncingKeyValueStore` wraps any KeyValueStore and publishes one `RecordChanged` per write
on the change feed, with the current actor: the namespace and the key, never the value (values
hold password hashes, key material and tokens' grants). Where a key is itself a secret or
personal data (a session id, an e-mail address) the feed carries its SHA-256 instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Generic, Protocol, Self, TypeVar, final

from pod.feed import Change, ChangeFeed, RecordChanged, current_actor
from pod.storage.kv import KeyValueStore, Record


class JsonRecord(Protocol):
    """A record type: what one record of a namespace holds, to and from its stored JSON."""

    def to_json(self) -> Record:
        """The JSON object stored for this record (the key is not part of it)."""
        ...

    @classmethod
    def from_json(cls, key: str, data: Record) -> Self:
        """The record stored under `key` as `data`. Raises KeyError, TypeError or ValueError
        when `data` is not one."""
        ...


R = TypeVar("R", bound=JsonRecord)


class Expiry(Enum):
    """How long a namespace's records live, when it has no default lifetime in seconds."""

    NEVER = "never"  # until deleted: a put may not give a ttl
    PER_RECORD = "per record"  # each put says (its `ttl`, None to keep the record for good)


class _Default(Enum):
    TTL = "the namespace's default"


@final
@dataclass(frozen=True, slots=True)
class Namespace(Generic[R]):
    """A namespace of the KeyValueStore: its name, its record type and its records' lifetime.

    `ttl` is the lifetime in seconds of a record put without one, or an `Expiry`.
    `secret_keys`: keys are secrets or personal data, so the change feed carries their SHA-256.
    """

    name: str
    record: type[R]
    ttl: float | Expiry
    secret_keys: bool = False

    @property
    def expires(self) -> bool:
        """Whether records may expire (and so whether expired ones need sweeping)."""
        return self.ttl is not Expiry.NEVER

    def lifetime(self, ttl: float | _Default | None) -> float | None:
        """The ttl to store a record with, given what its writer asked for."""
        if ttl is _Default.TTL:
            if self.ttl is Expiry.PER_RECORD:
                raise ValueError(f"records of {self.name} need a ttl (or None)")
            return None if self.ttl is Expiry.NEVER else self.ttl
        if ttl is not None and self.ttl is Expiry.NEVER:
            raise ValueError(f"records of {self.name} never expire: no ttl")
        return ttl


_DECLARED: Final[dict[str, Namespace[Any]]] = {}


def declare(
    name: str, record: type[R], *, ttl: float | Expiry, secret_keys: bool = False
) -> Namespace[R]:
    """Declare the namespace `name`: call once, at import time, in the module that owns it.

    Raises ValueError for a name declared before or one a file store cannot hold.
    """
    if not name.isidentifier():
        raise ValueError(f"a namespace is a Python identifier, not {name!r}")
    if name in _DECLARED:
        raise ValueError(f"the namespace {name} is declared already")
    namespace = Namespace(name, record, ttl, secret_keys)
    _DECLARED[name] = namespace
    return namespace


def declared() -> Mapping[str, Namespace[Any]]:
    """Every namespace declared so far (by the modules imported), by name."""
    return dict(_DECLARED)


@final
class Records(Generic[R]):
    """The records of one namespace, typed: the KeyValueStore's operations (and their atomicity)
    with the namespace's record type and default lifetime."""

    def __init__(self, kv: KeyValueStore, namespace: Namespace[R]) -> None:
        self.kv = kv
        self.namespace = namespace

    def _load(self, key: str, data: Record | None) -> R | None:
        return None if data is None else self.namespace.record.from_json(key, data)

    async def get(self, key: str) -> R | None:
        """The record, or None if absent or expired."""
        return self._load(key, await self.kv.get(self.namespace.name, key))

    async def put(self, key: str, value: R, *, ttl: float | _Default | None = _Default.TTL) -> None:
        """Create or replace a record; it lives the namespace's lifetime unless `ttl` says."""
        await self.kv.put(
            self.namespace.name, key, value.to_json(), ttl=self.namespace.lifetime(ttl)
        )

    async def put_new(
        self, key: str, value: R, *, ttl: float | _Default | None = _Default.TTL
    ) -> bool:
        """Create a record only if none exists; False if the key is taken."""
        return await self.kv.put_new(
            self.namespace.name, key, value.to_json(), ttl=self.namespace.lifetime(ttl)
        )

    async def take(self, key: str) -> R | None:
        """Remove and return a record atomically: of concurrent takers only one gets it."""
        return self._load(key, await self.kv.take(self.namespace.name, key))

    async def delete(self, key: str) -> bool:
        """Remove a record; whether there was one."""
        return await self.kv.delete(self.namespace.name, key)

    async def items(self) -> list[tuple[str, R]]:
        """Every live record with its key. Reading a namespace drops its expired records."""
        return [
            (key, self.namespace.record.from_json(key, data))
            for key, data in await self.kv.items(self.namespace.name)
        ]


def feed_key(namespace: str, key: str) -> str:
    """The key as the change feed names it: the key itself, or its SHA-256 (hex) when the
    namespace's keys are secret or the namespace is undeclared (nobody said they are not)."""
    found = _DECLARED.get(namespace)
    if found is not None and not found.secret_keys:
        return key
    return hashlib.sha256(key.encode()).hexdigest()


@final
class AnnouncingKeyValueStore:
    """A KeyValueStore that announces every write of the store it wraps on a change feed.

    One `RecordChanged` per write, after the write is done: UPDATE for `put` (a create or a
    replace: telling them apart would cost a read per write), CREATE for a `put_new` that
    claimed its key, DELETE for a `take` or `delete` that removed a record. Records dropped
    because they expired are not announced: nothing may rely on an expired record anyway.
    """

    def __init__(self, kv: KeyValueStore, feed: ChangeFeed) -> None:
        self.inner = kv
        self.feed = feed

    def _announce(self, change: Change, namespace: str, key: str) -> None:
        self.feed.publish(
            RecordChanged(change, namespace, feed_key(namespace, key), current_actor())
        )

    async def get(self, namespace: str, key: str) -> Record | None:
        return await self.inner.get(namespace, key)

    async def put(
        self, namespace: str, key: str, value: Record, *, ttl: float | None = None
    ) -> None:
        await self.inner.put(namespace, key, value, ttl=ttl)
        self._announce(Change.UPDATE, namespace, key)

    async def put_new(
        self, namespace: str, key: str, value: Record, *, ttl: float | None = None
    ) -> bool:
        claimed = await self.inner.put_new(namespace, key, value, ttl=ttl)
        if claimed:
            self._announce(Change.CREATE, namespace, key)
        return claimed

    async def take(self, namespace: str, key: str) -> Record | None:
        taken = await self.inner.take(namespace, key)
        if taken is not None:
            self._announce(Change.DELETE, namespace, key)
        return taken

    async def delete(self, namespace: str, key: str) -> bool:
        deleted = await self.inner.delete(namespace, key)
        if deleted:
            self._announce(Change.DELETE, namespace, key)
        return deleted

    async def items(self, namespace: str) -> list[tuple[str, Record]]:
        return await self.inner.items(namespace)
