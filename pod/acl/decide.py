"""The access decision: compare needed modes with granted ones. Independent of HTTP.

`Authorizer` is the seam every operation passes through before it acts. `AllowAll` is what a
server without access control uses; `pod.acl.wac` provides the Web Access Control one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, final

import pyoxigraph as ox

from pod import paths
from pod.acl.groups import Groups
from pod.acl.modes import Needs
from pod.acl.wac import Rule, acl_chain, applicable, parse_rules, validate_acl
from pod.errors import Forbidden, InvalidAcl, PodError, Unauthenticated
from pod.ldp.events import ResourceEvent
from pod.ldp.store import SolidStore
from pod.model import ANONYMOUS, AccessMode, Credentials

log = logging.getLogger(__name__)


@final
@dataclass(frozen=True, slots=True)
class Allowed:
    """The modes an agent holds on one resource, and those everyone holds (for WAC-Allow)."""

    user: AccessMode
    public: AccessMode


class Authorizer(Protocol):
    async def authorize(self, *, credentials: Credentials, needs: Needs) -> None:
        """Return if every needed mode is granted; else raise Unauthenticated or Forbidden."""
        ...

    async def allowed(self, *, credentials: Credentials, path: str) -> Allowed:
        """The modes `credentials` and the public hold on `path`."""
        ...


_EVERYTHING = AccessMode.READ | AccessMode.APPEND | AccessMode.WRITE | AccessMode.CONTROL


@final
class AllowAll:
    """Grants everything to everyone: a server with access control switched off."""

    async def authorize(self, *, credentials: Credentials, needs: Needs) -> None:
        return None

    async def allowed(self, *, credentials: Credentials, path: str) -> Allowed:
        return Allowed(_EVERYTHING, _EVERYTHING)


@final
class WacAuthorizer:
    """Web Access Control decisions over the ACL documents in the store.

    Decisions and effective ACLs are cached under a generation number, which goes up on every
    change of an ACL document or of a local group document an ACL refers to (write events are
    emitted before the write's response is sent). A decision computed under an older generation
    is never reused, so no revoked access survives a revoking write that has returned.
    """

    def __init__(
        self,
        store: SolidStore,
        groups: Groups,
        *,
        trusted_origins: frozenset[str] = frozenset(),
        cache_size: int = 50_000,
    ) -> None:
        self.store = store
        self.groups = groups
        self.trusted_origins = frozenset(o.rstrip("/") for o in trusted_origins)
        self.cache_size = cache_size
        self._generation = 0
        self._decisions: OrderedDict[tuple[str, str | None, str | None], tuple[int, AccessMode]]
        self._decisions = OrderedDict()
        self._rules: dict[str, tuple[int, list[Rule]]] = {}
        self._documents: dict[str, tuple[int, list[Rule] | None]] = {}
        store.events.subscribe(self._on_event)

    def _on_event(self, event: ResourceEvent) -> None:
        if paths.is_acl(event.path) or event.path in self.groups.local_documents:
            self._generation += 1
            self._decisions.clear()
            self._rules.clear()
            self._documents.clear()

    async def authorize(self, *, credentials: Credentials, needs: Needs) -> None:
        for path, modes in needs.modes.items():
            granted = await self.granted(credentials, path)
            if modes & ~granted:
                raise _refusal(credentials, needs, self.store.url(needs.target or path))

    async def allowed(self, *, credentials: Credentials, path: str) -> Allowed:
        user = await self.granted(credentials, path)
        public = await self.granted(ANONYMOUS, path)
        return Allowed(user, public)

    async def granted(self, credentials: Credentials, path: str) -> AccessMode:
        """The modes `credentials` hold on `path`."""
        origin = credentials.origin.rstrip("/") if credentials.origin else None
        key = (path, credentials.agent, origin)
        generation = self._generation
        cached = self._decisions.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        modes = AccessMode.NONE
        for rule in await self._effective_rules(path, generation):
            if modes & rule.modes == rule.modes:
                continue  # adds nothing
            if not rule.allows_origin(origin, self.trusted_origins):
                continue
            member_of: frozenset[str] = frozenset()
            if rule.groups and credentials.agent is not None and not rule.public:
                member_of = await self._memberships(rule.groups, credentials.agent)
            if rule.matches_agent(credentials, member_of):
                modes |= rule.modes
        self._decisions[key] = (generation, modes)
        if len(self._decisions) > self.cache_size:
            self._decisions.popitem(last=False)
        return modes

    async def _memberships(self, groups: frozenset[str], agent: str) -> frozenset[str]:
        found = set()
        for group in groups:
            if agent in await self.groups.members(group):
                found.add(group)
        return frozenset(found)

    async def _acl_document(self, acl_path: str, generation: int) -> list[Rule] | None:
        """The rules of one ACL document (None: it does not exist), parsed once per generation.

        Absent ACLs are remembered too: creating one is an ACL write, which starts a new
        generation.
        """
        cached = self._documents.get(acl_path)
        if cached is not None and cached[0] == generation:
            return cached[1]
        try:
            found = await self.store.read_graph(acl_path)
        except PodError as exc:
            # An unreadable ACL governs: it grants nothing (fail closed).
            log.error("ACL %s is unreadable, so it grants nothing: %s", acl_path, exc)
            found_rules: list[Rule] | None = []
        else:
            found_rules = None if found is None else parse_rules(found[1].triples)
        if generation == self._generation:
            if len(self._documents) >= self.cache_size:
                self._documents.clear()
            self._documents[acl_path] = (generation, found_rules)
        return found_rules

    async def _effective_rules(self, path: str, generation: int) -> list[Rule]:
        cached = self._rules.get(path)
        if cached is not None and cached[0] == generation:
            return cached[1]
        rules: list[Rule] = []
        for acl_path, inherited_from in acl_chain(path):
            document = await self._acl_document(acl_path, generation)
            if document is None:
                continue
            rules = applicable(
                document,
                target_url=self.store.url(path),
                inherited_from=None if inherited_from is None else self.store.url(inherited_from),
            )
            break
        if generation == self._generation:
            if len(self._rules) >= self.cache_size:
                self._rules.clear()
            self._rules[path] = (generation, rules)
        return rules


def _refusal(credentials: Credentials, needs: Needs, url: str) -> PodError:
    """401 or 403 naming the request, never the path or mode that was missing: those depend on
    what exists (a create needs Append on the nearest existing container), and missing and
    forbidden must look alike (Solid Protocol #server-unauthenticated)."""
    action = needs.method or "access"
    if not credentials.is_authenticated:
        return Unauthenticated(f"authentication is required to {action} {url}")
    return Forbidden(f"{credentials.agent} may not {action} {url}")


def acl_validator(store: SolidStore) -> Callable[[str, list[ox.Triple]], Awaitable[None]]:
    """A store validator refusing ACL documents that are invalid or lock a storage owner out."""

    async def validate(path: str, triples: list[ox.Triple]) -> None:
        if not paths.is_acl(path):
            return
        subject = paths.subject_of(path)
        subject_url = store.url(subject)
        rules = validate_acl(
            triples, subject_url=subject_url, subject_is_container=paths.is_container(subject)
        )
        owner = store.storage_owner(subject) if store.is_storage_root(subject) else None
        if owner is None:
            return
        owner_only = Credentials(agent=owner)
        keeps_control = any(
            AccessMode.CONTROL in rule.modes
            and subject_url in rule.access_to
            and not rule.origins
            and rule.matches_agent(owner_only, frozenset())  # groups can change; they don't count
            for rule in rules
        )
        if not keeps_control:
            raise InvalidAcl(
                f"the storage owner {owner} must keep acl:Control of {subject_url}; keep an "
                "authorization with acl:agent <owner>, acl:accessTo the storage and "
                "acl:mode acl:Control"
            )

    return validate
