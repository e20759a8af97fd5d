"""A request, parsed once into what the store and the authorizer act on.

The HTTP layer builds an Operation from the request's method, target and headers before any
logic runs; the body, and a PATCH's parsed patch, are added once they have been read (only
after a first authorization, so that nobody without access makes the server read a body).
"""

from __future__ import annotations

from typing import NamedTuple

from pod.ldp.conditions import NO_CONDITIONS, Conditions
from pod.ldp.patch import Patch


class Operation(NamedTuple):
    """A named tuple: immutable, and the cheapest such record to make, once per request."""

    method: str  # upper case
    target: str  # a validated resource path
    accept: str | None = None
    conditions: Conditions = NO_CONDITIONS
    content_type: str | None = None
    byte_range: slice | None = None  # as requested, before it is checked against the size
    if_range: str | None = None
    slug: str | None = None  # POST: the name asked for
    as_container: bool = False  # POST: create a container
    body: bytes = b""
    patch: Patch | None = None

    def with_body(self, body: bytes) -> Operation:
        return self._replace(body=body)

    def with_patch(self, patch: Patch) -> Operation:
        return self._replace(patch=patch)
