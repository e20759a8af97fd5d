"""The Web Access Control permission reader: the modes the ACL documents in the store grant.

WAC https://solidproject.org/TR/wac. Decisions, effective ACLs and parsed ACL documents are
cached under a generation number, which the change feed moves on every change of an ACL document
or of a local group document an ACL refers to, whichever process made it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, final

import pyoxigraph as ox

from pod import paths
from pod.acl.groups import Groups
from pod.acl.wac import Rule, acl_chain, applicable, parse_rules, validate_acl
from pod.cache import LruCache, size_of
from pod.errors import InvalidAcl, PodError
from pod.feed import ChangeFeed, Event, ResourceChanged
from pod.ldp.resources import ResourceStore
from pod.model import AccessMode, Basis, Credentials

log = logging.getLogger(__name__)


# Byte budgets of the reader's caches. Their keys hold what a request controls (the path,
# the WebID of a verified token, the Origin header), so entries alone would not bound them.
# Every new path adds an entry to each of the three (its decision, its rules, its absent ACL),
# so they are bounded by entries (`cache_size`) well before these budgets.
_DECISION_BYTES: Final = 8 * 1024 * 1024
_RULE_BYTES: Final = 8 * 1024 * 1024
_DOCUMENT_BYTES: Final = 8 * 1024 * 1024
_ENTRY_BYTES: Final = 120  # a list, a tuple and the generation, estimated
_REFERENCE_BYTES: Final = 8
# Local group documents whose changes start a new generation; when too many are watched, all are
# forgotten at once and a new generation starts, as if each of them had changed.
_WATCHED_ENTRIES: Final = 10_000
_WATCHED_BYTES: Final = 4 * 1024 * 1024


@final
class WacReader:
    """Web Access Control decisions over the ACL documents in the store.

    Decisions and effective ACLs are cached under a generation number, which goes up on every
    change of an ACL document or of a local group document an ACL refers to (the change feed
    delivers each before the write's response is sent). A decision computed under an older
    generation is never reused, so no revoked access survives a revoking write that has returned.
    A decision that used a remote group also expires with that group's members (`Groups.ttl`),
    so the group is fetched again and a member removed there loses access on the next request
    after that.
    Every cache is bounded in entries (`cache_size`) and in bytes.
    """

    # What the public is granted depends on announced writes only (remote groups expire, but
    # they only ever name agents); see `PermissionReader`.
    follows_feed = True

    def __init__(
        self,
        store: ResourceStore,
        groups: Groups,
        feed: ChangeFeed,
        *,
        trusted_origins: frozenset[str] = frozenset(),
        cache_size: int = 4_000,  # decisions, rules and documents; each new path adds one
    ) -> None:
        self.store = store
        self.groups = groups
        self.trusted_origins = frozenset(o.rstrip("/") for o in trusted_origins)
        self.cache_size = cache_size
        self._generation = 0
        self._decisions: LruCache[tuple[str, str | None, str | None], tuple[int, AccessMode]]
        self._decisions = LruCache(
            max_entries=cache_size, max_bytes=_DECISION_BYTES, sizer=_decision_size
        )
        self._rules: LruCache[str, tuple[int, str | None, list[Rule]]]
        self._rules = LruCache(max_entries=cache_size, max_bytes=_RULE_BYTES, sizer=_rules_size)
        self._documents: LruCache[str, tuple[int, list[Rule] | None]]
        self._documents = LruCache(
            max_entries=cache_size, max_bytes=_DOCUMENT_BYTES, sizer=_document_size
        )
        self._watched: set[str] = set()  # local group documents
        self._watched_bytes = 0
        feed.subscribe(self._follow)

    def _follow(self, event: Event) -> None:
        if not isinstance(event, ResourceChanged):
            return
        if paths.is_acl(event.path) or event.path in self._watched:
            self._new_generation()

    def _new_generation(self) -> None:
        self._generation += 1
        self._decisions.clear()
        self._rules.clear()
        self._documents.clear()

    def _watch(self, path: str) -> None:
        """Start a new generation when the local group document `path` changes."""
        if path in self._watched:
            return
        if len(self._watched) >= _WATCHED_ENTRIES or self._watched_bytes >= _WATCHED_BYTES:
            # Decisions may rest on any watched document: forgetting them ends those decisions.
            self._watched.clear()
            self._watched_bytes = 0
            self._new_generation()
        self._watched.add(path)
        self._watched_bytes += len(path)

    async def modes(self, credentials: Credentials, path: str) -> AccessMode:
        """The modes the effective ACL of `path` grants `credentials`."""
        origin = credentials.origin.rstrip("/") if credentials.origin else None
        key = (path, credentials.agent, origin)
        generation = self._generation
        cached = self._decisions.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        modes = AccessMode.NONE
        expires: float | None = None  # the earliest expiry of what the decision used
        for rule in (await self._effective_rules(path, generation))[1]:
            if modes & rule.modes == rule.modes:
                continue  # adds nothing
            if not rule.allows_origin(origin, self.trusted_origins):
                continue
            member_of: frozenset[str] = frozenset()
            if rule.groups and credentials.agent is not None and not rule.public:
                member_of, until = await self._memberships(rule.groups, credentials.agent)
                if until is not None:
                    expires = until if expires is None else min(expires, until)
            if rule.matches_agent(credentials, member_of):
                modes |= rule.modes
        if generation == self._generation:
            self._decisions.put(key, (generation, modes), expires=expires)
        return modes

    async def _memberships(
        self, groups: frozenset[str], agent: str
    ) -> tuple[frozenset[str], float | None]:
        """The groups `agent` is a member of, and when the earliest of the answers expires."""
        found = set()
        expires: float | None = None
        for group in groups:
            document = self.groups.local_document(group)
            if document is not None:
                self._watch(document)  # before reading it, so no change can slip in between
            membership = await self.groups.membership(group)
            if agent in membership.members:
                found.add(group)
            if membership.expires is not None:
                expires = (
                    membership.expires if expires is None else min(expires, membership.expires)
                )
        return frozenset(found), expires

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
            self._documents.put(acl_path, (generation, found_rules))
        return found_rules

    async def basis(
        self, credentials: Credentials, path: str, mode: AccessMode
    ) -> tuple[Basis, ...]:
        """The authorizations of the effective ACL of `path` that grant `credentials` `mode`
        there, for the owner's access log (from the cached rules, as `modes` walks them)."""
        origin = credentials.origin.rstrip("/") if credentials.origin else None
        acl_path, rules = await self._effective_rules(path, self._generation)
        if acl_path is None:
            return ()
        found = []
        for rule in rules:
            if mode not in rule.modes or not rule.allows_origin(origin, self.trusted_origins):
                continue
            kind = None
            if credentials.agent is not None and credentials.agent in rule.agents:
                kind = "agent"
            elif rule.groups and credentials.agent is not None:
                member_of, _ = await self._memberships(rule.groups, credentials.agent)
                if member_of:
                    kind = "group:" + min(member_of)
            if kind is None and rule.authenticated and credentials.agent is not None:
                kind = "authenticated"
            if kind is None and rule.public:
                kind = "public"
            if kind is not None:
                found.append(Basis(source="wac", ref=acl_path, kind=kind, rule=rule.name))
        return tuple(found)

    async def effective(self, path: str) -> tuple[str | None, str | None, list[Rule]]:
        """What governs `path`, for the owner's pages: the effective ACL document (None: there
        is none), the container it is inherited from (None: it is the resource's own ACL), and
        its rules that govern `path` (WAC https://solidproject.org/TR/wac#effective-acl-resource;
        inherited ones are those with acl:default for that container). From the parsed ACL
        documents this reader keeps, so in step with the change feed."""
        generation = self._generation
        for acl_path, inherited_from in acl_chain(path):
            document = await self._acl_document(acl_path, generation)
            if document is None:
                continue
            rules = applicable(
                document,
                target_url=self.store.url(path),
                inherited_from=None if inherited_from is None else self.store.url(inherited_from),
            )
            return acl_path, inherited_from, rules
        return None, None, []

    async def _effective_rules(self, path: str, generation: int) -> tuple[str | None, list[Rule]]:
        """The effective ACL document of `path` (None: there is none) and its rules that
        govern `path`."""
        cached = self._rules.get(path)
        if cached is not None and cached[0] == generation:
            return cached[1], cached[2]
        rules: list[Rule] = []
        found: str | None = None
        for acl_path, inherited_from in acl_chain(path):
            document = await self._acl_document(acl_path, generation)
            if document is None:
                continue
            found = acl_path
            rules = applicable(
                document,
                target_url=self.store.url(path),
                inherited_from=None if inherited_from is None else self.store.url(inherited_from),
            )
            break
        if generation == self._generation:
            self._rules.put(path, (generation, found, rules))
        return found, rules


def _rules_size(path: str, entry: tuple[int, str | None, list[Rule]]) -> int:
    """A path's effective rules are those of an ACL document, kept and counted in full by
    `_documents`; here the path holds only references to them (counting them again on every
    new path was a tenth of the CPU of a PUT)."""
    return size_of(path) + _ENTRY_BYTES + _REFERENCE_BYTES * (len(entry[2]) + 1)


def _decision_size(key: tuple[str, str | None, str | None], entry: tuple[int, AccessMode]) -> int:
    """A decision holds its key's strings and two small numbers: counted without walking them
    (the generic `size_of` was a twentieth of the CPU of a PUT to a new path)."""
    return _ENTRY_BYTES + sum(size_of(part) for part in key if part is not None)


def _document_size(path: str, entry: tuple[int, list[Rule] | None]) -> int:
    """An absent ACL (every new path has one) costs its path; a present one, its rules."""
    rules = entry[1]
    return size_of(path) + _ENTRY_BYTES + (0 if rules is None else size_of(rules))


def acl_validator(store: ResourceStore) -> Callable[[str, list[ox.Triple]], Awaitable[None]]:
    """A store validator refusing ACL documents that are invalid or lock a storage owner out."""

    async def validate(path: str, triples: list[ox.Triple]) -> None:
        if not paths.is_acl(path):
            return
        subject = paths.subject_of(path)
        subject_url = store.url(subject)
        rules = validate_acl(triples, subject_url=subject_url)
        owner = store.storages.owner(subject) if store.storages.is_root(subject) else None
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
