"""What stays of an erased pod or account: its names held back, a receipt, and the job under way.

Imports storage, ldp (storage roots), feed, cache. Owns the KeyValueStore namespaces
`held_names` (an erased pod's name, keyed by an HMAC of the name under a server key, so the key
names nobody; its record holds the receipt id, the end of the hold and the SHA-256 of the reclaim
code), `erasures` (receipts: counts and dates, no name, e-mail address or WebID), `erasure_jobs`
(an erasure under way, with the names it erases until it ends) and `tombstone_key` (the HMAC key).

While a name is held, its pod URLs and its WebID answer 410 Gone (`check`), so nobody can take
over the old WebID and be trusted as the erased person; only the reclaim code on the receipt
takes the name back early (`claim`). After the hold the name is free, like one never used.
The check is cheap where it runs on every request: it asks the store only for a path in no pod
(or in a pod being erased, `frozen`), and keeps what it learnt in a bounded cache that the
change feed clears.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Self, final

from pod import paths
from pod.accounts.pods import POD_NAME
from pod.cache import LruCache
from pod.errors import Conflict, Gone
from pod.feed import Change, Event, RecordChanged
from pod.ldp.storages import Storages
from pod.storage.kv import KeyValueStore, Record
from pod.storage.records import Expiry, Records, declare

DAY: Final = 86_400.0
_CHECKED: Final = 10_000  # names looked up, kept with the answer
_CHECKED_BYTES: Final = 2 * 1024 * 1024
_KEY_ID: Final = "hmac"


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def new_code() -> str:
    """A reclaim code: 160 random bits, in groups of four a person can copy."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")
    return "-".join(raw[i : i + 4] for i in range(0, 32, 4))


@final
@dataclass(frozen=True, slots=True)
class Hold:
    """A held name: until when, for which receipt, and the SHA-256 of its reclaim code."""

    until: float
    receipt: str
    reclaim: str

    def to_json(self) -> Record:
        return {"until": self.until, "receipt": self.receipt, "reclaim": self.reclaim}

    @classmethod
    def from_json(cls, key: str, data: Record) -> Self:
        return cls(float(data["until"]), str(data["receipt"]), str(data["reclaim"]))


@final
@dataclass(frozen=True, slots=True)
class Receipt:
    """What an erasure did, with nothing that names whom: kept for good, so the operator can
    show that it happened (GDPR Art. 5(2), accountability)."""

    id: str
    erased_at: float
    scope: str  # "account" or "pod"
    pods: int
    files: int
    bytes: int
    records: int  # key-value records deleted (sessions, tokens, consents, names, ...)
    log_lines: int  # records naming the erased WebIDs in other pods' access logs, pseudonymised
    shared: int  # grants and requests in other pods, pseudonymised
    held_until: float

    def to_json(self) -> Record:
        return {
            "erased_at": self.erased_at,
            "scope": self.scope,
            "pods": self.pods,
            "files": self.files,
            "bytes": self.bytes,
            "records": self.records,
            "log_lines": self.log_lines,
            "shared": self.shared,
            "held_until": self.held_until,
        }

    @classmethod
    def from_json(cls, key: str, data: Record) -> Self:
        return cls(
            id=key,
            erased_at=float(data["erased_at"]),
            scope=str(data["scope"]),
            pods=int(data["pods"]),
            files=int(data["files"]),
            bytes=int(data["bytes"]),
            records=int(data["records"]),
            log_lines=int(data["log_lines"]),
            shared=int(data.get("shared", 0)),
            held_until=float(data["held_until"]),
        )

    def as_json(self) -> Record:
        """The receipt as the API and the CLI show it."""
        return {"id": self.id, **self.to_json()}


@final
@dataclass(frozen=True, slots=True)
class Job:
    """An erasure under way, stored under its receipt id until it ends. It names the account,
    its pods and WebIDs (personal data) only as long as the erasure runs; `counts` are what the
    steps done so far removed, for the receipt."""

    id: str
    account: str
    scope: str
    pods: tuple[str, ...]
    webids: tuple[str, ...]
    started: float
    held_until: float
    reclaim: str  # SHA-256 of the reclaim code
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> Record:
        return {
            "account": self.account,
            "scope": self.scope,
            "pods": list(self.pods),
            "webids": list(self.webids),
            "started": self.started,
            "held_until": self.held_until,
            "reclaim": self.reclaim,
            "counts": dict(self.counts),
        }

    @classmethod
    def from_json(cls, key: str, data: Record) -> Self:
        return cls(
            id=key,
            account=str(data["account"]),
            scope=str(data["scope"]),
            pods=tuple(str(p) for p in data["pods"]),
            webids=tuple(str(w) for w in data["webids"]),
            started=float(data["started"]),
            held_until=float(data["held_until"]),
            reclaim=str(data["reclaim"]),
            counts={str(k): int(v) for k, v in dict(data.get("counts") or {}).items()},
        )


@final
@dataclass(frozen=True, slots=True)
class _Key:
    secret: str

    def to_json(self) -> Record:
        return {"secret": self.secret}

    @classmethod
    def from_json(cls, key: str, data: Record) -> Self:
        return cls(str(data["secret"]))


# Held names are keyed by an HMAC, so neither a file name nor the change feed names the pod.
HELD_NAMES: Final = declare("held_names", Hold, ttl=Expiry.PER_RECORD)
ERASURES: Final = declare("erasures", Receipt, ttl=Expiry.NEVER)
ERASURE_JOBS: Final = declare("erasure_jobs", Job, ttl=Expiry.NEVER)
TOMBSTONE_KEY: Final = declare("tombstone_key", _Key, ttl=Expiry.NEVER, secret_keys=True)


def name_of(path: str) -> str:
    """The pod name a path starts with (`/alice/x` -> `alice`; `/alice` -> `alice`)."""
    end = path.find("/", 1)
    return path[1:] if end < 0 else path[1:end]


@final
class Tombstones:
    """Held names, erasure receipts and erasure jobs (see the module docstring)."""

    def __init__(
        self,
        kv: KeyValueStore,
        storages: Storages,
        *,
        hold_days: int = 365,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storages = storages
        self.hold_seconds = hold_days * DAY
        self.clock = clock
        self._held = Records(kv, HELD_NAMES)
        self._receipts = Records(kv, ERASURES)
        self._jobs = Records(kv, ERASURE_JOBS)
        self._keys = Records(kv, TOMBSTONE_KEY)
        self._secret: bytes | None = None
        # name -> end of its hold (0.0: not held), as the store said; the feed clears it.
        self._checked: LruCache[str, float] = LruCache(
            max_entries=_CHECKED, max_bytes=_CHECKED_BYTES
        )
        # Storage roots whose name is held while their pod is being erased: their requests
        # answer 410 from the hold on, though the pod is still there.
        self.frozen: set[str] = set()
        # The keys of the holds there are (expired ones too, until the store says they went),
        # following the feed: while there are none, no request needs `check`.
        self._held_keys: set[str] = set()

    # --- the key and the names ----------------------------------------------------------------

    async def load(self) -> None:
        """Read (or make) the HMAC key, and freeze the pods whose name is held (an erasure that
        stopped half-way: it resumes at start-up). Call at start, after the store is open."""
        await self._key()
        held = {key for key, _ in await self._held.items()}
        self._held_keys |= held
        self.frozen = {root for root in self.storages.roots() if self._root_key(root) in held}

    async def _key(self) -> bytes:
        if self._secret is None:
            await self._keys.put_new(_KEY_ID, _Key(secrets.token_hex(32)))
            found = await self._keys.get(_KEY_ID)
            assert found is not None, "the tombstone key was just stored"
            self._secret = bytes.fromhex(found.secret)
        return self._secret

    def _name_key(self, secret: bytes, name: str) -> str:
        return hmac.new(secret, b"pod:" + name.encode(), hashlib.sha256).hexdigest()

    def _root_key(self, root: str) -> str | None:
        if self._secret is None or root == paths.ROOT:
            return None
        return self._name_key(self._secret, name_of(root))

    async def hold(self, name: str, hold: Hold) -> None:
        """Hold `name` back until `hold.until` (idempotent: the job may repeat this step)."""
        key = self._name_key(await self._key(), name)
        self._held_keys.add(key)  # before the hold is stored: never a moment unchecked
        await self._held.put(key, hold, ttl=max(1.0, hold.until - self.clock()))
        self.frozen.add(f"/{name}/")
        self._checked.pop(name)

    async def held(self, name: str) -> Hold | None:
        """The hold on `name`, if it is held now."""
        found = await self._held.get(self._name_key(await self._key(), name))
        if found is None or found.until <= self.clock():
            return None
        return found

    async def claim(self, name: str, reclaim: str | None, *, check_only: bool = False) -> None:
        """Let `name` be taken: free if not held; if held, only with its reclaim code, which
        ends the hold (unless `check_only`: the pod is made first). Raises Conflict otherwise."""
        found = await self.held(name)
        if found is None:
            return
        if not reclaim or not hmac.compare_digest(code_hash(reclaim), found.reclaim):
            raise Conflict(
                f"the pod name {name!r} is held back after an erasure; it can be taken again "
                "with the reclaim code from the erasure receipt"
            )
        if check_only:
            return
        await self._held.delete(self._name_key(await self._key(), name))
        self._checked.pop(name)
        self.frozen.discard(f"/{name}/")

    # --- the check on requests ----------------------------------------------------------------

    def may_be_held(self, path: str) -> bool:
        """Whether a request for `path` needs `check`: not when it is in a live pod (one whose
        name is not held). Every request to a pod pays this test, so it looks at the first
        segment only (pods are top-level, `pod.accounts.pods`): a slice and a look-up; and
        while no name is held at all (no erasure in `name_hold_days`), nothing."""
        if not self._held_keys:
            return False
        end = path.find("/", 1)
        if end < 0:
            return True
        top = path[: end + 1]
        frozen = self.frozen
        return not self.storages.is_root(top) or (bool(frozen) and top in frozen)

    async def check(self, path: str) -> None:
        """Raise Gone if `path` is in a pod whose name is held."""
        name = name_of(path)
        if not name:
            return
        until = self._checked.get(name)
        if until is None:
            found = await self.held(name) if POD_NAME.match(name) else None
            until = 0.0 if found is None else found.until
            self._checked.put(name, until)
        if until > self.clock():
            raise Gone(
                "this pod was erased by its owner; its address and WebID are no longer in use"
            )

    def follow(self, event: Event) -> None:
        """A change feed listener: a name held or released (here or in another process)."""
        if not isinstance(event, RecordChanged) or event.namespace != HELD_NAMES.name:
            return
        self._checked.clear()
        if event.change is Change.DELETE:
            self._held_keys.discard(event.key)
        else:
            self._held_keys.add(event.key)
        for root in self.storages.roots():
            if self._root_key(root) == event.key:
                if event.change is Change.DELETE:
                    self.frozen.discard(root)
                else:
                    self.frozen.add(root)

    # --- jobs and receipts --------------------------------------------------------------------

    async def put_job(self, job: Job) -> None:
        await self._jobs.put(job.id, job)

    async def job(self, job_id: str) -> Job | None:
        return await self._jobs.get(job_id)

    async def jobs(self) -> list[Job]:
        return sorted((job for _, job in await self._jobs.items()), key=lambda j: j.started)

    async def end_job(self, receipt: Receipt) -> None:
        """Write the receipt, then drop the job (and with it the last names it held)."""
        await self._receipts.put(receipt.id, receipt)
        await self._jobs.delete(receipt.id)

    async def receipt(self, receipt_id: str) -> Receipt | None:
        return await self._receipts.get(receipt_id)

    async def receipts(self) -> list[Receipt]:
        return sorted((r for _, r in await self._receipts.items()), key=lambda r: r.erased_at)
