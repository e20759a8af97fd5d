"""`pod.ratelimit`: exact counts within the window, refusals count nothing, bounded memory."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pod.errors import TooManyRequests
from pod.ratelimit import RateLimiter

_ops = st.lists(
    st.tuples(
        st.sampled_from(["take", "give_back", "forget"]),
        st.integers(min_value=0, max_value=30),  # key
        st.floats(min_value=0, max_value=5, allow_nan=False),  # time step
    ),
    max_size=300,
)


@settings(max_examples=200, deadline=None, database=None)
@given(_ops)
def test_an_attempt_is_refused_exactly_when_the_window_is_full(
    ops: list[tuple[str, int, float]],
) -> None:
    """Against a model: per key, the times of the attempts counted and not given back."""
    limiter = RateLimiter(limit=3, window=10.0, max_keys=100)
    model: dict[str, list[float]] = {}
    now = 0.0
    for op, key_number, step in ops:
        now += step
        key = f"k{key_number}"
        stamps = model.setdefault(key, [])
        stamps[:] = [t for t in stamps if t > now - 10.0]
        if op == "take":
            full = len(stamps) >= 3
            refused = False
            try:
                limiter.take(key, now=now)
            except TooManyRequests:
                refused = True
            assert refused == full
            if not refused:
                stamps.append(now)
        elif op == "give_back":
            limiter.give_back(key)
            if stamps:
                stamps.pop()
        else:
            limiter.forget(key)
            stamps.clear()
        # keys whose attempts have all left the window may linger until touched (bounded)
        assert len(limiter) >= sum(1 for v in model.values() if v)


@settings(max_examples=100, deadline=None, database=None)
@given(_ops)
def test_memory_is_bounded_whatever_happens(ops: list[tuple[str, int, float]]) -> None:
    limiter = RateLimiter(limit=3, window=10.0, max_keys=8)
    now = 0.0
    for op, key_number, step in ops:
        now += step
        if op == "take":
            with contextlib.suppress(TooManyRequests):
                limiter.take(f"k{key_number}", now=now)
        elif op == "give_back":
            limiter.give_back(f"k{key_number}")
        else:
            limiter.forget(f"k{key_number}")
        assert len(limiter) <= 8


def test_a_refused_attempt_counts_nothing_and_the_window_slides() -> None:
    limiter = RateLimiter(limit=2, window=10.0)
    limiter.take("a", now=0.0)
    limiter.take("a", now=1.0)
    for now in (2.0, 3.0, 9.9):
        with pytest.raises(TooManyRequests, match="try again in"):
            limiter.take("a", now=now)
    limiter.take("a", now=10.5)  # the attempt at 0.0 has left the window
    with pytest.raises(TooManyRequests):
        limiter.take("a", now=10.6)
    limiter.give_back("a")
    limiter.take("a", now=10.7)


def test_keys_are_independent_and_emptied_keys_are_dropped() -> None:
    limiter = RateLimiter(limit=1, window=5.0)
    limiter.take("a", now=0.0)
    limiter.take("b", now=0.0)
    limiter.give_back("a")
    limiter.forget("b")
    assert len(limiter) == 0


def test_a_flood_of_keys_stays_bounded() -> None:
    limiter = RateLimiter(limit=5, window=900.0, max_keys=1000)
    for i in range(50_000):
        limiter.take(f"someone{i}@example.org", now=float(i) / 1000)
    assert len(limiter) == 1000
