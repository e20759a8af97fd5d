"""Per-pod quotas: `QuotaBackend` counts the bytes stored under each storage root and refuses a
write that would pass the pod's limit; `Quotas` keeps the limits and the counters. Imports
storage, model, errors, paths and `pod.ldp.storages`.

`QuotaBackend` wraps the Backend under `SolidRules`, so every byte any layer stores (documents,
containers' own descriptions, `.acl` and `.meta`, the server's own records) passes it; it is not
a store layer. Usage is the sum of `Metadata.size` of everything in the pod.

The counter is incremental: a write stats its target once, reserves the difference in size with
no `await` between the check and the reservation (so concurrent writers cannot over-commit),
and gives it back if the write fails; a delete releases what it removes. A pod is never walked
per write. The counter of each pod is kept in the key-value store, `usage/<root>` =
{used, clean, counted_at}:

- before a pod's first write after start, the record is written unclean (`clean: false`), and
  the write waits until it is stored;
- while the server runs it is rewritten, still unclean, at most every `save_every` seconds when
  the counter changed;
- at a graceful shutdown it is written clean.

So a record that is clean at start is exact, and one that is missing or unclean (a kill -9, a
power cut) is not trusted: the pod is walked once (`Backend.children`), its writes waiting on a
per-pod gate meanwhile. A pod whose count is a day old is walked again in the background, and a
disagreement is logged and fixed (files changed by hand, a backup restored under a running
server).

Limits: the setting `pod_quota_bytes` (0: none) for every pod, unless the operator set one for
the pod (`quotas/<root>`, `Quotas.set_limit`). Writes that `never_refused` names (the vault's
`consent/`, so that consent can always be withdrawn, GDPR Art. 7(3)) are counted but never
refused. A refusal is `QuotaExceeded` (507, RFC 4918 §11.5: "unable to store the representation
needed to successfully complete the request"), and nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Self, final

from pod.errors import NotFound, QuotaExceeded
from pod.ldp.storages import Storages
from pod.model import Metadata
from pod.storage.base import Backend
from pod.storage.kv import KeyValueStore, Record
from pod.storage.records import Expiry, Records, declare

log = logging.getLogger(__name__)

SAVE_SECONDS: Final = 5.0  # how often a changed counter is written (unclean) while serving
RECOUNT_SECONDS: Final = 24 * 3600.0  # how old a count may get before the pod is walked again


@final
@dataclass(frozen=True, slots=True)
class Usage:
    """A pod's counter as stored: bytes `used`, whether the server stopped cleanly since it was
    written (`clean`), and when the pod was last walked (`counted_at`, seconds since the epoch)."""

    used: int
    clean: bool
    counted_at: float

    def to_json(self) -> Record:
        return {"used": self.used, "clean": self.clean, "counted_at": self.counted_at}

    @classmethod
    def from_json(cls, key: str, data: Record) -> Self:
        return cls(int(data["used"]), bool(data["clean"]), float(data["counted_at"]))


@final
@dataclass(frozen=True, slots=True)
class Limit:
    """The operator's limit for one pod, in bytes; 0: no limit (as the setting's 0)."""

    bytes: int

    def to_json(self) -> Record:
        return {"bytes": self.bytes}

    @classmethod
    def from_json(cls, key: str, data: Record) -> Self:
        return cls(int(data["bytes"]))


USAGE: Final = declare("usage", Usage, ttl=Expiry.NEVER)
QUOTAS: Final = declare("quotas", Limit, ttl=Expiry.NEVER)


def _never(path: str, root: str) -> bool:
    return False


@dataclass(slots=True, eq=False)
class _Pod:
    """What one pod's counter holds in memory."""

    used: int
    counted_at: float
    override: int | None  # the operator's limit (0: none), or None: the setting's
    saved: int | None  # `used` as last stored; None: the stored record is not this count
    open: bool = False  # the record says unclean: writes may go ahead
    doubtful: bool = False  # a write was cancelled mid-way: it may or may not have happened
    writing: int = 0  # writes between their reservation and their end
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()


@final
class Quotas:
    """The limits and the usage counters of every pod. See the module docstring."""

    def __init__(
        self,
        backend: Backend,
        kv: KeyValueStore,
        storages: Storages,
        *,
        default_limit: int = 0,
        never_refused: Callable[[str, str], bool] = _never,
        save_every: float = SAVE_SECONDS,
    ) -> None:
        """`backend` is the one `QuotaBackend` wraps (walked to count a pod);
        `never_refused(path, root)` names writes that are counted but never refused."""
        if default_limit < 0:
            raise ValueError("a quota may not be negative")
        self.backend = backend
        self.storages = storages
        self.default_limit = default_limit
        self.save_every = save_every
        self._never_refused = never_refused
        self._usage = Records(kv, USAGE)
        self._limits = Records(kv, QUOTAS)
        self._pods: dict[str, _Pod] = {}
        self._gates: dict[str, asyncio.Lock] = {}

    # --- what the account page and the operator see ------------------------------------------

    async def usage(self, root: str) -> tuple[int, int]:
        """Bytes used by the pod at `root` and its limit (0: none). Counts the pod first if its
        stored counter cannot be trusted."""
        pod = await self._loaded(root)
        return pod.used, self._limit_of(pod)

    async def limit(self, root: str) -> int:
        """The limit of the pod at `root` in bytes; 0: none."""
        found = self._pods.get(root)
        if found is not None:
            return self._limit_of(found)
        override = await self._limits.get(root)
        return self.default_limit if override is None else override.bytes

    async def set_limit(self, root: str, limit: int | None) -> None:
        """Give the pod at `root` a limit of its own in bytes; None: no limit at all, whatever
        the setting says. Writes already stored stay, even when they pass the new limit."""
        if limit is not None and limit < 0:
            raise ValueError("a quota may not be negative")
        value = 0 if limit is None else limit
        await self._limits.put(root, Limit(value))
        found = self._pods.get(root)
        if found is not None:
            found.override = value

    async def use_default_limit(self, root: str) -> None:
        """Drop the pod's own limit: the setting `pod_quota_bytes` applies again."""
        await self._limits.delete(root)
        found = self._pods.get(root)
        if found is not None:
            found.override = None

    async def recount(self, root: str) -> int:
        """Walk the pod at `root` and make its counter what the walk finds; the new count.

        Writes to the pod wait meanwhile; those under way are let finish first."""
        async with self._gate(root):
            pod = self._pods.get(root)
            if pod is None:
                pod = await self._load(root)
            was_open, pod.open = pod.open, False  # new writes wait at the gate
            await pod.idle.wait()
            counted = await self._count(root)
            if counted != pod.used:
                log.warning(
                    "the usage counter of %s said %d bytes, a walk found %d: corrected",
                    root,
                    pod.used,
                    counted,
                )
            pod.used, pod.counted_at, pod.saved, pod.doubtful = counted, time.time(), None, False
            if was_open:
                await self._save(root, pod, clean=False)
                pod.open = True
            return counted

    async def forget(self, root: str) -> None:
        """Drop everything kept about the pod at `root` (its storage was removed)."""
        async with self._gate(root):
            self._pods.pop(root, None)
            await self._usage.delete(root)
            await self._limits.delete(root)
        self._gates.pop(root, None)

    # --- the counter, for QuotaBackend -------------------------------------------------------

    async def enter(self, root: str) -> _Pod:
        """The pod's counter, ready for a write: loaded, its record marked unclean. The caller
        must `leave` it when its write is over."""
        pod = self._pods.get(root)
        if pod is None or not pod.open:
            async with self._gate(root):
                pod = self._pods.get(root)
                if pod is None:
                    pod = await self._load(root)
                if not pod.open:
                    # Durably unclean before the first byte: a kill from here on means a recount.
                    await self._save(root, pod, clean=False)
                    pod.open = True
        # No await since the check above: a recount that closes the pod waits for this write.
        pod.writing += 1
        pod.idle.clear()
        return pod

    @staticmethod
    def leave(pod: _Pod) -> None:
        pod.writing -= 1
        if pod.writing == 0:
            pod.idle.set()

    def reserve(self, root: str, pod: _Pod, path: str, growth: int) -> None:
        """Count `growth` bytes (negative: freed) for a write of `path`, or raise QuotaExceeded
        when that passes the pod's limit. Synchronous: nothing runs between check and count."""
        if growth > 0:
            self._check(root, pod, path, growth)
        pod.used += growth

    async def admits(self, path: str, size: int) -> None:
        """Raise QuotaExceeded if a new resource of `size` bytes at `path` would pass its pod's
        limit now: asked before the containers missing above it are created, so a refused
        write leaves none behind. The write itself reserves, and may still be refused."""
        root = self.storages.root_of(path)
        if root is None or size <= 0:
            return
        self._check(root, await self._loaded(root), path, size)

    def _check(self, root: str, pod: _Pod, path: str, growth: int) -> None:
        limit = self._limit_of(pod)
        if limit and pod.used + growth > limit and not self._never_refused(path, root):
            left = max(0, limit - pod.used)
            raise QuotaExceeded(
                f"this write needs {amount(growth)} more; the pod {root} has "
                f"{amount(left)} left of its {amount(limit)} quota"
            )

    def _limit_of(self, pod: _Pod) -> int:
        return self.default_limit if pod.override is None else pod.override

    # --- loading, counting, saving -----------------------------------------------------------

    def _gate(self, root: str) -> asyncio.Lock:
        gate = self._gates.get(root)
        if gate is None:
            gate = self._gates[root] = asyncio.Lock()
        return gate

    async def _loaded(self, root: str) -> _Pod:
        pod = self._pods.get(root)
        if pod is None:
            async with self._gate(root):
                pod = self._pods.get(root)
                if pod is None:
                    pod = await self._load(root)
        return pod

    async def _load(self, root: str) -> _Pod:
        """Read the pod's record and limit; walk the pod if the record cannot be trusted.
        The caller holds the pod's gate."""
        stored = await self._usage.get(root)
        override = await self._limits.get(root)
        limit = None if override is None else override.bytes
        if stored is not None and stored.clean:
            pod = _Pod(stored.used, stored.counted_at, limit, saved=stored.used)
        else:
            pod = _Pod(await self._count(root), time.time(), limit, saved=None)
        self._pods[root] = pod
        return pod

    async def _count(self, root: str) -> int:
        """The bytes stored in the pod at `root`: one walk of its containers. A storage inside
        it is a pod of its own, with its own counter."""
        began = time.perf_counter()
        top = await self.backend.stat(root)
        total, resources, pending = (0 if top is None else top.size), 0, [root]
        while pending:
            try:
                children = await self.backend.children(pending.pop())
            except NotFound:
                continue  # deleted while we walked
            for child in children:
                if child.is_container:
                    if self.storages.is_root(child.path):
                        continue
                    pending.append(child.path)
                total += child.size
                resources += 1
        log.info(
            "counted %s: %d bytes in %d resources (%.3f s)",
            root,
            total,
            resources,
            time.perf_counter() - began,
        )
        return total

    async def _save(self, root: str, pod: _Pod, *, clean: bool) -> None:
        used = pod.used
        await self._usage.put(root, Usage(used, clean, pod.counted_at))
        pod.saved = used

    async def keep(self) -> None:
        """Run while serving: store changed counters (unclean) every `save_every` seconds, and
        walk one pod a turn whose count is older than a day."""
        while True:
            await asyncio.sleep(self.save_every)
            for root, pod in list(self._pods.items()):
                if pod.open and pod.saved != pod.used:
                    try:
                        await self._save(root, pod, clean=False)
                    except Exception:  # the next turn tries again; the keeper must live on
                        log.exception("saving the usage counter of %s failed", root)
            now = time.time()
            stale = [r for r, p in self._pods.items() if now - p.counted_at > RECOUNT_SECONDS]
            if stale:
                try:
                    await self.recount(stale[0])
                except Exception:
                    log.exception("recounting %s failed", stale[0])

    async def close(self) -> None:
        """At a graceful shutdown, once no write is under way: store every counter clean, so
        the next start trusts it. A pod with a write cut short stays unclean: it is counted
        again at the next start."""
        for root, pod in list(self._pods.items()):
            pod.open = False  # a write after this marks the record unclean again
            if pod.doubtful or pod.writing:
                continue
            try:
                await self._save(root, pod, clean=True)
            except OSError:
                log.exception("saving the usage counter of %s failed", root)


@final
class QuotaBackend:
    """A Backend that counts what it stores per pod and refuses writes past a pod's limit.
    Paths outside every storage (the server root) pass uncounted."""

    def __init__(self, inner: Backend, quotas: Quotas) -> None:
        self.inner = inner
        self.quotas = quotas
        self._root_of = quotas.storages.root_of
        # Reading passes straight to the backend below: a GET pays nothing for the counting.
        self.read = inner.read
        self.stat = inner.stat
        self.set_attrs = inner.set_attrs  # attributes are not counted: no Metadata.size

    async def children(self, path: str) -> list[Metadata]:
        return await self.inner.children(path)

    async def write(
        self, path: str, data: bytes, *, content_type: str, create_only: bool = False
    ) -> Metadata:
        root = self._root_of(path)
        if root is None:
            return await self.inner.write(
                path, data, content_type=content_type, create_only=create_only
            )
        quotas = self.quotas
        pod = await quotas.enter(root)
        try:
            # A create-only write succeeds only where nothing was.
            # The size it replaces: one stat more per write (SolidRules holds the path's lock,
            # so it still holds when the write comes), where reads would pay for remembering.
            old = None if create_only else await self.inner.stat(path)
            growth = len(data) - (0 if old is None else old.size)
            quotas.reserve(root, pod, path, growth)  # raises before anything is stored
            try:
                written = await self.inner.write(
                    path, data, content_type=content_type, create_only=create_only
                )
            except asyncio.CancelledError:
                pod.doubtful = True  # a thread may still finish the write: recount at start
                raise
            except BaseException:
                pod.used -= growth  # refused or failed: nothing was stored
                raise
            if written.size != len(data):  # a backend that stores other bytes than it got
                pod.used += written.size - len(data)
            return written
        finally:
            quotas.leave(pod)

    async def delete(self, path: str) -> None:
        root = self._root_of(path)
        if root is None:
            return await self.inner.delete(path)
        pod = await self.quotas.enter(root)
        try:
            old = await self.inner.stat(path)
            try:
                await self.inner.delete(path)
            except asyncio.CancelledError:
                pod.doubtful = True
                raise
            if old is not None:
                pod.used -= old.size
        finally:
            self.quotas.leave(pod)

    async def close(self) -> None:
        await self.inner.close()


_UNITS: Final = ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB"))


def amount(size: int, *, point: str = ".") -> str:
    """`size` bytes for people, in decimal units with at most one decimal (`point` separates
    it): 512 bytes, 1.2 MB, 100 MB."""
    for at, (unit, name) in enumerate(_UNITS):
        if size >= unit:
            text = f"{size / unit:.1f}".removesuffix(".0")
            if text == "1000" and at > 0:  # 999,950,000 bytes round up to the next unit
                return f"1 {_UNITS[at - 1][1]}"
            return f"{text.replace('.', point)} {name}"
    return "1 byte" if size == 1 else f"{size} bytes"
