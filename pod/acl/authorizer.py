"""One authorizer over any number of permission readers. Independent of HTTP.

A permission reader says which modes one source grants (agent, client, origin, purposes) on a
resource: Web Access Control (`pod.acl.wac_reader`) and purpose-bound grants (`pod.vault`).
The authorizer asks every reader and takes the union, works out which modes the operation needs
where (`pod.acl.modes`; it finds out itself what exists), refuses with 401 or 403 without
revealing what exists, and gives what WAC-Allow reports. Each reader owns its caches and keeps
them in step with the change feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, final

from pod import paths
from pod.acl.modes import Needs, needed_modes
from pod.errors import Forbidden, PodError, Unauthenticated
from pod.ldp.operation import Operation
from pod.ldp.resources import ResourceStore
from pod.model import ANONYMOUS, AccessMode, Basis, Credentials, Metadata

EVERYTHING = AccessMode.READ | AccessMode.APPEND | AccessMode.WRITE | AccessMode.CONTROL


class PermissionReader(Protocol):
    """A source of permissions. One whose grants to the public (no agent) change only through
    writes the change feed announces (ACL documents) says so with a class attribute
    `follows_feed = True`, which lets answers to anonymous reads be kept until the feed announces
    a change (`pod.http.answers`); without it (a reader that asks the clock, say) none is kept.
    One that never grants anything to a request without an agent says `agents_only = True`, and
    is not asked about those."""

    async def modes(self, credentials: Credentials, path: str) -> AccessMode:
        """The modes this source grants `credentials` (agent, client, origin) on `path`, an
        existing resource or one that would be created."""
        ...


@final
class GrantAll:
    """Grants everything to everyone: for a server whose access control is done elsewhere."""

    follows_feed = True

    async def modes(self, credentials: Credentials, path: str) -> AccessMode:
        return EVERYTHING


@final
@dataclass(frozen=True, slots=True)
class Allowed:
    """The modes an agent holds on one resource, and those everyone holds (for WAC-Allow)."""

    user: AccessMode
    public: AccessMode


class Checked(NamedTuple):
    """What an authorization found: the target's metadata (None: missing, or not looked up
    because the operation's needs do not depend on it), which paths exist, and the modes the
    agent holds on the target when they were asked (for WAC-Allow, without asking again)."""

    target: Metadata | None
    existing: frozenset[str]
    granted: AccessMode | None = None


_NOT_LOOKED = Checked(None, frozenset())
_DEPENDS_ON_EXISTENCE = frozenset({"PUT", "PATCH"})


@final
class Authorizer:
    def __init__(self, readers: Sequence[PermissionReader], store: ResourceStore) -> None:
        if not readers:
            raise ValueError("an authorizer needs at least one permission reader")
        self.readers = tuple(readers)
        # A reader that grants only to agents (`agents_only = True`: purpose-bound grants) is
        # not asked about requests without one.
        self._public_readers = tuple(r for r in readers if not getattr(r, "agents_only", False))
        self.store = store
        # Whether what the public is granted changes only through writes the feed announces.
        self.follows_feed = all(getattr(r, "follows_feed", False) for r in self.readers)

    async def granted(self, credentials: Credentials, path: str) -> AccessMode:
        """The union of what every reader grants (asked of every request: enum arithmetic is
        kept off the common paths, one reader granting everything, or nothing more)."""
        readers = self.readers if credentials.agent is not None else self._public_readers
        if not readers:
            return AccessMode.NONE
        modes = await readers[0].modes(credentials, path)
        for reader in readers[1:]:
            if modes == EVERYTHING:
                break
            more = await reader.modes(credentials, path)
            if more:
                modes |= more
        return modes

    async def authorize(
        self, credentials: Credentials, operation: Operation, *, known: Checked | None = None
    ) -> Checked:
        """Return if every mode `operation` needs is granted; else raise Unauthenticated or
        Forbidden. `known` is an earlier check of the same request (a PATCH is checked before
        and after its body is read), whose look-ups are reused."""
        if known is not None:
            checked = known
        elif operation.method in _DEPENDS_ON_EXISTENCE:
            checked = await self._look(operation)
        else:
            checked = _NOT_LOOKED
        needs = needed_modes(
            operation.method,
            operation.target,
            exists=checked.existing.__contains__,
            patch=operation.patch,
        )
        on_target = None
        for path, modes in needs.modes.items():
            granted = await self.granted(credentials, path)
            if modes & granted != modes:  # not all granted
                refusal = _refusal(credentials, needs, self.store.url(needs.target or path))
                # Explained only on the target itself: on an ancestor (a create needs Append
                # there) it would tell which containers exist.
                if isinstance(refusal, Forbidden) and path == operation.target:
                    reason = await self._explain(credentials, path, modes & ~granted)
                    if reason is not None:
                        refusal = Forbidden(f"{refusal.message}: {reason}")
                raise refusal
            if path == operation.target:
                on_target = granted
        return checked if on_target is None else checked._replace(granted=on_target)

    async def basis(
        self, credentials: Credentials, path: str, mode: AccessMode
    ) -> tuple[Basis, ...]:
        """What grants `credentials` `mode` on `path`, as each reader that can tell (a `basis`
        method, like `explain`) tells it: for the owner's access log, asked only of requests it
        records, after they were allowed."""
        found: tuple[Basis, ...] = ()
        for reader in self.readers:
            basis = getattr(reader, "basis", None)
            if basis is not None:
                more: tuple[Basis, ...] = await basis(credentials, path, mode)
                found += more
        return found

    async def _explain(
        self, credentials: Credentials, path: str, missing: AccessMode
    ) -> str | None:
        """A reader's account of why `credentials` lack `missing` on `path`, for a reader that
        can give one the requester may hear (a grant it holds there ended, or does not cover
        the purpose or mode asked): only about the requester's own grants, never about what
        exists."""
        for reader in self.readers:
            explain = getattr(reader, "explain", None)
            if explain is not None:
                reason: str | None = await explain(credentials, path, missing)
                if reason is not None:
                    return reason
        return None

    async def _look(self, operation: Operation) -> Checked:
        """Which of the target and its ancestors exist, up to the nearest existing ancestor,
        for the operations whose needs depend on it (a create needs Append above)."""
        if paths.is_auxiliary(operation.target):
            return _NOT_LOOKED  # an auxiliary resource's needs are its subject's, whatever exists
        target = await self.store.head(operation.target)
        if target is not None:
            return Checked(target, frozenset({operation.target}))
        for ancestor in paths.ancestors(operation.target):
            if await self.store.head(ancestor) is not None:
                return Checked(None, frozenset({ancestor}))
        return Checked(None, frozenset())

    async def allowed(
        self, credentials: Credentials, path: str, *, user: AccessMode | None = None
    ) -> Allowed:
        """The modes `credentials` and the public hold on `path`; `user`, when given, is what
        an authorization of this request found for `credentials` there."""
        if user is None:
            user = await self.granted(credentials, path)
        if not credentials.is_authenticated and credentials.origin is None:
            return Allowed(user, user)  # the public is who asks
        return Allowed(user, await self.granted(ANONYMOUS, path))


def _refusal(credentials: Credentials, needs: Needs, url: str) -> PodError:
    """401 or 403 naming the request, never the path or mode that was missing: those depend on
    what exists (a create needs Append on the nearest existing container), and missing and
    forbidden must look alike (Solid Protocol #server-unauthenticated)."""
    action = needs.method or "access"
    if not credentials.is_authenticated:
        return Unauthenticated(f"authentication is required to {action} {url}")
    return Forbidden(f"{credentials.agent} may not {action} {url}")
