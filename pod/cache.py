"""Bounded caches: one least-recently-used cache, limited in entries and in bytes; and builds
shared while they run (`Flights`). Bottom layer.

Every cache that a request can fill is one of these, with a byte budget of its own, so what an
outside client can make the server remember is bounded however many distinct requests it sends.
Sizes are estimates (`size_of`, or a sizer that knows the values), not measurements: they must
grow with what the client controls (lengths of strings and bodies), and need not be exact.

Entries may carry an expiry time; an expired entry is never returned. Reads take no lock, so a
cache costs about as much as a dict on the hot path; writes are serialised by a lock, so a cache
may be shared with worker threads (the file backend does its writes in threads).
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast, final, overload

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

Sizer = Callable[[K, V], int]

_FLAT = (bytes, bytearray, int, float, type(None))
_ASCII_BASE = sys.getsizeof("")
_TEXT_BASE = sys.getsizeof("\U0001f600") - 4  # a string stored four bytes a character


def size_of(value: object) -> int:
    """An estimate of the memory `value` holds, items included.

    Strings and bytes count by their length, tuples, lists, sets and dicts by
    their items, and slotted objects (our frozen dataclasses) by their fields; anything else
    counts shallowly, so a cache of such values needs a sizer of its own.
    """
    if isinstance(value, str):
        # From the length, not sys.getsizeof: CPython may attach a cached UTF-8 copy to a
        # string, which would make the estimate depend on what else touched it. Non-ASCII text
        # counts as four bytes a character, the most CPython stores.
        if value.isascii():
            return _ASCII_BASE + len(value)
        return _TEXT_BASE + 4 * len(value)
    if isinstance(value, _FLAT):
        return sys.getsizeof(value)
    if isinstance(value, tuple | list | set | frozenset):
        return sys.getsizeof(value) + sum(size_of(item) for item in value)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(size_of(k) + size_of(v) for k, v in value.items())
    slots = getattr(type(value), "__slots__", None)
    if slots:
        names = (slots,) if isinstance(slots, str) else slots
        return sys.getsizeof(value) + sum(
            size_of(getattr(value, name, None)) for name in names if name != "__weakref__"
        )
    return sys.getsizeof(value)


def _key_and_value(key: object, value: object) -> int:
    return size_of(key) + size_of(value)


@final
class LruCache(Generic[K, V]):
    """A mapping that forgets its least recently used entries beyond `max_entries` or
    `max_bytes`. An entry larger than `max_entry_bytes` (by default the whole budget) is not
    kept at all: its caller computed it and serves it, but no single answer may crowd out the
    rest.

    >>> cache: LruCache[str, bytes] = LruCache(max_entries=100, max_bytes=1 << 20)
    >>> cache.put("a", b"body")
    True
    >>> cache.get("a")
    b'body'
    """

    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int,
        max_entry_bytes: int | None = None,
        sizer: Sizer[K, V] = _key_and_value,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("a cache needs room for at least one entry and one byte")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes if max_entry_bytes is None else max_entry_bytes
        self._sizer = sizer
        self._clock = clock
        self._entries: OrderedDict[K, tuple[V, int, float | None]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...
    def get(self, key: K, default: object = None) -> object:
        """The value kept for `key` (now the most recently used), or `default`."""
        entry = self._entries.get(key)
        if entry is None:
            return default
        value, _, expires = entry
        if expires is not None and expires <= self._clock():
            self._remove(key, entry)
            return default
        # Not contextlib.suppress: this runs several times per request, and try costs nothing.
        try:  # noqa: SIM105
            self._entries.move_to_end(key)
        except KeyError:  # another thread removed it just now; the value is still good
            pass
        return value

    def put(self, key: K, value: V, *, expires: float | None = None) -> bool:
        """Keep `value` for `key` until `expires` (on this cache's clock; None: no expiry),
        evicting the least recently used entries to stay within bounds. Returns whether the
        value was kept; a value over `max_entry_bytes` is not, and drops the old one."""
        size = self._sizer(key, value)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_entry_bytes:
                return False
            self._entries[key] = (value, size, expires)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped, _) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return True

    def pop(self, key: K) -> V | None:
        """Forget `key`; its value if it was kept."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                return None
            self._bytes -= entry[1]
        return entry[0]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _remove(self, key: K, entry: tuple[V, int, float | None]) -> None:
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
                self._bytes -= entry[1]

    @property
    def bytes(self) -> int:
        """The estimated size of what is kept, never above `max_bytes`."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


class ShortMemo(Protocol[P, R_co]):
    """A pure function whose first argument is text a client sends (a header, a URL, a token;
    or None), memoized for text of at most `max_length` characters only: the memo's bound is then
    evident (`maxsize` entries of at most that length, with the other arguments and the
    answers), while longer text is computed each time. Made by `@memoize_short(...)`."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def cache_info(self) -> functools._CacheInfo: ...


def memoize_short(*, maxsize: int, max_length: int) -> Callable[[Callable[P, R]], ShortMemo[P, R]]:
    """Decorate a pure function as a ShortMemo (positional arguments only)."""

    def decorate(fn: Callable[P, R]) -> ShortMemo[P, R]:
        compute: Callable[..., R] = fn
        memo = functools.lru_cache(maxsize=maxsize)(compute)

        # A plain function, not a class: this runs several times per request.
        @functools.wraps(fn)
        def call(text: str | None, *args: Hashable) -> Any:
            if text is not None and len(text) > max_length:
                return compute(text, *args)
            return memo(text, *args)

        call.cache_info = memo.cache_info  # type: ignore[attr-defined]
        return cast(ShortMemo[P, R], call)

    return decorate


@final
class Flights(Generic[K, V]):
    """Builds in progress, by key (single-flight): a caller asking for a key whose build is
    running awaits that build instead of starting its own, so N concurrent requests for one
    expensive answer cost one build and hold one result. At most `limit` heavy builds run at
    once, whatever their keys, so what concurrent requests make the server hold while building
    is bounded by `limit` builds; light ones (`heavy=False`) never wait behind them.

    A build is not cancelled when a caller is (a client that goes away): the others still
    await it. The key must name everything the result depends on (a version, and whatever
    tells a build begun before a change from one begun after it); `forget` lets the next
    caller start afresh.
    """

    def __init__(self, *, limit: int) -> None:
        if limit < 1:
            raise ValueError("flights need room for at least one build")
        self.limit = limit
        self._running: dict[K, asyncio.Future[V]] = {}
        self._slots = asyncio.Semaphore(limit)

    async def run(self, key: K, build: Callable[[], Awaitable[V]], *, heavy: bool = True) -> V:
        """The result of the running build for `key`, or of `build()` started now."""
        flight = self._running.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._build(build) if heavy else build())
            self._running[key] = flight
            flight.add_done_callback(functools.partial(self._landed, key))
        # shield: a cancelled caller must not cancel the build the others await.
        return await asyncio.shield(flight)

    def forget(self, key: K) -> None:
        """Let the next caller for `key` start a build of its own; callers already awaiting
        the running one still get its result."""
        self._running.pop(key, None)

    async def _build(self, build: Callable[[], Awaitable[V]]) -> V:
        async with self._slots:
            return await build()

    def _landed(self, key: K, flight: asyncio.Future[V]) -> None:
        if self._running.get(key) is flight:
            del self._running[key]
        if not flight.cancelled():
            flight.exception()  # retrieved here: every caller may have gone

    def __len__(self) -> int:
        return len(self._running)
