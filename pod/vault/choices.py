"""Standing choices: purposes the owner has refused once and for all ("never"; "ask me" is the
default and needs no record).

They are data in the pod, `<storage>consent/choices`, that anyone may read without asking, so a
publisher can honour them before it asks (issue 14 §2: preferences expressed once). Each refusal
is a DPV consent record with the status refused (https://w3id.org/dpv#ConsentRefused) for one
purpose. A request for a refused purpose is answered at once, denied with the reason, and never
put before the owner. The server writes the document (the owner chooses on the consent pages or
through the API); which purposes each storage refuses is kept in memory and dropped when the
change feed announces a change of the document, whichever process wrote it. Imports ldp, feed,
vault.grants, vault.requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Final, final

import pyoxigraph as ox

from pod import paths
from pod.errors import Conflict
from pod.feed import ChangeFeed, Event, ResourceChanged
from pod.ldp import rdf
from pod.ldp.resources import ResourceStore
from pod.vault import grants
from pod.vault.purposes import within
from pod.vault.requests import RequestBook
from pod.vocab import DPV, RDF

CHOICES: Final = grants.CONSENT + "choices"
_PUBLIC_ACL: Final = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
# Kept by the server: anyone may read the owner's standing choices; the server alone writes them.
<#owner> a acl:Authorization ; acl:agent <{owner}> ; acl:accessTo <{doc}> ; acl:mode acl:Read .
<#everyone> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:accessTo <{doc}> ;
    acl:mode acl:Read .
"""
_REFUSED: Final = str(DPV.ConsentRefused)
_PURPOSE: Final = str(DPV.hasPurpose)


def choices_path(root: str) -> str:
    return root + CHOICES


@final
class StandingChoices:
    def __init__(self, store: ResourceStore, feed: ChangeFeed) -> None:
        self.store = store
        self._never: dict[str, frozenset[str]] = {}  # storage root -> refused purposes
        self._epoch = 0  # changes of any storage's choices heard
        feed.subscribe(self._follow)

    def _follow(self, event: Event) -> None:
        if isinstance(event, ResourceChanged) and event.path.endswith(CHOICES):
            self._never.pop(event.path[: -len(CHOICES)], None)
            self._epoch += 1  # a read under way may have seen the document before the change

    async def never(self, root: str) -> frozenset[str]:
        """The purposes the owner of storage `root` refuses once and for all."""
        known = self._never.get(root)
        if known is not None:
            return known
        epoch = self._epoch
        found = await self.store.read_graph(choices_path(root))
        refused = frozenset() if found is None else _refused(found[1].triples)
        if epoch == self._epoch:
            self._never[root] = refused
        return refused

    async def set_never(self, root: str, purposes: Iterable[str], *, now: float) -> None:
        """Make `purposes` the ones the owner of `root` refuses once and for all."""
        owner = self.store.storages.owner(root)
        if owner is None:
            raise ValueError(f"{root} is not a storage with an owner")
        await grants.ensure_consent_container(self.store, root, owner)
        doc = choices_path(root)
        url = self.store.url(doc)
        acl = paths.acl_of(doc)
        if await self.store.head(acl) is None:
            body = _PUBLIC_ACL.format(owner=owner, doc=url)
            await self.store.put(acl, data=body.encode(), content_type=rdf.TURTLE)
        iri, me = grants.iri, ox.NamedNode(owner)
        triples = []
        for n, purpose in enumerate(sorted(set(purposes)), start=1):
            node = ox.NamedNode(f"{url}#never-{n}")
            triples += [
                ox.Triple(node, iri(RDF.type), iri(DPV.Consent)),
                ox.Triple(node, iri(DPV.hasDataSubject), me),
                ox.Triple(node, iri(DPV.hasPurpose), ox.NamedNode(purpose)),
                ox.Triple(node, iri(DPV.hasConsentStatus), iri(DPV.ConsentRefused)),
                ox.Triple(node, iri(DPV.isIndicatedAtTime), grants.time_literal(now)),
            ]
        data = rdf.serialize_stored(triples, document=url, server=self.store.base_url)
        await self.store.put(doc, data=data, content_type=rdf.TURTLE)


async def choose_never(
    choices: StandingChoices,
    requests: RequestBook,
    root: str,
    purposes: Iterable[str],
    *,
    now: float,
) -> None:
    """Make `purposes` the ones the owner of `root` never allows, and deny at once, with that
    reason, the requests still waiting that ask for one of them: a choice made once applies
    to what waits as much as to what comes."""
    await choices.set_never(root, purposes, now=now)
    never = await choices.never(root)
    for made in await requests.all_in(root):
        reason = refusal(never, made.terms.purposes)
        if reason is not None and made.denied_at is None:
            with contextlib.suppress(Conflict):  # decided already: nothing waits
                await requests.deny(made, now=now, reason=reason)


def refusal(never: frozenset[str], purposes: frozenset[str]) -> str | None:
    """Why a request for `purposes` is denied without asking, or None. A purpose is refused
    with each broader one it falls under (DPV's skos:broader): never for advertising is never
    for personalised advertising too."""
    refused = sorted(p for p in purposes if never & ({p} | within(p)))
    if not refused:
        return None
    return f"the owner never allows {', '.join(refused)}; this was decided once, for every request"


def _refused(triples: list[ox.Triple]) -> frozenset[str]:
    read = grants.RecordReader(triples)
    return frozenset(
        purpose
        for node, predicate in read.values
        if predicate == _PURPOSE and _REFUSED in read.iris(node, DPV.hasConsentStatus)
        for purpose in read.iris(node, DPV.hasPurpose)
    )
