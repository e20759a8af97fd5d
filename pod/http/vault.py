"""The owner's grant API: give, narrow, withdraw and list the grants of a storage.

`<base>.kluis/consent/<storage path>grants`, e.g. `/.kluis/consent/alice/grants` for the storage
`/alice/`. Only the storage's owner, authenticated like any Solid request (a DPoP-bound token),
may use it; to anyone else a storage's grants answer as missing (Solid Protocol
#server-unauthenticated). JSON in and out; the records themselves are RDF in the pod
(`<storage>consent/grants/`, pod.vault.grants), which the owner reads like any resource.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from pod import paths
from pod.errors import BadRequest, NotFound, Unauthenticated
from pod.http.authn import credentials_of
from pod.http.bodies import read_json
from pod.http.keys import GRANTS, STORE
from pod.model import AccessMode
from pod.vault.grants import Grant, Terms, grants_container

PREFIX: Final = ".kluis/consent/"
_MODES: Final = {"read": AccessMode.READ, "append": AccessMode.APPEND, "write": AccessMode.WRITE}


def add_vault_routes(app: web.Application, *, base_path: str) -> None:
    grants = base_path + PREFIX + r"{storage:(?:[^/]+/)*}grants"
    app.router.add_get(grants, list_grants)
    app.router.add_post(grants, give_grant)
    app.router.add_post(grants + "/{id:[0-9a-f]{32}}", change_grant)


async def _owned_root(request: web.Request) -> str:
    """The storage the URL names, if the one asking owns it; else 401 or 404."""
    store = request.app[STORE]
    credentials = await credentials_of(request)
    if credentials.agent is None:
        raise Unauthenticated("sign in as the pod's owner to manage its grants")
    root = paths.ROOT + request.match_info["storage"]
    if store.storages.owner(root) != credentials.agent:
        raise NotFound(f"no storage at {store.url(root)} whose grants you manage")
    return root


async def list_grants(request: web.Request) -> web.StreamResponse:
    root = await _owned_root(request)
    reader = request.app[GRANTS]
    await reader.refresh(root)
    now = time.time()
    url = request.app[STORE].url
    return web.json_response({"grants": [grant_json(g, url, now) for g in reader.grants_in(root)]})


async def give_grant(request: web.Request) -> web.StreamResponse:
    root = await _owned_root(request)
    body = await _object(request)
    store = request.app[STORE]
    now = time.time()
    grant = await request.app[GRANTS].book.give(
        root=root,
        recipient=_iri(body, "recipient"),
        client=_iri(body, "client"),
        terms=_terms(body, store.path_of),
        now=now,
    )
    response = web.json_response(grant_json(grant, store.url, now), status=201)
    response.headers["Location"] = store.url(grant.path)
    return response


async def change_grant(request: web.Request) -> web.StreamResponse:
    root = await _owned_root(request)
    body = await _object(request)
    store = request.app[STORE]
    book = request.app[GRANTS].book
    path = grants_container(root) + request.match_info["id"]
    now = time.time()
    action = body.get("action")
    if action == "withdraw":
        grant = await book.withdraw(path, now=now)
    elif action == "narrow":
        current = (await book.read(path)).terms
        grant = await book.narrow(path, _terms(body, store.path_of, current=current), now=now)
    else:
        raise BadRequest('action must be "withdraw" or "narrow"')
    return web.json_response(grant_json(grant, store.url, now))


def grant_json(grant: Grant, url: Callable[[str], str], now: float) -> dict[str, Any]:
    """A grant as the API shows it: its terms, status and history."""

    def terms(t: Terms) -> dict[str, Any]:
        return {
            "resources": [url(p) for p in t.resources],
            "inherit": t.inherit,
            "modes": t.modes.names,
            "purposes": sorted(t.purposes),
            "expires": _iso(t.expires),
        }

    return {
        "id": url(grant.path),
        "owner": grant.owner,
        "recipient": grant.recipient,
        "client": grant.client,
        "status": grant.status(now).value,
        "given": _iso(grant.given_at),
        "withdrawn": None if grant.withdrawn_at is None else _iso(grant.withdrawn_at),
        "request": grant.request,
        **terms(grant.terms),
        "history": [
            {
                "event": e.kind.value.lower(),
                "at": _iso(e.at),
                **({} if e.terms is None else {"terms": terms(e.terms)}),
            }
            for e in grant.history
        ],
    }


def _iso(moment: float) -> str:
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


async def _object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


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

    def given(key: str) -> Any:
        value = body.get(key)
        if value is None and current is None:
            raise BadRequest(f"{key} is required")
        return value

    resources_in = given("resources")
    if resources_in is None and current is not None:
        resources = current.resources
    else:
        if not isinstance(resources_in, list) or not all(isinstance(r, str) for r in resources_in):
            raise BadRequest("resources must be a list of URLs")
        found = {path_of(r) for r in resources_in}
        resources = tuple(sorted(p for p in found if p is not None))
        if len(resources) != len(found):
            raise BadRequest("every resource must be a URL on this server")
    inherit = body.get("inherit", current.inherit if current is not None else False)
    if not isinstance(inherit, bool):
        raise BadRequest("inherit must be true or false")
    modes_in = given("modes")
    if modes_in is None and current is not None:
        modes = current.modes
    else:
        if not isinstance(modes_in, list) or not all(m in _MODES for m in modes_in):
            raise BadRequest(f"modes must be a list of {', '.join(_MODES)}")
        modes = AccessMode.NONE
        for m in modes_in:
            modes |= _MODES[m]
    purposes_in = given("purposes")
    if purposes_in is None and current is not None:
        purposes = current.purposes
    else:
        if not isinstance(purposes_in, list) or not all(
            isinstance(p, str) and p.startswith(("http://", "https://")) for p in purposes_in
        ):
            raise BadRequest("purposes must be a list of purpose IRIs")
        purposes = frozenset(purposes_in)
    expires_in = given("expires")
    if expires_in is None and current is not None:
        expires = current.expires
    else:
        if not isinstance(expires_in, str):
            raise BadRequest("expires must be a date and time, such as 2027-01-31T12:00:00Z")
        try:
            moment = datetime.fromisoformat(expires_in.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest(f"expires is not a date and time: {expires_in!r}") from exc
        if moment.tzinfo is None:
            raise BadRequest("expires needs a time zone, such as Z for UTC")
        expires = moment.timestamp()
    return Terms(resources, inherit, modes, purposes, expires)
