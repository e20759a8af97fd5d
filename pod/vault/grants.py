"""Grants: what an owner gave whom, for which app, on what, for which purposes and until when.

A grant is its own record in the owner's pod, `<storage>consent/grants/<pair>/<id>` (one
container per recipient and client, `pair_container`), an RDF document
the server writes and only the owner may read (VAULT.md §1: never ACL lines, which would need a
sweeper and could outlive or fight their grant). Its terms use the vocabularies of consent
(GConsent https://w3id.org/GConsent, DPV https://w3id.org/dpv) the way Inrupt's access grants
do, and it keeps its history: every change (given, narrowed, withdrawn) is an event in the same
document, never deleted. Expiry needs no event: a grant allows nothing once `now >= expires`,
which `GrantReader` checks on every request, so no sweeper runs. Imports ldp, model, vocab.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final, final

import pyoxigraph as ox

from pod import paths
from pod.errors import BadRequest, Conflict, NotFound, PodError, PreconditionFailed
from pod.ldp import rdf
from pod.ldp.conditions import Conditions
from pod.ldp.resources import ResourceStore
from pod.model import AccessMode
from pod.vocab import ACL, CRED, DPV, GC, KLUIS, LDP, PROV, RDF, VC, XSD

CONSENT: Final = "consent/"  # under a storage root: kept by the server, read by the owner
GRANTS: Final = CONSENT + "grants/"
GRANTABLE: Final = AccessMode.READ | AccessMode.APPEND | AccessMode.WRITE  # never Control
MAX_RESOURCES: Final = 50
MAX_PURPOSES: Final = 10
_MODE_IRIS: Final = {AccessMode.READ: ACL.Read, AccessMode.APPEND: ACL.Append}
_MODE_IRIS[AccessMode.WRITE] = ACL.Write
_MODES_OF: Final = {str(term): mode for mode, term in _MODE_IRIS.items()}
_CONTAINS: Final = str(LDP.contains)


def consent_container(root: str) -> str:
    return root + CONSENT


def grants_container(root: str) -> str:
    return root + GRANTS


def pair_key(recipient: str, client: str) -> str:
    """The name of the container of one (recipient, client) pair's grants: a request needs
    only its own pair's grants, and finds them without reading anyone else's."""
    return hashlib.sha256(f"{recipient}\n{client}".encode()).hexdigest()[:32]


def pair_container(root: str, recipient: str, client: str) -> str:
    return grants_container(root) + pair_key(recipient, client) + "/"


def is_managed(path: str, root: str | None) -> bool:
    """Whether `path` is in the server-kept `consent/` container of storage `root`."""
    return root is not None and path.startswith(root + CONSENT)


@final
@dataclass(frozen=True, slots=True)
class Terms:
    """What a grant allows: `modes` on `resources` (paths; with their descendants when
    `inherit`), for `purposes` (DPV IRIs), until `expires` (seconds since the epoch)."""

    resources: tuple[str, ...]
    inherit: bool
    modes: AccessMode
    purposes: frozenset[str]
    expires: float

    def covers(self, path: str) -> bool:
        if self.inherit:
            return any(
                path == r or (r.endswith("/") and path.startswith(r)) for r in self.resources
            )
        return path in self.resources

    def within(self, wider: Terms) -> bool:
        """Whether these terms allow nothing `wider` does not (a narrowing)."""
        return (
            all(wider.covers(r) for r in self.resources)
            and (wider.inherit or not self.inherit)
            and self.modes & wider.modes == self.modes
            and self.purposes <= wider.purposes
            and self.expires <= wider.expires
        )


class Status(enum.Enum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class EventKind(enum.Enum):
    GIVEN = "Given"
    NARROWED = "Narrowed"
    WITHDRAWN = "Withdrawn"


@final
@dataclass(frozen=True, slots=True)
class GrantEvent:
    kind: EventKind
    at: float
    terms: Terms | None  # what a given or narrowed event set


@final
@dataclass(frozen=True, slots=True)
class Grant:
    """One grant record. `path` is the record's own path in the owner's storage `root`."""

    path: str
    root: str
    owner: str
    recipient: str
    client: str
    terms: Terms
    given_at: float
    withdrawn_at: float | None = None
    request: str | None = None  # the access request it answers, by URL
    history: tuple[GrantEvent, ...] = ()
    version: str = field(default="", compare=False)  # of the record it was read from

    def status(self, now: float) -> Status:
        if self.withdrawn_at is not None:
            return Status.WITHDRAWN
        return Status.GIVEN if now < self.terms.expires else Status.EXPIRED

    def names(self, path: str) -> bool:
        """Whether the grant's terms name `path`. What the server keeps (grants, requests) is
        never shared, a whole pod's grant with its contents included."""
        return self.terms.covers(path) and not is_managed(path, self.root)

    def modes(self, path: str, purposes: frozenset[str], now: float) -> AccessMode:
        """What this grant allows on `path` for a request naming `purposes`, now."""
        terms = self.terms
        if (
            self.withdrawn_at is None
            and now < terms.expires
            and purposes <= terms.purposes
            and self.names(path)
        ):
            return terms.modes
        return AccessMode.NONE


@final
@dataclass(frozen=True, slots=True)
class Refusal:
    """The owner's refusal of an access request, recorded where its grant would have gone."""

    path: str
    request: str  # the request's URL
    at: float
    reason: str | None = None  # why, when it was refused for the owner (a standing choice)


def refusal_to_turtle(refusal: Refusal, url: Callable[[str], str], *, server: str) -> bytes:
    me = ox.NamedNode(url(refusal.path))
    triples = [
        ox.Triple(me, iri(RDF.type), iri(DPV.Consent)),
        ox.Triple(me, iri(DPV.hasConsentStatus), iri(DPV.ConsentRefused)),
        ox.Triple(me, iri(VC.request), ox.NamedNode(refusal.request)),
        ox.Triple(me, iri(DPV.isIndicatedAtTime), time_literal(refusal.at)),
    ]
    if refusal.reason is not None:
        triples.append(ox.Triple(me, iri(KLUIS.reason), ox.Literal(refusal.reason)))
    return rdf.serialize_stored(triples, document=me.value, server=server)


def _is_refusal(triples: list[ox.Triple], me: str) -> bool:
    return str(DPV.ConsentRefused) in RecordReader(triples).iris(me, DPV.hasConsentStatus)


def refusal_from_triples(
    triples: list[ox.Triple], *, path: str, url: Callable[[str], str]
) -> Refusal:
    me = url(path)
    read = RecordReader(triples)
    return Refusal(
        path=path,
        request=read.one_iri(me, VC.request),
        at=moment(read.one_literal(me, DPV.isIndicatedAtTime)),
        reason=read.optional_text(me, KLUIS.reason),
    )


def check_terms(terms: Terms, *, root: str, now: float) -> None:
    """Raise BadRequest unless `terms` can be granted in storage `root`."""
    if not terms.resources:
        raise BadRequest("a grant names at least one resource")
    if len(terms.resources) > MAX_RESOURCES:
        raise BadRequest(f"a grant names at most {MAX_RESOURCES} resources")
    for path in terms.resources:
        if not path.startswith(root) or is_managed(path, root):
            raise BadRequest(f"{path} is not a resource of this pod that can be shared")
    if not terms.modes or terms.modes & GRANTABLE != terms.modes:
        raise BadRequest("a grant gives one or more of the modes read, append and write")
    if not terms.purposes or len(terms.purposes) > MAX_PURPOSES:
        raise BadRequest(f"a grant names one to {MAX_PURPOSES} purposes")
    if terms.expires <= now:
        raise BadRequest("a grant must end in the future")


# --- the record as RDF --------------------------------------------------------------------


def iri(term: object) -> ox.NamedNode:
    return ox.NamedNode(str(term))


def iso(at: float) -> str:
    """A moment as xsd:dateTime text, in UTC, to the millisecond."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def time_literal(at: float) -> ox.Literal:
    return ox.Literal(iso(at), datatype=iri(XSD.dateTime))


def moment(literal: ox.Literal) -> float:
    return datetime.fromisoformat(literal.value.replace("Z", "+00:00")).timestamp()


def client_term(client: str) -> ox.NamedNode | ox.Literal:
    """A client id as RDF: the IRI of its Client ID Document, or the text an identity provider
    gave it (Kluis's own client credentials have ids that are not IRIs)."""
    if client.startswith(("http://", "https://")):
        return ox.NamedNode(client)
    return ox.Literal(client)


def when(at: float) -> str:
    """A moment in words a person reads (UTC)."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def terms_triples(node: ox.NamedNode, terms: Terms, url: Callable[[str], str]) -> list[ox.Triple]:
    triples = [
        ox.Triple(node, iri(GC.forPersonalData), ox.NamedNode(url(p))) for p in terms.resources
    ]
    triples.append(
        ox.Triple(
            node,
            iri(KLUIS.inherit),
            ox.Literal(str(terms.inherit).lower(), datatype=iri(XSD.boolean)),
        )
    )
    triples += [
        ox.Triple(node, iri(ACL.mode), iri(term))
        for mode, term in _MODE_IRIS.items()
        if mode in terms.modes
    ]
    triples += [
        ox.Triple(node, iri(GC.forPurpose), ox.NamedNode(p)) for p in sorted(terms.purposes)
    ]
    triples.append(ox.Triple(node, iri(CRED.expirationDate), time_literal(terms.expires)))
    return triples


def to_turtle(grant: Grant, url: Callable[[str], str], *, server: str) -> bytes:
    """The record of `grant`; `url` maps a path to its URL, and IRIs under `server` (the base
    URL) are written relative to the record, so it survives a move (`kluis migrate`)."""
    me = ox.NamedNode(url(grant.path))
    withdrawn = grant.withdrawn_at is not None
    triples = [
        ox.Triple(me, iri(RDF.type), iri(VC.SolidAccessGrant)),
        ox.Triple(me, iri(RDF.type), iri(DPV.Consent)),
        ox.Triple(me, iri(GC.isConsentForDataSubject), ox.NamedNode(grant.owner)),
        ox.Triple(me, iri(GC.isProvidedTo), ox.NamedNode(grant.recipient)),
        ox.Triple(me, iri(KLUIS.client), client_term(grant.client)),
        ox.Triple(me, iri(DPV.hasLegalBasis), iri(DPV.ExplicitlyExpressedConsent)),
        ox.Triple(
            me,
            iri(GC.hasStatus),
            iri(GC.ConsentStatusWithdrawn if withdrawn else GC.ConsentStatusExplicitlyGiven),
        ),
        ox.Triple(
            me,
            iri(DPV.hasConsentStatus),
            iri(DPV.ConsentWithdrawn if withdrawn else DPV.ConsentGiven),
        ),
        ox.Triple(me, iri(DPV.isIndicatedAtTime), time_literal(grant.given_at)),
        *terms_triples(me, grant.terms, url),
    ]
    if grant.withdrawn_at is not None:
        triples.append(ox.Triple(me, iri(PROV.invalidatedAtTime), time_literal(grant.withdrawn_at)))
    if grant.request is not None:
        triples.append(ox.Triple(me, iri(VC.request), ox.NamedNode(grant.request)))
    for n, event in enumerate(grant.history, start=1):
        node = ox.NamedNode(f"{url(grant.path)}#event-{n}")
        triples += [
            ox.Triple(me, iri(KLUIS.history), node),
            ox.Triple(node, iri(RDF.type), iri(KLUIS[event.kind.value])),
            ox.Triple(node, iri(PROV.atTime), time_literal(event.at)),
        ]
        if event.terms is not None:
            triples += terms_triples(node, event.terms, url)
    return rdf.serialize_stored(triples, document=me.value, server=server)


class RecordReader:
    """Reads one record's triples by subject and predicate."""

    def __init__(self, triples: Iterable[ox.Triple]) -> None:
        self.values: dict[tuple[str, str], list[ox.NamedNode | ox.Literal | ox.BlankNode]] = {}
        for t in triples:
            if isinstance(t.subject, ox.NamedNode) and not isinstance(t.object, ox.Triple):
                self.values.setdefault((t.subject.value, t.predicate.value), []).append(t.object)

    def all(
        self, subject: str, predicate: object
    ) -> list[ox.NamedNode | ox.Literal | ox.BlankNode]:
        return self.values.get((subject, str(predicate)), [])

    def iris(self, subject: str, predicate: object) -> list[str]:
        return sorted(o.value for o in self.all(subject, predicate) if isinstance(o, ox.NamedNode))

    def one_iri(self, subject: str, predicate: object) -> str:
        found = self.iris(subject, predicate)
        if len(found) != 1:
            raise ValueError(f"{subject} needs one {predicate}")
        return found[0]

    def one_value(self, subject: str, predicate: object) -> str:
        """The one IRI or literal text of `predicate`."""
        found = [o for o in self.all(subject, predicate) if not isinstance(o, ox.BlankNode)]
        if len(found) != 1:
            raise ValueError(f"{subject} needs one {predicate}")
        return found[0].value

    def optional_literal(self, subject: str, predicate: object) -> ox.Literal | None:
        """The first literal of `predicate`, if there is one."""
        found = [o for o in self.all(subject, predicate) if isinstance(o, ox.Literal)]
        return found[0] if found else None

    def optional_moment(self, subject: str, predicate: object) -> float | None:
        found = self.optional_literal(subject, predicate)
        return None if found is None else moment(found)

    def optional_text(self, subject: str, predicate: object) -> str | None:
        found = self.optional_literal(subject, predicate)
        return None if found is None else found.value

    def one_literal(self, subject: str, predicate: object) -> ox.Literal:
        found = [o for o in self.all(subject, predicate) if isinstance(o, ox.Literal)]
        if len(found) != 1:
            raise ValueError(f"{subject} needs one {predicate}")
        return found[0]

    def terms(self, subject: str, path_of: Callable[[str], str | None]) -> Terms:
        resources = []
        for url in self.iris(subject, GC.forPersonalData):
            path = path_of(url)
            if path is None:
                raise ValueError(f"{url} is not on this server")
            resources.append(path)
        modes = AccessMode.NONE
        for iri in self.iris(subject, ACL.mode):
            modes |= _MODES_OF.get(iri, AccessMode.NONE)
        return Terms(
            resources=tuple(sorted(resources)),
            inherit=self.one_literal(subject, KLUIS.inherit).value == "true",
            modes=modes,
            purposes=frozenset(self.iris(subject, GC.forPurpose)),
            expires=moment(self.one_literal(subject, CRED.expirationDate)),
        )


def from_triples(
    triples: Iterable[ox.Triple],
    *,
    path: str,
    root: str,
    url: Callable[[str], str],
    path_of: Callable[[str], str | None],
) -> Grant:
    """The grant a record holds. Raises ValueError for a record this module did not write."""
    me = url(path)
    read = RecordReader(triples)
    requests = read.iris(me, VC.request)
    history = []
    for event in read.iris(me, KLUIS.history):
        kinds = {k for k in EventKind if str(KLUIS[k.value]) in read.iris(event, RDF.type)}
        if len(kinds) != 1:
            raise ValueError(f"{event} is not one kind of grant event")
        kind = kinds.pop()
        terms = None if kind is EventKind.WITHDRAWN else read.terms(event, path_of)
        history.append(GrantEvent(kind, moment(read.one_literal(event, PROV.atTime)), terms))
    history.sort(key=lambda e: e.at)
    return Grant(
        path=path,
        root=root,
        owner=read.one_iri(me, GC.isConsentForDataSubject),
        recipient=read.one_iri(me, GC.isProvidedTo),
        client=read.one_value(me, KLUIS.client),
        terms=read.terms(me, path_of),
        given_at=moment(read.one_literal(me, DPV.isIndicatedAtTime)),
        withdrawn_at=read.optional_moment(me, PROV.invalidatedAtTime),
        request=requests[0] if requests else None,
        history=tuple(history),
    )


# --- giving, narrowing, withdrawing -----------------------------------------------------------

_CREATE_ONLY: Final = Conditions(if_none_match=("*",))
_CONSENT_ACL: Final = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
# Kept by the server: the owner reads grants and requests here; the server alone writes them.
<#owner> a acl:Authorization ;
    acl:agent <{owner}> ;
    acl:accessTo <{container}> ;
    acl:default <{container}> ;
    acl:mode acl:Read .
"""


@final
class GrantBook:
    """Gives, narrows and withdraws grants, writing their records through the store (so the
    change feed announces each, and every process's `GrantReader` follows)."""

    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    async def read(self, path: str) -> Grant:
        """The grant recorded at `path`. Raises NotFound (a refusal is no grant)."""
        decision = await self.decision(path)
        if not isinstance(decision, Grant):
            raise NotFound(f"no grant at {self.store.url(path)}")
        return decision

    async def decision(self, path: str) -> Grant | Refusal:
        """The decision recorded at `path`: a grant, or the refusal of a request."""
        root = self.store.storages.root_of(path)
        found = None if root is None else await self.store.read_graph(path)
        if found is None or root is None or not path.startswith(grants_container(root)):
            raise NotFound(f"no grant at {self.store.url(path)}")
        meta, graph = found
        try:
            if _is_refusal(graph.triples, self.store.url(path)):
                return refusal_from_triples(graph.triples, path=path, url=self.store.url)
            grant = from_triples(
                graph.triples, path=path, root=root, url=self.store.url, path_of=self.store.path_of
            )
        except ValueError as exc:
            raise Conflict(f"{self.store.url(path)} is not a grant record: {exc}") from exc
        return replace(grant, version=meta.version)

    async def all_in(self, root: str) -> list[Grant]:
        """Every grant of storage `root`, oldest first (refusals left out)."""
        return [d for d in await self.decisions_in(root) if isinstance(d, Grant)]

    async def decisions_in(self, root: str) -> list[Grant | Refusal]:
        """Every decision recorded in storage `root`: a read of every record (for the owner's
        pages, not for deciding requests)."""
        found: list[Grant | Refusal] = []
        for pair in await children_of(self.store, grants_container(root)):
            if not pair.endswith("/"):
                continue
            for record in await records_in(self.store, pair):
                with contextlib.suppress(PodError):  # one unreadable record hides no other
                    found.append(await self.decision(record))
        return sorted(found, key=lambda d: d.given_at if isinstance(d, Grant) else d.at)

    async def refuse(self, path: str, refusal: Refusal) -> None:
        """Record the refusal of a request where its grant would go: only one of the two can
        be written (create-only), so an approval and a denial sent at once cannot both land.
        Raises PreconditionFailed if it was decided already."""
        turtle = refusal_to_turtle(refusal, self.store.url, server=self.store.base_url)
        await put_record(self.store, path, turtle, _CREATE_ONLY)

    async def give(
        self,
        *,
        root: str,
        recipient: str,
        client: str,
        terms: Terms,
        request: str | None = None,
        now: float,
        path: str | None = None,
    ) -> Grant:
        """Record a new grant in storage `root`, by its owner, at `path` (a new id unless
        given; PreconditionFailed if a grant is there already). Raises BadRequest for terms
        that cannot be granted there."""
        owner = self.store.storages.owner(root)
        if owner is None:
            raise NotFound(f"{self.store.url(root)} is not a storage with an owner")
        check_terms(terms, root=root, now=now)
        await ensure_consent_container(self.store, root, owner)
        grant = Grant(
            path=path or pair_container(root, recipient, client) + uuid.uuid4().hex,
            root=root,
            owner=owner,
            recipient=recipient,
            client=client,
            terms=terms,
            given_at=now,
            request=request,
            history=(GrantEvent(EventKind.GIVEN, now, terms),),
        )
        await put_record(self.store, grant.path, self._turtle(grant), _CREATE_ONLY)
        return grant

    async def narrow(self, path: str, terms: Terms, *, now: float) -> Grant:
        """Narrow a given grant to `terms`, which must allow nothing it did not."""
        grant = await self.read(path)
        if grant.status(now) is not Status.GIVEN:
            raise Conflict(
                f"the grant is {grant.status(now).value}; only a given one can be narrowed"
            )
        if not terms.within(grant.terms):
            raise BadRequest("narrowing can only take away resources, modes, purposes or time")
        check_terms(terms, root=grant.root, now=now)
        changed = replace(
            grant, terms=terms, history=(*grant.history, GrantEvent(EventKind.NARROWED, now, terms))
        )
        return await self._rewrite(grant, changed)

    async def withdraw(self, path: str, *, now: float) -> Grant:
        """Withdraw a grant: the next request it would have allowed is refused, in every
        process. Withdrawing a withdrawn grant changes nothing."""
        grant = await self.read(path)
        if grant.withdrawn_at is not None:
            return grant
        changed = replace(
            grant,
            withdrawn_at=now,
            history=(*grant.history, GrantEvent(EventKind.WITHDRAWN, now, None)),
        )
        return await self._rewrite(grant, changed)

    async def pseudonymise(
        self,
        root: str,
        agents: Collection[str],
        urn: str,
        *,
        erased: Callable[[str], bool],
        now: float,
    ) -> int:
        """Name `urn` instead of `agents` in the grants of storage `root` given to them, withdrawn
        from now on (GDPR Art. 17: the erased person's WebID leaves other owners' records; the
        grant's history stays). A client id `erased` says was in an erased pod becomes `urn`
        too. Returns how many records changed."""
        changed = 0
        for grant in await self.all_in(root):
            if grant.recipient not in agents:
                continue
            history = grant.history
            if grant.withdrawn_at is None:
                history = (*history, GrantEvent(EventKind.WITHDRAWN, now, None))
            new = replace(
                grant,
                recipient=urn,
                client=urn if erased(grant.client) else grant.client,
                withdrawn_at=grant.withdrawn_at if grant.withdrawn_at is not None else now,
                history=history,
            )
            await self._rewrite(grant, new)
            changed += 1
        return changed

    async def _rewrite(self, old: Grant, new: Grant) -> Grant:
        await rewrite_record(self.store, old.path, self._turtle(new), version=old.version)
        return new

    def _turtle(self, grant: Grant) -> bytes:
        return to_turtle(grant, self.store.url, server=self.store.base_url)


async def put_record(
    store: ResourceStore, path: str, turtle: bytes, conditions: Conditions
) -> None:
    """Write a record the server keeps (Turtle), under `conditions`."""
    await store.put(path, data=turtle, content_type=rdf.TURTLE, conditions=conditions)


async def rewrite_record(store: ResourceStore, path: str, turtle: bytes, *, version: str) -> None:
    """Replace a record, if it is still the version that was read: a change made meanwhile
    (another page, another process) is never overwritten unseen (409, look again)."""
    try:
        await put_record(store, path, turtle, Conditions(if_match=(version,)))
    except PreconditionFailed as exc:
        raise Conflict(f"{store.url(path)} changed meanwhile; look again and retry") from exc


async def ensure_consent_container(store: ResourceStore, root: str, owner: str) -> None:
    """`consent/` with its owner-only ACL, before any record goes in: a root whose ACL lets
    everyone read its contents must not lend that to grants, even after a crash between the
    writes."""
    container = consent_container(root)
    acl = paths.acl_of(container)
    if await store.head(acl) is not None:
        return
    if await store.head(container) is None:
        with contextlib.suppress(PreconditionFailed):  # another request made it meanwhile
            await store.put(container, data=b"", content_type=rdf.TURTLE, conditions=_CREATE_ONLY)
    body = _CONSENT_ACL.format(owner=owner, container=store.url(container))
    with contextlib.suppress(PreconditionFailed):  # another request made it meanwhile
        await store.put(acl, data=body.encode(), content_type=rdf.TURTLE, conditions=_CREATE_ONLY)


async def records_in(store: ResourceStore, container: str) -> list[str]:
    """The paths of the documents in `container` (none if it is missing), sorted."""
    return [p for p in await children_of(store, container) if not p.endswith("/")]


async def children_of(store: ResourceStore, container: str) -> list[str]:
    """The paths of what `container` holds (nothing if it is missing), sorted."""
    try:
        listing = await store.get(container, accept=rdf.N_TRIPLES)
    except NotFound:
        return []
    graph = rdf.parse(listing.data, listing.content_type, base=store.url(container))
    return sorted(
        path
        for t in graph.triples
        if t.predicate.value == _CONTAINS
        and isinstance(t.object, ox.NamedNode)
        and (path := store.path_of(t.object.value)) is not None
    )
