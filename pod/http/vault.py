"""The vault's HTTP API, under `<base>.kluis/consent/<storage path>`, e.g.
`/.kluis/consent/alice/` for the storage `/alice/`:

- `requests` (POST): anyone with a Solid-OIDC identity asks the owner for access (an access
  request in Turtle or JSON-LD, checked against vocab/access-request-shapes.ttl); the answer's
  Location is where the requester follows its status, `requests/<id>` (GET), which only the
  requester and the owner may read;
- `requests` (GET) and `requests/<id>` (POST: approve, perhaps narrower, or deny): the owner's;
- `grants` (GET, POST) and `grants/<pair>/<id>` (POST: narrow or withdraw; each grant's `api`
  names it): the owner's;
- `choices` (GET: anyone; PUT: the owner): the purposes the owner refuses once and for all.

Authentication is that of any Solid request (a DPoP-bound token). To anyone but the owner the
owner's parts answer as missing (Solid Protocol #server-unauthenticated), and no app decides
about itself: the app a request or a grant is for cannot approve it or give it. JSON out; the
records themselves are RDF in the pod (`<storage>consent/`, pod.vault), which the owner reads like
any resource.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

from aiohttp import web

from pod import paths
from pod.errors import BadRequest, Forbidden, NotFound, Unauthenticated
from pod.http.authn import credentials_of, request_url
from pod.http.bodies import SMALL_BODY_BYTES, read_body, read_json
from pod.http.keys import ASK_LIMITS, CHOICES, GRANTS, REQUESTS, SHAPES, STORE, TOMBSTONES
from pod.ldp.resources import ResourceStore
from pod.model import AccessMode
from pod.vault.choices import choose_never, refusal
from pod.vault.grants import CONSENT, Grant, Terms, grants_container, iso
from pod.vault.purposes import purposes
from pod.vault.request_shape import SHAPES_FILE, parse_request
from pod.vault.requests import API_PREFIX as PREFIX
from pod.vault.requests import AccessRequest, api_url, denied, requests_container, status

T = TypeVar("T")
_MODES: Final = {"read": AccessMode.READ, "append": AccessMode.APPEND, "write": AccessMode.WRITE}


def add_vault_routes(app: web.Application, *, base_path: str) -> None:
    storage = base_path + PREFIX + r"{storage:(?:[^/]+/)*}"
    one = "/{id:[0-9a-f]{32}}"
    app.router.add_get(storage + "grants", list_grants)
    app.router.add_post(storage + "grants", give_grant)
    app.router.add_post(storage + "grants/{pair:[0-9a-f]{32}}" + one, change_grant)
    app.router.add_get(storage + "requests", list_requests)
    app.router.add_post(storage + "requests", ask)
    app.router.add_get(storage + "requests" + one, request_status)
    app.router.add_post(storage + "requests" + one, decide)
    app.router.add_get(storage + "choices", get_choices)
    app.router.add_put(storage + "choices", put_choices)


def endpoint(store: ResourceStore, root: str, what: str) -> str:
    """The URL of this API's `what` (requests, grants, choices) for storage `root`."""
    return api_url(store.base_url, root, what)


def _named_root(request: web.Request) -> str:
    return paths.ROOT + request.match_info["storage"]


async def _live_root(request: web.Request) -> str:
    """The storage root the URL names; 410 if its pod was erased and its name is held."""
    root = _named_root(request)
    tombstones = request.app[TOMBSTONES]
    if tombstones.may_be_held(root):
        await tombstones.check(root)
    return root


async def _storage(request: web.Request) -> str:
    """The storage the URL names (404 if none has an owner)."""
    store = request.app[STORE]
    root = await _live_root(request)
    if store.storages.owner(root) is None:
        raise NotFound(f"no storage at {store.url(root)}")
    return root


async def _owned_root(request: web.Request) -> str:
    """The storage the URL names, if the one asking owns it; else 401 or 404."""
    store = request.app[STORE]
    root = await _live_root(request)
    credentials = await credentials_of(request)
    if credentials.agent is None:
        raise Unauthenticated("sign in as the pod's owner to manage its grants")
    if store.storages.owner(root) != credentials.agent:
        raise NotFound(f"no storage at {store.url(root)} whose grants you manage")
    return root


async def list_grants(request: web.Request) -> web.StreamResponse:
    root = await _owned_root(request)
    given = await request.app[GRANTS].book.all_in(root)
    now = time.time()
    store = request.app[STORE]
    return web.json_response({"grants": [grant_json(g, store, now) for g in given]})


async def give_grant(request: web.Request) -> web.StreamResponse:
    root = await _owned_root(request)
    body = await _object(request)
    store = request.app[STORE]
    now = time.time()
    client = _client(body)
    if client == (await credentials_of(request)).client_id:
        raise Forbidden("an app cannot give itself a grant; give it on the consent page")
    grant = await request.app[GRANTS].book.give(
        root=root,
        recipient=_iri(body, "recipient"),
        client=client,
        terms=_terms(body, store.path_of),
        now=now,
    )
    response = web.json_response(grant_json(grant, store, now), status=201)
    response.headers["Location"] = store.url(grant.path)
    return response


async def change_grant(request: web.Request) -> web.StreamResponse:
    root = await _owned_root(request)
    body = await _object(request)
    store = request.app[STORE]
    book = request.app[GRANTS].book
    path = grants_container(root) + request.match_info["pair"] + "/" + request.match_info["id"]
    now = time.time()
    action = body.get("action")
    if action == "withdraw":
        grant = await book.withdraw(path, now=now)
    elif action == "narrow":
        current = (await book.read(path)).terms
        grant = await book.narrow(path, _terms(body, store.path_of, current=current), now=now)
    else:
        raise BadRequest('action must be "withdraw" or "narrow"')
    return web.json_response(grant_json(grant, store, now))


# --- access requests ----------------------------------------------------------------------


async def ask(request: web.Request) -> web.StreamResponse:
    """An access request from anyone signed in: 201 (or 200 for the same ask still pending)
    with the status, whose URL is in Location."""
    app = request.app
    store = app[STORE]
    await _live_root(request)  # an erased pod is gone for everyone, signed in or not
    credentials = await credentials_of(request)
    if credentials.agent is None or credentials.client_id is None:
        raise Unauthenticated("sign in (a Solid-OIDC token of your app) to ask for access")
    root = await _storage(request)
    app[ASK_LIMITS].take(f"{credentials.agent} {root}")
    content_type = request.content_type
    data = await read_body(request, limit=SMALL_BODY_BYTES)
    # pyshacl takes milliseconds: a thread, not the event loop.
    asked = await asyncio.to_thread(
        parse_request,
        data,
        content_type,
        base=request_url(request),
        shape_url=app[SHAPES].url_of(SHAPES_FILE),
    )
    resources = [store.path_of(r) for r in asked.resources]
    if any(p is None or not p.startswith(root) for p in resources):
        raise BadRequest(f"every resource asked for must be in {store.url(root)}")
    terms = Terms(
        resources=tuple(sorted(p for p in resources if p is not None)),
        inherit=asked.inherit,
        modes=asked.modes,
        purposes=asked.purposes,
        expires=asked.expires,
    )
    never = await app[CHOICES].never(root)
    made, new = await app[REQUESTS].submit(
        root=root,
        requester=credentials.agent,
        client=credentials.client_id,
        terms=terms,
        texts=asked.texts,
        now=time.time(),
        refused=lambda purposes: refusal(never, purposes),
    )
    response = web.json_response(
        await _request_json(app, made, time.time()), status=201 if new else 200
    )
    response.headers["Location"] = endpoint(store, root, "requests/" + made.id)
    return response


async def request_status(request: web.Request) -> web.StreamResponse:
    """The status of one request, for its requester or the owner."""
    app = request.app
    credentials = await credentials_of(request)
    if credentials.agent is None:
        raise Unauthenticated("sign in as the requester or the owner to see this request")
    root = await _storage(request)
    path = requests_container(root) + request.match_info["id"]
    missing = NotFound(f"no access request of yours at {request.url}")
    try:
        found = await app[REQUESTS].read(path)
    except NotFound:
        raise missing from None
    if credentials.agent not in (found.requester, found.owner):
        raise missing
    return web.json_response(await _request_json(app, found, time.time()))


async def list_requests(request: web.Request) -> web.StreamResponse:
    root = await _owned_root(request)
    app = request.app
    now = time.time()
    made = await app[REQUESTS].all_in(root)
    return web.json_response({"requests": [await _request_json(app, r, now) for r in made]})


async def decide(request: web.Request) -> web.StreamResponse:
    """The owner approves a request (as asked, or narrower) or denies it."""
    root = await _owned_root(request)
    app = request.app
    store = app[STORE]
    body = await _object(request)
    book = app[REQUESTS]
    found = await book.read(requests_container(root) + request.match_info["id"])
    credentials = await credentials_of(request)
    if credentials.client_id == found.client:
        # The owner's WebID signed in through the very app that asks: it may not say yes to
        # itself (the dashboard, or another app of the owner's, decides).
        raise Forbidden("an app cannot decide on its own request for access")
    now = time.time()
    action = body.get("action")
    if action == "approve":
        await book.approve(found, _terms(body, store.path_of, current=found.terms), now=now)
    elif action == "deny":
        await book.deny(found, now=now)
    else:
        raise BadRequest('action must be "approve" or "deny"')
    return web.json_response(await _request_json(app, found, now))


async def _request_json(app: web.Application, made: AccessRequest, now: float) -> dict[str, Any]:
    store = app[STORE]
    decision = await app[REQUESTS].decision_of(made)
    grant = decision if isinstance(decision, Grant) else None
    refused = denied(made, decision)
    return {
        "id": endpoint(store, made.root, "requests/" + made.id),
        "status": status(made, decision, now).value,
        "owner": made.owner,
        "requester": made.requester,
        "client": made.client,
        "made": iso(made.made_at),
        "texts": dict(made.texts),
        "asked": _terms_json(made.terms, store.url),
        "granted": None if grant is None else _terms_json(grant.terms, store.url),
        "denied": None if refused is None else iso(refused[0]),
        "reason": None if refused is None else refused[1],
    }


# --- standing choices ---------------------------------------------------------------------


async def get_choices(request: web.Request) -> web.StreamResponse:
    """The purposes the owner never allows: anyone may read them, signed in or not."""
    root = await _storage(request)
    never = await request.app[CHOICES].never(root)
    return web.json_response({"never": sorted(never)})


async def put_choices(request: web.Request) -> web.StreamResponse:
    root = await _owned_root(request)
    body = await _object(request)
    never = _purposes(
        body.get("never"),
        'never must be a list of purpose IRIs, such as ["https://w3id.org/dpv#PersonalisedAdvertising"]',
    )
    choices = request.app[CHOICES]
    await choose_never(choices, request.app[REQUESTS], root, never, now=time.time())
    return web.json_response({"never": sorted(await choices.never(root))})


# --- grants -------------------------------------------------------------------------------


def grant_json(grant: Grant, store: ResourceStore, now: float) -> dict[str, Any]:
    """A grant as the API shows it: its record, where to change it, its terms, status and
    history."""
    url = store.url

    def terms(t: Terms) -> dict[str, Any]:
        return _terms_json(t, url)

    return {
        "id": url(grant.path),
        "api": endpoint(store, grant.root, grant.path.removeprefix(grant.root + CONSENT)),
        "owner": grant.owner,
        "recipient": grant.recipient,
        "client": grant.client,
        "status": grant.status(now).value,
        "given": iso(grant.given_at),
        "withdrawn": None if grant.withdrawn_at is None else iso(grant.withdrawn_at),
        "request": grant.request,
        **terms(grant.terms),
        "history": [
            {
                "event": e.kind.value.lower(),
                "at": iso(e.at),
                **({} if e.terms is None else {"terms": terms(e.terms)}),
            }
            for e in grant.history
        ],
    }


def _terms_json(t: Terms, url: Callable[[str], str]) -> dict[str, Any]:
    return {
        "resources": [url(p) for p in t.resources],
        "inherit": t.inherit,
        "modes": t.modes.names,
        "purposes": sorted(t.purposes),
        "expires": iso(t.expires),
    }


async def _object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _client(body: Mapping[str, Any]) -> str:
    """A client id: a Client ID Document's URL, or the id an identity provider gave."""
    value = body.get("client")
    if not isinstance(value, str) or not 0 < len(value) <= 2048 or not value.isprintable():
        raise BadRequest("client must be the client id of the app the grant is for")
    return value


def _iri(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise BadRequest(f"{key} must be an http(s) IRI")
    return value


def _terms(
    body: Mapping[str, Any],
    path_of: Callable[[str], str | None],
    *,
    current: Terms | None = None,
) -> Terms:
    """The terms a body gives; a narrowing may leave any out, keeping `current`'s."""

    def field(key: str, read: Callable[[Any], T], kept: Callable[[Terms], T]) -> T:
        value = body.get(key)
        if value is not None:
            return read(value)
        if current is None:
            raise BadRequest(f"{key} is required")
        return kept(current)

    def resources(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            raise BadRequest("resources must be a list of URLs")
        found = {path_of(r) for r in value}
        named = tuple(sorted(p for p in found if p is not None))
        if len(named) != len(found):
            raise BadRequest("every resource must be a URL on this server")
        return named

    def inherit(value: Any) -> bool:
        if not isinstance(value, bool):
            raise BadRequest("inherit must be true or false")
        return value

    def modes(value: Any) -> AccessMode:
        if not isinstance(value, list) or not all(m in _MODES for m in value):
            raise BadRequest(f"modes must be a list of {', '.join(_MODES)}")
        given = AccessMode.NONE
        for m in value:
            given |= _MODES[m]
        return given

    def expires(value: Any) -> float:
        if not isinstance(value, str):
            raise BadRequest("expires must be a date and time, such as 2027-01-31T12:00:00Z")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest(f"expires is not a date and time: {value!r}") from exc
        if moment.tzinfo is None:
            raise BadRequest("expires needs a time zone, such as Z for UTC")
        return moment.timestamp()

    return Terms(
        resources=field("resources", resources, lambda t: t.resources),
        inherit=inherit(body.get("inherit", current.inherit if current is not None else False)),
        modes=field("modes", modes, lambda t: t.modes),
        purposes=field(
            "purposes",
            lambda value: _purposes(value, "purposes must be a list of purpose IRIs"),
            lambda t: t.purposes,
        ),
        expires=field("expires", expires, lambda t: t.expires),
    )


def _purposes(value: Any, wrong: str) -> frozenset[str]:
    """Purpose IRIs of the bundled list (pod.vault.purposes); `wrong` says what a list of them
    looks like, for a value that is none."""
    if not isinstance(value, list) or not all(
        isinstance(p, str) and p.startswith(("http://", "https://")) for p in value
    ):
        raise BadRequest(wrong)
    unknown = sorted(set(value) - set(purposes()))
    if unknown:
        raise BadRequest(f"not a purpose this server knows: {', '.join(unknown)}")
    return frozenset(value)
