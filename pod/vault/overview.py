"""What the owner's consent pages show: requests waiting for a decision (who asks, with which
app, for what, why, until when, with a preview of the data), active grants, and the history of
every decision. Language-neutral: the pages put it into words (labels of purposes in the
reader's language). Imports ldp, fetch, cache, vault.

Who asks is named from their WebID profile (foaf:name, vcard:fn or schema:name): read from the
store when it is hosted here and public, else fetched through the guarded Fetcher, and kept for
a while, bounded (anyone signed in can ask, so anyone's profile may be named here).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final, final
from urllib.parse import urlsplit

import pyoxigraph as ox

from pod.cache import LruCache
from pod.errors import FetchError, PodError
from pod.fetch import Fetcher
from pod.ldp import rdf
from pod.ldp.remote import fetch_graph
from pod.ldp.resources import ResourceStore
from pod.vault.grants import Grant, GrantBook, Refusal, Status
from pod.vault.requests import AccessRequest, RequestBook, RequestStatus, denied, status

_NAMES: Final = (
    "http://xmlns.com/foaf/0.1/name",
    "http://www.w3.org/2006/vcard/ns#fn",
    "http://schema.org/name",
)
_NAME_ENTRIES: Final = 2_000
_NAME_BYTES: Final = 1024 * 1024
_NAME_TTL: Final = 300.0
_PREVIEW_CHARS: Final = 600
_PREVIEW_BYTES: Final = 64 * 1024  # a larger document is described, not read
_NAME_SECONDS: Final = 3.0


@final
@dataclass(frozen=True, slots=True)
class Resource:
    url: str
    name: str  # the path within the pod, as a person reads it
    preview: str  # the start of the data, or a description of what it is
    more: bool  # the preview is cut short


@final
@dataclass(frozen=True, slots=True)
class Waiting:
    request: AccessRequest
    who: str  # a name, or the WebID
    app: str  # the app's verified origin (its Client ID Document's), or its client id
    resources: tuple[Resource, ...]


@final
@dataclass(frozen=True, slots=True)
class Active:
    grant: Grant
    who: str
    app: str
    resources: tuple[Resource, ...]


@final
@dataclass(frozen=True, slots=True)
class Event:
    at: float
    kind: str  # asked, given, narrowed, withdrawn, denied, refused-automatically, expired
    who: str
    app: str
    purposes: frozenset[str]
    resources: tuple[str, ...]  # names


@final
@dataclass(frozen=True, slots=True)
class Overview:
    root: str
    waiting: tuple[Waiting, ...]
    active: tuple[Active, ...]
    history: tuple[Event, ...]  # newest first


@final
class ProfileNames:
    def __init__(
        self,
        store: ResourceStore,
        fetcher: Fetcher,
        *,
        readable: Callable[[str], Awaitable[bool]],
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.readable = readable
        self._names: LruCache[str, str] = LruCache(max_entries=_NAME_ENTRIES, max_bytes=_NAME_BYTES)

    async def name(self, webid: str) -> str:
        """The name a WebID's profile gives, or the WebID itself."""
        known = self._names.get(webid)
        if known is not None:
            return known
        found = webid
        document = webid.split("#", 1)[0]
        try:
            local = self.store.path_of(document)
            if local is not None:
                graph = await self.store.read_graph(local) if await self.readable(local) else None
                triples = [] if graph is None else graph[1].triples
            else:
                triples = (await fetch_graph(self.fetcher, document, max_bytes=256 * 1024)).triples
            found = _name(triples, webid) or webid
        except (PodError, FetchError):
            pass  # unnamed: the WebID says who it is
        self._names.put(webid, found, expires=time.monotonic() + _NAME_TTL)
        return found


def app_of(client: str) -> str:
    """What the owner is shown of an app: its Client ID Document's origin (the identity provider
    fetched that document, so the origin is verified), or the id an identity provider gave it."""
    if client.startswith(("http://", "https://")):
        parts = urlsplit(client)
        return f"{parts.scheme}://{parts.netloc}"
    return client


async def overview(
    root: str,
    *,
    store: ResourceStore,
    requests: RequestBook,
    grants: GrantBook,
    names: ProfileNames,
) -> Overview:
    """Storage `root`'s requests, grants and their history, for its owner."""
    now = time.time()
    made = await requests.all_in(root)
    decisions = await grants.decisions_in(root)
    given = [d for d in decisions if isinstance(d, Grant)]
    by_request: dict[str | None, Grant | Refusal] = {d.request: d for d in decisions}
    who_is = await _names(names, {r.requester for r in made} | {g.recipient for g in given})
    waiting, active, history = [], [], []
    for request in made:
        decision = by_request.get(store.url(request.path))
        state = status(request, decision, now)
        who = who_is[request.requester]
        if state is RequestStatus.PENDING:
            resources = tuple([await _resource(store, p) for p in request.terms.resources])
            waiting.append(Waiting(request, who, app_of(request.client), resources))
        history.append(_event(request.made_at, "asked", who, request, store))
        refused = denied(request, decision)
        if refused is not None:
            kind = "refused-automatically" if refused[1] else "denied"
            history.append(_event(refused[0], kind, who, request, store))
    for grant in given:
        who = who_is[grant.recipient]
        if grant.status(now) is Status.GIVEN:
            resources = tuple([await _resource(store, p) for p in grant.terms.resources])
            active.append(Active(grant, who, app_of(grant.client), resources))
        for event in grant.history:
            terms = event.terms or grant.terms
            history.append(
                Event(
                    event.at,
                    event.kind.value.lower(),
                    who,
                    app_of(grant.client),
                    terms.purposes,
                    tuple(_name_of(store, p) for p in terms.resources),
                )
            )
        if grant.status(now) is Status.EXPIRED:
            history.append(
                Event(
                    grant.terms.expires,
                    "expired",
                    who,
                    app_of(grant.client),
                    grant.terms.purposes,
                    tuple(_name_of(store, p) for p in grant.terms.resources),
                )
            )
    history.sort(key=lambda e: e.at, reverse=True)
    return Overview(root, tuple(waiting), tuple(active), tuple(history))


async def names_of(names: ProfileNames, webids: Iterable[str]) -> dict[str, str]:
    """The name of each of `webids` (`ProfileNames.name`), looked up at once, each in bounded
    time (as the consent pages do: a slow host names nobody late)."""
    return await _names(names, set(webids))


async def _names(names: ProfileNames, webids: set[str]) -> dict[str, str]:
    """Everyone's name at once, each lookup bounded in time: a slow host names nobody late."""
    ordered = sorted(webids)
    found = await asyncio.gather(
        *(asyncio.wait_for(names.name(w), _NAME_SECONDS) for w in ordered),
        return_exceptions=True,
    )
    return {w: n if isinstance(n, str) else w for w, n in zip(ordered, found, strict=True)}


def _event(at: float, kind: str, who: str, request: AccessRequest, store: ResourceStore) -> Event:
    return Event(
        at,
        kind,
        who,
        app_of(request.client),
        request.terms.purposes,
        tuple(_name_of(store, p) for p in request.terms.resources),
    )


def _name_of(store: ResourceStore, path: str) -> str:
    root = store.storages.root_of(path)
    return path[len(root) :] if root is not None and path != root else path


async def _resource(store: ResourceStore, path: str) -> Resource:
    """A resource as the owner is shown it: its name in the pod and the start of its data."""
    meta = await store.head(path)
    if meta is None:
        return Resource(store.url(path), _name_of(store, path), "", False)
    if not meta.is_container and (
        not rdf.is_rdf_type(meta.content_type) or meta.size > _PREVIEW_BYTES
    ):
        kind = meta.content_type.split(";", 1)[0]
        described = f"{kind}, {meta.size:,} bytes"
        return Resource(store.url(path), _name_of(store, path), described, False)
    try:
        found = await store.get(path, accept=rdf.TURTLE)
    except PodError:
        return Resource(store.url(path), _name_of(store, path), "", False)
    text = found.data.decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if not line.startswith("@prefix")]
    preview = "\n".join(lines).strip()
    cut = len(preview) > _PREVIEW_CHARS
    return Resource(store.url(path), _name_of(store, path), preview[:_PREVIEW_CHARS], cut)


def _name(triples: list[ox.Triple], webid: str) -> str | None:
    for predicate in _NAMES:
        for t in triples:
            if (
                isinstance(t.subject, ox.NamedNode)
                and t.subject.value == webid
                and t.predicate.value == predicate
                and isinstance(t.object, ox.Literal)
            ):
                return t.object.value[:200]
    return None
