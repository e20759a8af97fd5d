"""pod.cache: the bounded LRU cache every request-filled cache is built on."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pod.cache import Flights, LruCache, memoize_short, size_of

PROPERTY = settings(max_examples=300, deadline=None, database=None)


def _length(key: int, value: bytes) -> int:
    return len(value)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Model:
    """The obvious LRU, as a list in recency order: what LruCache must behave like."""

    def __init__(self, max_entries: int, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.entries: list[tuple[int, bytes, float | None]] = []

    def _index(self, key: int) -> int | None:
        for i, entry in enumerate(self.entries):
            if entry[0] == key:
                return i
        return None

    def put(self, key: int, value: bytes, expires: float | None) -> bool:
        i = self._index(key)
        if i is not None:
            del self.entries[i]
        if len(value) > self.max_entry_bytes:
            return False
        self.entries.append((key, value, expires))
        while len(self.entries) > self.max_entries or self.bytes > self.max_bytes:
            del self.entries[0]
        return True

    def get(self, key: int, now: float) -> bytes | None:
        i = self._index(key)
        if i is None:
            return None
        entry = self.entries.pop(i)
        if entry[2] is not None and entry[2] <= now:
            return None
        self.entries.append(entry)
        return entry[1]

    def pop(self, key: int) -> bytes | None:
        i = self._index(key)
        return None if i is None else self.entries.pop(i)[1]

    @property
    def bytes(self) -> int:
        return sum(len(v) for _, v, _ in self.entries)


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.integers(0, 12),
            st.binary(max_size=40),
            st.none() | st.floats(0, 10),
        ),
        st.tuples(st.just("get"), st.integers(0, 12)),
        st.tuples(st.just("pop"), st.integers(0, 12)),
        st.tuples(st.just("tick"), st.floats(0, 3)),
        st.tuples(st.just("clear")),
    ),
    max_size=80,
)


@PROPERTY
@given(
    max_entries=st.integers(1, 8),
    max_bytes=st.integers(1, 100),
    max_entry_bytes=st.none() | st.integers(0, 60),
    ops=operations,
)
def test_bounds_hold_and_it_behaves_as_an_lru_after_any_operations(
    max_entries: int,
    max_bytes: int,
    max_entry_bytes: int | None,
    ops: list[tuple[object, ...]],
) -> None:
    clock = Clock()
    cache: LruCache[int, bytes] = LruCache(
        max_entries=max_entries,
        max_bytes=max_bytes,
        max_entry_bytes=max_entry_bytes,
        sizer=_length,
        clock=clock,
    )
    model = Model(max_entries, max_bytes, max_bytes if max_entry_bytes is None else max_entry_bytes)
    for op in ops:
        match op:
            case ("put", int(key), bytes(value), expires):
                assert isinstance(expires, float | None)
                assert cache.put(key, value, expires=expires) == model.put(key, value, expires)
            case ("get", int(key)):
                assert cache.get(key) == model.get(key, clock.now)
            case ("pop", int(key)):
                assert cache.pop(key) == model.pop(key)
            case ("tick", float(seconds)):
                clock.now += seconds
            case ("clear",):
                cache.clear()
                model.entries.clear()
        assert len(cache) <= max_entries
        assert 0 <= cache.bytes <= max_bytes
        assert len(cache) == len(model.entries)
        assert cache.bytes == model.bytes


def test_an_entry_over_its_share_is_not_kept_and_drops_the_old_one() -> None:
    cache: LruCache[str, bytes] = LruCache(
        max_entries=10, max_bytes=100, max_entry_bytes=10, sizer=lambda k, v: len(v)
    )
    assert cache.put("a", b"small")
    assert not cache.put("a", b"x" * 11)
    assert cache.get("a") is None
    assert cache.bytes == 0


def test_a_get_returns_the_default_for_missing_and_expired_entries() -> None:
    clock = Clock()
    cache: LruCache[str, tuple[int, ...]] = LruCache(max_entries=4, max_bytes=10_000, clock=clock)
    cache.put("k", (), expires=1.0)
    assert cache.get("k", (1,)) == ()
    clock.now = 1.0
    assert cache.get("k", (1,)) == (1,)
    assert len(cache) == 0
    assert cache.bytes == 0


def test_a_cache_needs_room() -> None:
    with pytest.raises(ValueError, match="room"):
        LruCache(max_entries=0, max_bytes=10)


@dataclass(frozen=True, slots=True)
class Pair:
    name: str
    items: tuple[str, ...]


@PROPERTY
@given(short=st.text(max_size=20), extra=st.text(min_size=1, max_size=200))
@example(short="é", extra="0")  # a cached UTF-8 copy once made 'é' count more than 'é0'
def test_size_of_grows_with_every_string_a_value_holds(short: str, extra: str) -> None:
    longer = short + extra
    for make in (
        lambda s: s,
        lambda s: s.encode(),
        lambda s: (s, 1),
        lambda s: [s],
        lambda s: frozenset({s}),
        lambda s: {"k": s},
        lambda s: {s: None},
        lambda s: Pair("n", (s,)),
    ):
        assert size_of(make(longer)) >= size_of(make(short)) + len(extra)


def test_threads_may_write_while_the_loop_reads() -> None:
    cache: LruCache[int, bytes] = LruCache(max_entries=50, max_bytes=2_000, sizer=_length)
    stop = threading.Event()

    def write(offset: int) -> None:
        i = 0
        while not stop.is_set():
            cache.put(offset + i % 200, b"x" * (i % 70))
            cache.pop(offset + (i * 7) % 200)
            i += 1

    writers = [threading.Thread(target=write, args=(n * 1000,)) for n in range(3)]
    for t in writers:
        t.start()
    try:
        for i in range(20_000):
            cache.get(i % 200)
            cache.get(1000 + i % 200)
    finally:
        stop.set()
        for t in writers:
            t.join()
    assert len(cache) <= 50
    assert 0 <= cache.bytes <= 2_000


def test_memoize_short_keeps_only_short_text() -> None:
    calls: list[str | None] = []

    @memoize_short(maxsize=8, max_length=5)
    def upper(text: str | None, suffix: str) -> str:
        calls.append(text)
        return (text or "").upper() + suffix

    assert upper("abc", "!") == upper("abc", "!") == "ABC!"
    assert upper(None, "?") == upper(None, "?") == "?"
    assert upper("abcdef", "!") == upper("abcdef", "!") == "ABCDEF!"
    assert calls == ["abc", None, "abcdef", "abcdef"]  # the long text is computed each time
    assert upper.cache_info().currsize == 2


async def test_flights_share_one_build_which_a_cancelled_caller_does_not_stop() -> None:
    flights: Flights[str, int] = Flights(limit=1)
    started = 0
    release = asyncio.Event()

    async def build() -> int:
        nonlocal started
        started += 1
        await release.wait()
        return 42

    first = asyncio.ensure_future(flights.run("k", build))
    second = asyncio.ensure_future(flights.run("k", build))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == 42
    assert started == 1
    assert len(flights) == 0  # landed, so the next caller builds afresh
    assert await flights.run("k", build) == 42
    assert started == 2


async def test_flights_hand_a_failed_build_to_every_caller_and_forget_it() -> None:
    flights: Flights[str, int] = Flights(limit=2)

    async def build() -> int:
        await asyncio.sleep(0)
        raise KeyError("gone")

    results = await asyncio.gather(
        flights.run("k", build), flights.run("k", build), return_exceptions=True
    )
    assert [type(r) for r in results] == [KeyError, KeyError]
    assert len(flights) == 0
