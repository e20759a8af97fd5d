"""Content negotiation: `Accept` parsing (RFC 9110 §12.5.1) and choosing a media type.

Pure functions; imports nothing from pod but errors. Parsing is bounded: an over-long header or
too many ranges is read up to the bound, never more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pod.cache import memoize_short

MAX_ACCEPT_LENGTH = 4096
MAX_RANGES = 64
# The memo of `choose` takes Accept headers up to this long (browsers send a few hundred bytes),
# so its bound is evident: 1,024 entries of at most 1 KB plus the available types, about 2 MB.
_MEMO_MAX_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class MediaRange:
    type: str
    subtype: str
    q: float

    def specificity(self, media_type: str) -> int:
        """-1 if this range does not match `media_type`, else 0 (`*/*`), 1 (`x/*`) or 2 (exact)."""
        main, _, sub = media_type.partition("/")
        if self.type == "*":
            return 0
        if self.type != main:
            return -1
        if self.subtype == "*":
            return 1
        return 2 if self.subtype == sub else -1


def parse_accept(header: str) -> list[MediaRange]:
    """Parse an Accept header; malformed entries are skipped, as RFC 9110 lets a server do."""
    ranges: list[MediaRange] = []
    for item in header[:MAX_ACCEPT_LENGTH].split(",")[:MAX_RANGES]:
        media, *params = item.split(";")
        main, slash, sub = media.strip().lower().partition("/")
        main, sub = main.rstrip(), sub.lstrip()  # "* /0" is "*/0": no type of its own
        if not slash or not main or not sub or (main == "*" and sub != "*"):
            continue
        q = 1.0
        for param in params:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if not 0.0 <= q <= 1.0:
            continue
        ranges.append(MediaRange(main.strip(), sub.strip(), q))
    return ranges


def quality(ranges: Sequence[MediaRange], media_type: str) -> float:
    """The q-value the client gives `media_type`: that of the most specific matching range."""
    best_specificity, best_q = -1, 0.0
    for r in ranges:
        s = r.specificity(media_type)
        if s > best_specificity or (s == best_specificity and s >= 0 and r.q > best_q):
            best_specificity, best_q = s, r.q
    return best_q if best_specificity >= 0 else 0.0


@memoize_short(maxsize=1024, max_length=_MEMO_MAX_LENGTH)
def choose(accept: str | None, available: tuple[str, ...]) -> str | None:
    """The best of `available` (server preference order) for this Accept header, or None.

    No Accept header (or one with nothing parseable) accepts anything: the first type wins.
    Memoized: clients send the same few Accept headers over and over.
    """
    if not available:
        return None
    if accept is None or not accept.strip():
        return available[0]
    ranges = parse_accept(accept)
    if not ranges:
        return available[0]
    best, best_q = None, 0.0
    for media_type in available:
        q = quality(ranges, media_type)
        if q > best_q:
            best, best_q = media_type, q
    return best
