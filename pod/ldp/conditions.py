"""Conditional requests (RFC 9110 §13): the preconditions of a request and their evaluation.

Pure functions over metadata; imports errors only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from pod.errors import PreconditionFailed

MAX_ETAGS = 64


@dataclass(frozen=True, slots=True)
class Conditions:
    """Preconditions from `If-*` headers. ETags are tag values without quotes; `("*",)` is any."""

    if_match: tuple[str, ...] | None = None
    if_none_match: tuple[str, ...] | None = None
    if_modified_since: float | None = None
    if_unmodified_since: float | None = None


NO_CONDITIONS = Conditions()


class Outcome(Enum):
    PROCEED = "proceed"
    NOT_MODIFIED = "not-modified"


def _matches(tags: tuple[str, ...], etag: str | None, aliases: Collection[str]) -> bool:
    if etag is None:
        return False
    if "*" in tags:
        return True
    # Whole ETags only: an ETag is opaque (RFC 9110 §8.8.3), so no part of one is compared.
    return any(tag == etag or tag in aliases for tag in tags)


def evaluate(
    conditions: Conditions,
    *,
    etag: str | None,
    modified: float | None,
    safe_method: bool,
    aliases: Collection[str] = (),
) -> Outcome:
    """Evaluate preconditions against the current state (`etag` None: the resource is missing).

    `aliases` are the ETags of the current state's other representations (JSON-LD, N-Triples of
    a Turtle document): unsafe methods match any of them, so a client may send back the ETag of
    whichever representation it read. Raises PreconditionFailed; returns NOT_MODIFIED for
    GET/HEAD.
    """
    unsafe_aliases = () if safe_method else aliases
    exists = etag is not None
    # RFC 9110 §13.2.2: If-Match first, else If-Unmodified-Since.
    if conditions.if_match is not None:
        if not _matches(conditions.if_match, etag, unsafe_aliases):
            raise PreconditionFailed("If-Match does not match the current ETag")
    elif (
        conditions.if_unmodified_since is not None
        and exists
        and modified is not None
        and int(modified) > int(conditions.if_unmodified_since)
    ):
        raise PreconditionFailed("the resource was modified after If-Unmodified-Since")
    # Then If-None-Match, else (GET/HEAD only) If-Modified-Since.
    if conditions.if_none_match is not None:
        if _matches(conditions.if_none_match, etag, unsafe_aliases):
            if safe_method:
                return Outcome.NOT_MODIFIED
            if "*" in conditions.if_none_match:
                raise PreconditionFailed("If-None-Match: * but the resource exists")
            raise PreconditionFailed("If-None-Match matches the current ETag")
    elif (
        safe_method
        and conditions.if_modified_since is not None
        and exists
        and modified is not None
        and int(modified) <= int(conditions.if_modified_since)
    ):
        return Outcome.NOT_MODIFIED
    return Outcome.PROCEED
