"""The owner's access log ("disclosures", GDPR Art. 15(1)(c): the recipients of their data).

Every request to a pod by an identified agent other than its owner is one record, allowed or
refused, with what allowed it (`model.Basis`); anonymous reads are counted per resource and day
instead (`count`), flushed every few seconds, never one record each. Records go to a journal
(`pod.storage.journal`), one segment per pod and UTC day, written before the response leaves
(`record` is one synchronous append), and are dropped whole days at a time once older than the
pod's retention. Imports ldp (storage roots), feed, cache, model, paths, storage.journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, Final, NamedTuple, final

from pod import paths
from pod.cache import LruCache
from pod.errors import BadRequest, PodError
from pod.feed import Event, ResourceChanged
from pod.ldp.storages import Storages
from pod.model import Basis
from pod.storage.journal import Journal


class Fragment(NamedTuple):
    """The repeating part of a pod's records (`Asker.fragment`) and that pod's journal key."""

    key: str
    json: bytes  # ASCII (JSON escapes the rest), ready to append


NOT_LOGGED: Final = Fragment("", b"")  # requests no record is made of (the owner's, say)


log = logging.getLogger(__name__)

MIN_DAYS: Final = 7
MAX_DAYS: Final = 3650
MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 200
MAX_GROUPS: Final = 10_000  # totals kept apart; the rest are summed as "other"
PUBLIC_KEYS: Final = 50_000  # anonymous read counters kept before a flush
_COUNT_SECONDS: Final = 10
_SYNC_SECONDS: Final = 1.0
_DAY_SECONDS: Final = 86_400
_VERSION: Final = 1
# json.dumps makes a new encoder per call unless every option is its default: one, made once.
_ENCODE: Final = json.JSONEncoder(separators=(",", ":")).encode
_STRING: Final = encode_basestring_ascii  # one JSON string (C, escapes every control character)
_MILLIS: Final = tuple(b".%03d" % n for n in range(1000))  # a record's time: the second's, these
_METHODS: Final = {
    m: _STRING(m).encode() for m in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
}
# What allowed a request, kept per (path, agent, client, origin, purposes, mode) as the JSON
# of its records: asking the readers and encoding their answer cost as much as the rest of
# the record. Forgotten on any announced change (ACLs, grants, group documents) and after
# _BASIS_SECONDS (remote groups) or when a grant it names ends.
_BASES: Final = 10_000
_BASIS_BYTES: Final = 8 * 1024 * 1024
_BASIS_SECONDS: Final = 60.0


def day_of(moment: float) -> str:
    """The UTC day of `moment` (seconds since the epoch), as `YYYY-MM-DD`."""
    return time.strftime("%Y-%m-%d", time.gmtime(moment))


def key_of(root: str) -> str:
    """The journal key of storage `root`: a digest, so no name reaches a file name."""
    return hashlib.sha256(root.encode()).hexdigest()[:32]


def action_of(method: str) -> str:
    """What a method did to a resource, in the words of WAC's modes."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    return "append" if method == "POST" else "write"


@final
@dataclass(frozen=True, slots=True)
class Asker:
    """The part of a record that repeats from request to request: who asked (WebID, client id,
    Origin), about which resource of which pod, for which purposes, and what allowed it."""

    root: str
    agent: str
    client: str | None
    origin: str | None
    path: str
    purposes: tuple[str, ...] = ()
    basis: tuple[Basis, ...] = ()

    def fragment(self) -> str:
        """These fields as the end of a record's JSON object (after `{"v":..,"s":..,`)."""
        return _ENCODE(
            {
                "a": self.agent,
                "c": self.client,
                "o": self.origin,
                "p": self.path,
                "u": list(self.purposes),
                "b": [_basis_json(b) for b in self.basis],
            }
        )[1:]


def fragment_of(asker: Asker) -> Fragment:
    """`asker`'s part of its records, with its pod's journal key."""
    return Fragment(key_of(asker.root), asker.fragment().encode())


def _basis_json(basis: Basis) -> dict[str, Any]:
    found: dict[str, Any] = {"source": basis.source, "ref": basis.ref, "kind": basis.kind}
    if basis.rule is not None:
        found["rule"] = basis.rule
    if basis.purposes:
        found["purposes"] = list(basis.purposes)
    if basis.until is not None:
        found["until"] = basis.until
    return found


@final
@dataclass(frozen=True, slots=True)
class Filters:
    """What the owner asks to see: agent, client, resource (a path; a container path also
    selects what it holds), purpose, and a time window."""

    since: float | None = None
    until: float | None = None
    who: str | None = None
    app: str | None = None
    path: str | None = None
    purpose: str | None = None

    def keeps(self, record: dict[str, Any]) -> bool:
        t = record.get("t", 0.0)
        if (self.since is not None and t < self.since) or (
            self.until is not None and t >= self.until
        ):
            return False
        if self.who is not None and record.get("a") != self.who:
            return False
        if self.app is not None and record.get("c") != self.app:
            return False
        if self.path is not None and not _under(record.get("p", ""), self.path):
            return False
        return self.purpose is None or self.purpose in purposes_of(record)

    @property
    def anonymous_match(self) -> bool:
        """Whether anonymous reads can match (they name no agent, app or purpose)."""
        return self.who is None and self.app is None and self.purpose is None


def purposes_of(record: dict[str, Any]) -> tuple[str, ...]:
    """The purposes a record's request was for: those it named (Kluis-Purpose), else those of
    the grants that allowed it (a grant is bound to its purposes, so a read through it serves
    them), else none."""
    named = record.get("u")
    if named:
        return tuple(named)
    found: set[str] = set()
    for basis in record.get("b") or ():
        if isinstance(basis, dict) and basis.get("source") == "grant":
            found.update(str(p) for p in basis.get("purposes") or ())
    return tuple(sorted(found))


def _under(path: str, selected: str) -> bool:
    return path == selected or (selected.endswith("/") and path.startswith(selected))


@dataclass(slots=True)
class Report:
    """What `DisclosureLog.read` found: the newest records (newest first), totals per
    (agent, client, resource, purposes (`purposes_of`), action, allowed), and the anonymous
    reads per resource and day."""

    records: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[tuple[str, str | None, str, tuple[str, ...], str, bool], int] = field(
        default_factory=dict
    )
    other: int = 0  # records in groups past MAX_GROUPS
    # With `read(..., choices=True)`: the records of the time window whatever the other
    # filters, per (agent, client, resource, purposes), for a page to offer as filters.
    seen: dict[tuple[str, str | None, str, tuple[str, ...]], int] = field(default_factory=dict)
    public: dict[tuple[str, str], int] = field(default_factory=dict)


@final
class DisclosureLog:
    """The access logs of every pod on this server (see the module docstring)."""

    def __init__(
        self,
        journal: Journal,
        storages: Storages,
        *,
        base_path: str = "/",
        days: int = 365,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.storages = storages
        self.base_path = base_path
        self.days = days
        self.clock = clock
        self._public: dict[tuple[str, str], int] = {}  # (raw path, day) -> reads
        # Made once a second (`_tick`), not per record: the second `_head` (a record's start)
        # and `_day` (the UTC day, strftime's) are for.
        self._second = -1
        self._head = b""
        self._day = ""
        self._middles: dict[tuple[str, int], bytes] = {}
        self._bases: LruCache[Hashable, Fragment] = LruCache(
            max_entries=_BASES, max_bytes=_BASIS_BYTES
        )
        self.epoch = 0  # moved by every announced change; see `remember`
        # The repeating part of the records of the requests a key names, when known: asked on
        # every recorded request, so the cache's own method, one call fewer.
        self.known: Callable[[Hashable], Fragment | None] = self._bases.get

    def follow(self, event: Event) -> None:
        """A change feed listener: any change may change what allows a request."""
        if isinstance(event, ResourceChanged):
            self.epoch += 1
            self._bases.clear()

    def remember(self, key: Hashable, asker: Asker | None, epoch: int) -> Fragment:
        """The repeating part of `asker`'s records (None: NOT_LOGGED), kept for `key` unless
        a change was announced since `epoch` (when the readers were asked what allowed it)."""
        if asker is None:
            if epoch == self.epoch:
                self._bases.put(key, NOT_LOGGED)
            return NOT_LOGGED
        fragment = fragment_of(asker)
        seconds = _BASIS_SECONDS
        for b in asker.basis:
            if b.until is not None:
                seconds = min(seconds, b.until - self.clock())
        if epoch == self.epoch and seconds > 0:
            self._bases.put(key, fragment, expires=time.monotonic() + seconds)
        return fragment

    def record(self, fragment: Fragment, request_id: str, method: str, status: int) -> None:
        """Append one record, now, to its pod's journal, before the response leaves (OSError
        when the journal cannot be written), as one line joined from bytes made before: the
        second and the day (`_tick`), a method and status's (`_middle`), the fragment. Only the
        request id is encoded here (the middleware's: `[0-9a-f-]`). On the request path the
        code runs with cold caches, where formatting one number costs about a microsecond."""
        at = self.clock()
        second = int(at)
        if second != self._second:
            self._tick(second)
        middle = self._middles.get((method, status))
        if middle is None:
            middle = self._middle(method, status)
        self.journal.append_line(
            fragment.key,
            self._day,
            b"".join(
                (
                    self._head,
                    _MILLIS[int((at - second) * 1000)],
                    b',"r":"',
                    request_id.encode(),
                    middle,
                    fragment.json,
                    b"\n",
                )
            ),
        )

    def _tick(self, second: int) -> None:
        """What a record and a count made in `second` share: the record's head, the day."""
        self._second = second
        self._head = b'{"v":%d,"t":%d' % (_VERSION, second)
        self._day = day_of(second)

    def _middle(self, method: str, status: int) -> bytes:
        """`","m":<method>,"s":<status>,`, kept for the methods this server serves."""
        known = _METHODS.get(method)
        middle = b'","m":%s,"s":%d,' % (known or _STRING(method).encode(), status)
        if known is not None:
            self._middles[(method, status)] = middle  # at most 7 methods x 500 statuses
        return middle

    def count(self, raw_path: str) -> None:
        """Count one anonymous read of the resource at `raw_path` (the still-encoded request
        path): resolved to a pod when flushed, off the request path."""
        second = int(self.clock())
        if second != self._second:
            self._tick(second)
        key = (raw_path, self._day)
        counts = self._public
        counts[key] = counts.get(key, 0) + 1
        if len(counts) >= PUBLIC_KEYS:
            self.flush_counts()

    def flush_counts(self) -> None:
        """Write the anonymous read counts gathered so far, one record per (resource, day)."""
        counts, self._public = self._public, {}
        for (raw, day), n in counts.items():
            try:
                path = paths.parse_url_path(raw, self.base_path)
            except PodError:
                continue
            root = self.storages.root_of(path)
            if root is None:
                continue
            payload = {"v": _VERSION, "k": "n", "d": day, "p": path, "n": n}
            self.journal.append(
                key_of(root), day, json.dumps(payload, separators=(",", ":")).encode()
            )

    def retention(self, root: str) -> int:
        """The days `root`'s log is kept: its owner's choice, else the server's."""
        meta = self.journal.get_meta(key_of(root))
        if meta is not None:
            with contextlib.suppress(ValueError, TypeError, KeyError):
                return int(json.loads(meta)["days"])
        return self.days

    def set_retention(self, root: str, days: int) -> int:
        """Keep `root`'s log `days` days from now on, and drop what is older now. Returns the
        segments dropped. Raises BadRequest outside MIN_DAYS..MAX_DAYS."""
        if not MIN_DAYS <= days <= MAX_DAYS:
            raise BadRequest(f"the access log is kept {MIN_DAYS} to {MAX_DAYS} days, not {days}")
        key = key_of(root)
        self.journal.put_meta(key, json.dumps({"days": days}).encode())
        return self._drop_old(key, days)

    def apply_retention(self) -> int:
        """Drop every pod's segments older than its retention; return how many."""
        dropped = 0
        for key in self.journal.all_keys():
            meta = self.journal.get_meta(key)
            days = self.days
            if meta is not None:
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    days = int(json.loads(meta)["days"])
            dropped += self._drop_old(key, days)
        return dropped

    def _drop_old(self, key: str, days: int) -> int:
        return self.journal.drop_before(key, day_of(self.clock() - days * _DAY_SECONDS))

    def drop(self, root: str) -> None:
        """Forget `root`'s whole log (its pod is erased)."""
        self.journal.drop(key_of(root))

    async def pseudonymise(
        self, agents: Collection[str], urn: str, *, erased: Callable[[str], bool]
    ) -> int:
        """Name `urn` instead of `agents` in every pod's log (GDPR Art. 17: an erased person's
        WebID leaves other owners' records, which still show that someone read what, when and
        under which grant), with a client id `erased` says was in an erased pod; returns the
        records changed. The segments are searched in a thread; each one that names them is
        then read again and replaced with no await in between, on the loop that appends, so
        no record written meanwhile is lost."""
        self.flush_counts()
        needles = [_STRING(agent)[1:-1].encode() for agent in agents]
        changed = 0
        for key, day in await asyncio.to_thread(self._naming, needles):
            kept = []
            for payload in self.journal.read(key, day):
                if any(n in payload for n in needles):
                    payload, hit = _replaced(payload, agents, urn, erased)
                    changed += hit
                kept.append(payload)
            self.journal.rewrite(key, day, kept)
            await asyncio.sleep(0)  # let requests in between segments
        return changed

    def _naming(self, needles: list[bytes]) -> list[tuple[str, str]]:
        """The segments (key, day) holding any of `needles`."""
        return [
            (key, day)
            for key in self.journal.all_keys()
            for day in self.journal.days(key)
            if any(n in payload for payload in self.journal.read(key, day) for n in needles)
        ]

    async def read(
        self, root: str, filters: Filters, *, limit: int = DEFAULT_LIMIT, choices: bool = False
    ) -> Report:
        """The newest `limit` records of `root`'s log that pass `filters`, with totals and
        anonymous reads (and, with `choices`, `Report.seen`); the segments are read in a
        thread."""
        self.flush_counts()  # what was counted so far shows at once
        return await asyncio.to_thread(self._scan, key_of(root), filters, limit, choices)

    def _scan(self, key: str, filters: Filters, limit: int, choices: bool = False) -> Report:
        report = Report()
        window = Filters(since=filters.since, until=filters.until) if choices else None
        newest: deque[dict[str, Any]] = deque(maxlen=limit)
        first = None if filters.since is None else day_of(filters.since)
        last = None if filters.until is None else day_of(filters.until)
        for day in self.journal.days(key):
            if (first is not None and day < first) or (last is not None and day > last):
                continue
            for record in _parsed(self.journal.read(key, day)):
                if record.get("k") == "n":
                    self._public_count(report, record, filters)
                else:
                    if window is not None and window.keeps(record):
                        _seen(report, record)
                    if filters.keeps(record):
                        newest.append(record)
                        _total(report, record)
        report.records = list(reversed(newest))
        return report

    def _public_count(self, report: Report, record: dict[str, Any], filters: Filters) -> None:
        path, day = record.get("p"), record.get("d")
        if not isinstance(path, str) or not isinstance(day, str) or not filters.anonymous_match:
            return
        if filters.path is not None and not _under(path, filters.path):
            return
        if (filters.since is not None and day < day_of(filters.since)) or (
            filters.until is not None and day > day_of(filters.until)
        ):
            return
        report.public[(path, day)] = report.public.get((path, day), 0) + int(record.get("n", 0))

    async def keep(self, *, retention_seconds: float = _DAY_SECONDS) -> None:
        """Run for the server's life: sync the journal every second (in a thread), write the
        anonymous counts every 10 s and at each new day, apply retention daily."""
        last_day = day_of(self.clock())
        last_retention = self.clock()
        ticks = 0
        while True:
            await asyncio.sleep(_SYNC_SECONDS)
            ticks += 1
            now = self.clock()
            day = day_of(now)
            try:
                if ticks % _COUNT_SECONDS == 0 or day != last_day:
                    self.flush_counts()
                await asyncio.to_thread(self.journal.sync)
                if day != last_day or now - last_retention >= retention_seconds:
                    self.apply_retention()
                    last_retention = now
            except OSError:
                log.exception("the access log could not be written or synced")
            last_day = day

    def close(self) -> None:
        """Write what is counted, sync, close (at shutdown)."""
        self.flush_counts()
        self.journal.close()


def _replaced(
    payload: bytes, agents: Collection[str], urn: str, erased: Callable[[str], bool]
) -> tuple[bytes, int]:
    """The record with `urn` for an erased agent or client; whether it changed."""
    try:
        record = json.loads(payload)
    except ValueError:
        return payload, 0
    if not isinstance(record, dict) or not isinstance(record.get("a"), str):
        return payload, 0
    if record["a"] not in agents:
        return payload, 0
    record["a"] = urn
    client = record.get("c")
    if isinstance(client, str) and erased(client):
        record["c"] = urn
    return _ENCODE(record).encode(), 1


def _parsed(payloads: Iterable[bytes]) -> Iterable[dict[str, Any]]:
    for payload in payloads:
        try:
            record = json.loads(payload)
        except (ValueError, RecursionError):
            continue  # a verified line that is not JSON: never written by us
        if is_well_formed(record):
            yield record  # the readers below rely on its fields' types


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_optional_text(value: object) -> bool:
    return value is None or isinstance(value, str)


# Each field of a record (`DisclosureLog.record`, `Asker.fragment`) or of an anonymous count
# (`flush_counts`) and of a basis (`_basis_json`): the test of its value, and whether the
# field must be there.
_Fields = dict[str, tuple[Callable[[object], bool], bool]]
_REQUEST_FIELDS: Final[_Fields] = {
    "v": (_is_number, False),
    "t": (_is_number, True),
    "r": (_is_text, False),
    "m": (_is_text, True),
    "s": (lambda v: isinstance(v, int) and not isinstance(v, bool), True),
    "a": (_is_text, True),
    "c": (_is_optional_text, False),
    "o": (_is_optional_text, False),
    "p": (_is_text, True),
    "u": (_is_strings, False),
    "b": (lambda v: isinstance(v, list) and all(_is_basis(b) for b in v), False),
}
_COUNT_FIELDS: Final[_Fields] = {
    "v": (_is_number, False),
    "k": (lambda v: v == "n", True),
    "d": (_is_text, True),
    "p": (_is_text, True),
    "n": (lambda v: isinstance(v, int) and not isinstance(v, bool), True),
}
_BASIS_FIELDS: Final[_Fields] = {
    "source": (_is_text, True),
    "ref": (_is_text, True),
    "kind": (_is_text, True),
    "rule": (_is_optional_text, False),
    "purposes": (_is_strings, False),
    "until": (lambda v: v is None or _is_number(v), False),
}


def _has_fields(value: dict[str, Any], fields: _Fields) -> bool:
    for name, (test, required) in fields.items():
        if name in value:
            if not test(value[name]):
                return False
        elif required:
            return False
    return True


def _is_basis(value: object) -> bool:
    return isinstance(value, dict) and _has_fields(value, _BASIS_FIELDS)


def is_well_formed(record: object) -> bool:
    """Whether `record` is a log record (or an anonymous count) whose fields have the types
    this module writes: the readers skip any other (a day restored from an archive, a journal
    edited by hand), so none can fail on one."""
    if not isinstance(record, dict):
        return False
    fields = _COUNT_FIELDS if "k" in record else _REQUEST_FIELDS
    return _has_fields(record, fields)


def _total(report: Report, record: dict[str, Any]) -> None:
    key = (
        str(record.get("a")),
        record.get("c"),
        str(record.get("p")),
        purposes_of(record),
        action_of(str(record.get("m"))),
        int(record.get("s", 500)) < 400,
    )
    totals = report.totals
    if key in totals:
        totals[key] += 1
    elif len(totals) < MAX_GROUPS:
        totals[key] = 1
    else:
        report.other += 1


def _seen(report: Report, record: dict[str, Any]) -> None:
    key = (str(record.get("a")), record.get("c"), str(record.get("p")), purposes_of(record))
    seen = report.seen
    if key in seen:
        seen[key] += 1
    elif len(seen) < MAX_GROUPS:
        seen[key] = 1
