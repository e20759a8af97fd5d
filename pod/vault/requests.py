"""Access requests: a publisher asks an owner for access, for purposes, for a while.

A request is a record in the owner's storage, `<storage>consent/requests/<id>`, kept by the
server and read by the owner only (like grants, pod.vault.grants). Its requester (WebID) and
client id come from the verified token that sent it, never from its body, and it never changes
once written. Its decision is one record where its grant goes, `<storage>consent/grants/<pair>/
<id>` with the request's own id: the grant when approved, a refusal when denied, written only if
no decision is there yet. So of an approval and a denial sent at once exactly one lands, two
approvals cannot give two grants, and a crash leaves the whole decision or none (no state in
between to repair). The requester learns the status of its own request (`status`), and nothing
else of the owner's.
Imports ldp, model, vault.grants.
"""

from __future__ import annotations

import contextlib
import enum
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Final, final

import pyoxigraph as ox

from pod.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PodError,
    PreconditionFailed,
    TooManyRequests,
)
from pod.ldp import rdf
from pod.ldp.conditions import NO_CONDITIONS, Conditions
from pod.ldp.locks import MemoryLocker
from pod.ldp.resources import ResourceStore
from pod.vault import grants
from pod.vault.grants import Grant, GrantBook, Refusal, Status, Terms
from pod.vocab import DPV, GC, KLUIS, PROV, RDF, RDFS, VC

REQUESTS: Final = grants.CONSENT + "requests/"
MAX_PENDING: Final = 20  # per requester in one storage: more waits for the owner's decisions
MAX_PENDING_IN_POD: Final = 200  # from everyone: a flood of WebIDs cannot bury the owner
COOL_DOWN: Final = 7 * 24 * 3600.0  # after a denial, before the same ask may come again
_CREATE_ONLY: Final = Conditions(if_none_match=("*",))


def requests_container(root: str) -> str:
    return root + REQUESTS


API_PREFIX: Final = ".kluis/consent/"  # under the base URL: the vault's API (pod.http.vault)


def api_url(base_url: str, root: str, what: str) -> str:
    """The URL of the vault API's `what` (requests, grants, choices) for storage `root`: where
    the owner's profile and the storage description send those who would ask for access."""
    return base_url.rstrip("/") + "/" + API_PREFIX + root.lstrip("/") + what


class RequestStatus(enum.Enum):
    PENDING = "pending"
    GRANTED = "granted"
    DENIED = "denied"
    EXPIRED = "expired"
    REVOKED = "revoked"


@final
@dataclass(frozen=True, slots=True)
class AccessRequest:
    path: str
    root: str
    owner: str
    requester: str
    client: str
    terms: Terms  # as asked
    made_at: float
    texts: Mapping[str, str] = field(default_factory=dict)  # language ("" for none) -> text
    denied_at: float | None = None
    reason: str | None = None  # why it was denied, when it was denied for a reason

    @property
    def id(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def grant_path(self) -> str:
        """Where approving it puts the grant."""
        return grants.pair_container(self.root, self.requester, self.client) + self.id


Decision = Grant | Refusal


def status(request: AccessRequest, decision: Decision | None, now: float) -> RequestStatus:
    """Where a request stands, given the decision that answers it (if any) and the clock. The
    record of the request itself never changes after it was made: its decision is its own
    record, so what the requester is told and what the owner decided cannot disagree."""
    if isinstance(decision, Grant):
        return {
            Status.GIVEN: RequestStatus.GRANTED,
            Status.WITHDRAWN: RequestStatus.REVOKED,
            Status.EXPIRED: RequestStatus.EXPIRED,
        }[decision.status(now)]
    if decision is not None or request.denied_at is not None:
        return RequestStatus.DENIED
    return RequestStatus.EXPIRED if now >= request.terms.expires else RequestStatus.PENDING


def denied(request: AccessRequest, decision: Decision | None) -> tuple[float, str | None] | None:
    """When the request was denied and why (a standing choice), if it was."""
    if isinstance(decision, Refusal):
        return decision.at, decision.reason
    if request.denied_at is not None:
        return request.denied_at, request.reason
    return None


# --- the record as RDF --------------------------------------------------------------------


def to_turtle(request: AccessRequest, url: Callable[[str], str], *, server: str) -> bytes:
    me = ox.NamedNode(url(request.path))
    iri = grants.iri
    denied = request.denied_at is not None
    triples = [
        ox.Triple(me, iri(RDF.type), iri(VC.SolidAccessRequest)),
        ox.Triple(me, iri(GC.isConsentForDataSubject), ox.NamedNode(request.owner)),
        ox.Triple(me, iri(GC.isProvidedTo), ox.NamedNode(request.requester)),
        ox.Triple(me, iri(KLUIS.client), grants.client_term(request.client)),
        ox.Triple(me, iri(DPV.isIndicatedAtTime), grants.time_literal(request.made_at)),
        ox.Triple(
            me,
            iri(DPV.hasConsentStatus),
            iri(DPV.ConsentRefused if denied else DPV.ConsentRequested),
        ),
        *grants.terms_triples(me, request.terms, url),
    ]
    for language, text in sorted(request.texts.items()):
        literal = ox.Literal(text, language=language) if language else ox.Literal(text)
        triples.append(ox.Triple(me, iri(RDFS.comment), literal))
    if request.denied_at is not None:
        triples.append(
            ox.Triple(me, iri(PROV.invalidatedAtTime), grants.time_literal(request.denied_at))
        )
    if request.reason is not None:
        triples.append(ox.Triple(me, iri(KLUIS.reason), ox.Literal(request.reason)))
    return rdf.serialize_stored(triples, document=me.value, server=server)


def from_triples(
    triples: list[ox.Triple],
    *,
    path: str,
    root: str,
    url: Callable[[str], str],
    path_of: Callable[[str], str | None],
) -> AccessRequest:
    """The request a record holds. Raises ValueError for a record this module did not write."""
    me = url(path)
    read = grants.RecordReader(triples)
    texts = {
        o.language or "": o.value for o in read.all(me, RDFS.comment) if isinstance(o, ox.Literal)
    }
    return AccessRequest(
        path=path,
        root=root,
        owner=read.one_iri(me, GC.isConsentForDataSubject),
        requester=read.one_iri(me, GC.isProvidedTo),
        client=read.one_value(me, KLUIS.client),
        terms=read.terms(me, path_of),
        made_at=grants.moment(read.one_literal(me, DPV.isIndicatedAtTime)),
        texts=texts,
        denied_at=read.optional_moment(me, PROV.invalidatedAtTime),
        reason=read.optional_text(me, KLUIS.reason),
    )


# --- asking, reading, deciding ----------------------------------------------------------------


@final
class RequestBook:
    """Writes and reads access requests through the store, so the change feed announces each."""

    def __init__(self, store: ResourceStore, book: GrantBook) -> None:
        self.store = store
        self.grants = book
        self._asking = MemoryLocker()

    async def read(self, path: str) -> AccessRequest:
        """The request recorded at `path`. Raises NotFound."""
        root = self.store.storages.root_of(path)
        if root is None or not path.startswith(requests_container(root)):
            raise NotFound(f"no access request at {self.store.url(path)}")
        found = await self.store.read_graph(path)
        if found is None:
            raise NotFound(f"no access request at {self.store.url(path)}")
        try:
            return from_triples(
                found[1].triples,
                path=path,
                root=root,
                url=self.store.url,
                path_of=self.store.path_of,
            )
        except ValueError as exc:
            raise Conflict(f"{self.store.url(path)} is not an access request: {exc}") from exc

    async def all_in(self, root: str) -> list[AccessRequest]:
        """Every request recorded in storage `root`, oldest first."""
        found = []
        for path in await grants.records_in(self.store, requests_container(root)):
            with contextlib.suppress(PodError):  # one unreadable record hides no other
                found.append(await self.read(path))
        return sorted(found, key=lambda r: r.made_at)

    async def decision_of(self, request: AccessRequest) -> Decision | None:
        """The grant or refusal that answers `request`, if it was decided."""
        try:
            return await self.grants.decision(request.grant_path)
        except NotFound:
            return None

    async def submit(
        self,
        *,
        root: str,
        requester: str,
        client: str,
        terms: Terms,
        texts: Mapping[str, str],
        now: float,
        refused: Callable[[frozenset[str]], str | None] | None = None,
    ) -> tuple[AccessRequest, bool]:
        """Record a request (and whether it is new). The same ask from the same app (for
        however long) still pending is answered with the pending one; an ask a denial answered
        within COOL_DOWN (from whichever app of the requester), or one beyond MAX_PENDING of
        the requester's or MAX_PENDING_IN_POD pending ones, is refused (429). `refused` names a
        standing refusal of the owner's that covers one of its purposes: then the request is
        recorded already denied, with that reason, and never waits for the owner."""
        owner = self.store.storages.owner(root)
        if owner is None:
            raise NotFound(f"{self.store.url(root)} is not a storage with an owner")
        grants.check_terms(terms, root=root, now=now)
        # One ask of a requester at a time in this process: two identical ones sent together
        # make one request.
        async with self._asking.hold(f"{root}\n{requester}"):
            return await self._submit(root, owner, requester, client, terms, texts, now, refused)

    async def _submit(
        self,
        root: str,
        owner: str,
        requester: str,
        client: str,
        terms: Terms,
        texts: Mapping[str, str],
        now: float,
        refused: Callable[[frozenset[str]], str | None] | None,
    ) -> tuple[AccessRequest, bool]:
        pending, waiting_in_pod = [], 0
        for earlier in await self.all_in(root):
            decision = await self.decision_of(earlier)
            state = status(earlier, decision, now)
            if state is RequestStatus.PENDING:
                waiting_in_pod += 1
            if earlier.requester != requester:
                continue
            if state is RequestStatus.PENDING:
                if earlier.client == client and _same_ask(earlier.terms, terms):
                    return earlier, False
                pending.append(earlier)
            when = denied(earlier, decision)
            if when is not None and now < when[0] + COOL_DOWN and _overlap(earlier.terms, terms):
                retry = int(when[0] + COOL_DOWN - now) + 1
                raise TooManyRequests(
                    "the owner denied a request for this access on "
                    f"{grants.when(when[0])}; ask again after "
                    f"{grants.when(when[0] + COOL_DOWN)}",
                    retry_after=retry,
                )
        if waiting_in_pod >= MAX_PENDING_IN_POD:
            raise TooManyRequests(
                "too many requests wait for this person's decision; ask again later",
                retry_after=3600,
            )
        if len(pending) >= MAX_PENDING:
            raise TooManyRequests(
                f"{len(pending)} requests of yours wait for the owner already; wait for their "
                "decisions",
                retry_after=3600,
            )
        request = AccessRequest(
            path=requests_container(root) + uuid.uuid4().hex,
            root=root,
            owner=owner,
            requester=requester,
            client=client,
            terms=terms,
            made_at=now,
            texts=dict(texts),
        )
        reason = refused(terms.purposes) if refused is not None else None
        if reason is not None:
            request = replace(request, denied_at=now, reason=reason)
        await grants.ensure_consent_container(self.store, root, owner)
        await grants.put_record(self.store, request.path, self._turtle(request), _CREATE_ONLY)
        return request, True

    async def approve(self, request: AccessRequest, terms: Terms, *, now: float) -> Grant:
        """Give the grant `request` asked for, or narrower `terms`. Raises Conflict once it was
        decided."""
        state = status(request, await self.decision_of(request), now)
        if state is not RequestStatus.PENDING:
            raise Conflict(f"the request is {state.value} already")
        if not terms.within(request.terms):
            raise BadRequest("an approval can give what was asked or less, never more")
        try:
            return await self.grants.give(
                root=request.root,
                recipient=request.requester,
                client=request.client,
                terms=terms,
                request=self.store.url(request.path),
                now=now,
                path=request.grant_path,
            )
        except PreconditionFailed as exc:
            raise Conflict("the request was decided meanwhile") from exc

    async def deny(
        self, request: AccessRequest, *, now: float, reason: str | None = None
    ) -> Refusal:
        """Refuse `request` (`reason`: a standing choice of the owner's, when that is why).
        Raises Conflict once it was decided."""
        state = status(request, await self.decision_of(request), now)
        if state is not RequestStatus.PENDING:
            raise Conflict(f"the request is {state.value} already")
        refusal = Refusal(request.grant_path, self.store.url(request.path), now, reason)
        try:
            await self.grants.refuse(request.grant_path, refusal)
        except PreconditionFailed as exc:
            raise Conflict("the request was decided meanwhile") from exc
        return refusal

    async def pseudonymise(
        self,
        root: str,
        agents: Collection[str],
        urn: str,
        *,
        erased: Callable[[str], bool],
        now: float,
    ) -> int:
        """Name `urn` instead of `agents` in the requests they made in storage `root`, without
        the words they wrote, and closed (denied now unless denied before): the erased person
        can no longer be answered. A client id `erased` says was in an erased pod becomes `urn`
        too. Returns how many records changed."""
        changed = 0
        for request in await self.all_in(root):
            if request.requester not in agents:
                continue
            new = replace(
                request,
                requester=urn,
                client=urn if erased(request.client) else request.client,
                texts={},
                denied_at=request.denied_at if request.denied_at is not None else now,
            )
            await grants.put_record(self.store, request.path, self._turtle(new), NO_CONDITIONS)
            changed += 1
        return changed

    def _turtle(self, request: AccessRequest) -> bytes:
        return to_turtle(request, self.store.url, server=self.store.base_url)


def _same_ask(a: Terms, b: Terms) -> bool:
    """Whether two asks are for the same access, however long: a publisher asking again
    while its ask is pending adds nothing for the owner to decide."""
    return (a.resources, a.inherit, a.modes, a.purposes) == (
        b.resources,
        b.inherit,
        b.modes,
        b.purposes,
    )


def _overlap(a: Terms, b: Terms) -> bool:
    """Whether two asks share a resource and a purpose (a cool-down holds for those)."""
    shares_resource = any(b.covers(r) for r in a.resources) or any(a.covers(r) for r in b.resources)
    return shares_resource and bool(a.purposes & b.purposes)
