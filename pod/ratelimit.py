"""Rate limits: sliding-window counters per key, atomic and bounded. Imports errors only.

A limiter counts attempts per key (a client address, an account, a device) within a window and
refuses one more once `limit` are counted. Counting happens before the work it guards (`take`),
in one synchronous step, so concurrent requests cannot all pass the check before any of them is
counted; work that turns out fine can hand its slot back (`give_back`). Memory is bounded: a key
holds at most `limit` timestamps, and at most `max_keys` keys are kept, the least recently
counted dropped first (a dropped key has counted nothing recently, or the limiter is being
flooded, in which case the per-address limits of its users still hold).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from typing import final

from pod.errors import TooManyRequests


@final
class RateLimiter:
    """At most `limit` attempts per key within `window` seconds."""

    def __init__(
        self, *, limit: int, window: float, max_keys: int = 10_000, what: str = "attempts"
    ) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("a rate limit needs limit >= 1, window > 0 and max_keys >= 1")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.what = what
        self._stamps: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        stamps = self._stamps.get(key)
        if stamps is None:
            return None
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._stamps[key]
            return None
        return stamps

    def check(self, key: str, *, now: float | None = None) -> None:
        """Raise TooManyRequests if `key` has used up its attempts; count nothing."""
        current = time.monotonic() if now is None else now
        stamps = self._recent(key, current)
        if stamps is not None and len(stamps) >= self.limit:
            retry = max(1, math.ceil(stamps[0] + self.window - current))
            raise TooManyRequests(
                f"too many {self.what}; try again in {retry} seconds", retry_after=retry
            )

    def take(self, key: str, *, now: float | None = None) -> None:
        """Count one attempt for `key`, or raise TooManyRequests (and count nothing)."""
        current = time.monotonic() if now is None else now
        self.check(key, now=current)
        stamps = self._stamps.get(key)
        if stamps is None:
            stamps = self._stamps[key] = deque(maxlen=self.limit)
            if len(self._stamps) > self.max_keys:
                self._stamps.popitem(last=False)
        else:
            self._stamps.move_to_end(key)
        stamps.append(current)

    def give_back(self, key: str) -> None:
        """Uncount the latest attempt of `key`: the work it guarded was legitimate."""
        stamps = self._stamps.get(key)
        if stamps:
            stamps.pop()
            if not stamps:
                del self._stamps[key]

    def forget(self, key: str) -> None:
        """Drop every attempt counted for `key`."""
        self._stamps.pop(key, None)

    def __len__(self) -> int:
        return len(self._stamps)
