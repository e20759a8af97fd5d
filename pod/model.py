"""Frozen value types shared by every layer: access modes, credentials, resource metadata.

Imports only the bottom layer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import final


class AccessMode(enum.Flag):
    """WAC access modes. `WRITE` implies `APPEND` when granted (WAC §access-modes)."""

    NONE = 0
    READ = enum.auto()
    APPEND = enum.auto()
    WRITE = enum.auto()
    CONTROL = enum.auto()

    @property
    def names(self) -> list[str]:
        """Lower-case names of the modes in this set, in WAC-Allow order."""
        return [m.name.lower() for m in ALL_MODES if m in self and m.name]


ALL_MODES = (AccessMode.READ, AccessMode.WRITE, AccessMode.APPEND, AccessMode.CONTROL)


@final
@dataclass(frozen=True, slots=True)
class Credentials:
    """Who is asking: a verified WebID (None: anonymous), the client app and the browser origin,
    and the purposes (DPV IRIs) the request says it serves, which grants must cover."""

    agent: str | None = None
    client_id: str | None = None
    issuer: str | None = None
    origin: str | None = None
    purposes: frozenset[str] = frozenset()

    @property
    def is_authenticated(self) -> bool:
        return self.agent is not None


ANONYMOUS = Credentials()


@final
@dataclass(frozen=True, slots=True)
class Metadata:
    """What storage knows about one resource without reading its body.

    `version` is an opaque token that changes on every write of this resource; ETags derive from it.
    `modified` is seconds since the epoch. `attrs` holds server-managed attributes (storage root
    marker, owner), never client data.
    """

    path: str
    is_container: bool
    content_type: str
    version: str
    modified: float
    size: int
    attrs: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_storage(self) -> bool:
        return self.attrs.get("storage") == "true"


@final
@dataclass(frozen=True, slots=True)
class Basis:
    """What allowed a request, as a permission reader tells it (for the owner's access log):
    `source` "wac" or "grant"; `ref` the path of the ACL document or of the grant record; `rule`
    the authorization's IRI (a blank node's label) within that ACL; `kind` how it names the
    agent (agent, public, authenticated, group:<iri>, grant); the purposes it covers and until
    when it holds (a grant's). `ref` is a resource path, made a URL only when shown (making
    URLs costs microseconds, and every logged request has a basis)."""

    source: str
    ref: str
    kind: str
    rule: str | None = None
    purposes: tuple[str, ...] = ()
    until: float | None = None
