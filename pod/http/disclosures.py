"""The owner's access log over HTTP, under `<base>.kluis/disclosures/<storage path>`, e.g.
`/.kluis/disclosures/alice/` for the storage `/alice/` (pod.vault.disclosures):

- `GET` (the storage's URL here): JSON with the newest records, the totals per (agent, app,
  resource, purposes, action, allowed) and the anonymous reads per resource and day. Query
  filters: `who` (a WebID), `app` (a client id), `resource` (a URL; a container's also selects
  what it holds), `purpose` (an IRI), `since` and `until` (ISO 8601 dates or times, UTC unless
  they say), `limit` (1 to 1000 records, 200 by default).
- `PUT retention` with `{"days": N}` (7 to 3650): how long the log is kept; older days go at once.

Only the owner: anyone else signed in gets 404, as if there were no such storage, and an
anonymous request 401 (Solid Protocol #server-unauthenticated), like the vault's API
(pod.http.vault).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from pod import paths
from pod.errors import BadRequest, NotFound, Unauthenticated
from pod.http.authn import credentials_of
from pod.http.bodies import read_json
from pod.http.keys import DISCLOSURES, STORE
from pod.vault.disclosures import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    DisclosureLog,
    Filters,
    Report,
)
from pod.vault.grants import iso

PREFIX: Final = ".kluis/disclosures/"


def add_disclosure_routes(app: web.Application, *, base_path: str) -> None:
    storage = base_path + PREFIX + r"{storage:(?:[^/]+/)*}"
    app.router.add_get(storage, get_disclosures)
    app.router.add_put(storage + "retention", put_retention)


async def _owned(request: web.Request) -> tuple[DisclosureLog, str]:
    """The log and the storage the URL names, if the one asking owns it; else 401 or 404."""
    store = request.app[STORE]
    credentials = await credentials_of(request)
    if credentials.agent is None:
        raise Unauthenticated("sign in as the pod's owner to read its access log")
    root = paths.ROOT + request.match_info["storage"]
    if store.storages.owner(root) != credentials.agent:
        raise NotFound(f"no storage at {store.url(root)} whose access log you read")
    disclosures = request.app[DISCLOSURES]
    if disclosures is None:
        raise NotFound("this server keeps no access log (its disclosure_log setting is off)")
    return disclosures, root


async def get_disclosures(request: web.Request) -> web.StreamResponse:
    disclosures, root = await _owned(request)
    store = request.app[STORE]
    query = request.query
    resource = query.get("resource")
    path = None
    if resource is not None:
        path = store.path_of(resource)
        if path is None or not path.startswith(root):
            raise BadRequest(f"resource must be a URL in {store.url(root)}")
    filters = Filters(
        since=_moment(query, "since"),
        until=_moment(query, "until"),
        who=query.get("who"),
        app=query.get("app"),
        path=path,
        purpose=query.get("purpose"),
    )
    limit = _limit(query.get("limit"))
    report = await disclosures.read(root, filters, limit=limit)
    return web.json_response(_report_json(report, store.url, root, disclosures.retention(root)))


async def put_retention(request: web.Request) -> web.StreamResponse:
    disclosures, root = await _owned(request)
    body = await read_json(request)
    days = body.get("days") if isinstance(body, dict) else None
    if not isinstance(days, int) or isinstance(days, bool):
        raise BadRequest('send {"days": N}, the days the access log is kept')
    dropped = disclosures.set_retention(root, days)
    return web.json_response({"days": days, "droppedDays": dropped})


def _moment(query: Any, name: str) -> float | None:
    text = query.get(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date or time, not {text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be 1 to {MAX_LIMIT}")
    return limit


def _basis_json(basis: dict[str, Any], url: Callable[[str], str]) -> dict[str, Any]:
    ref = basis.get("ref")
    return {**basis, "ref": url(ref)} if isinstance(ref, str) else basis


def _report_json(report: Report, url: Callable[[str], str], root: str, days: int) -> dict[str, Any]:
    records = [
        {
            "id": r.get("r"),
            "time": iso(float(r.get("t", 0))),
            "agent": r.get("a"),
            "client": r.get("c"),
            "origin": r.get("o"),
            "method": r.get("m"),
            "resource": url(str(r.get("p"))),
            "status": r.get("s"),
            "purposes": r.get("u", []),
            "basis": [_basis_json(b, url) for b in r.get("b", []) if isinstance(b, dict)],
        }
        for r in report.records
    ]
    totals = [
        {
            "agent": agent,
            "client": client,
            "resource": url(path),
            "purposes": list(purposes),
            "action": action,
            "allowed": allowed,
            "count": n,
        }
        for (agent, client, path, purposes, action, allowed), n in sorted(
            report.totals.items(), key=lambda item: -item[1]
        )
    ]
    public = [
        {"resource": url(path), "day": day, "count": n}
        for (path, day), n in sorted(report.public.items(), key=lambda item: item[0][1])
    ]
    return {
        "storage": url(root),
        "retentionDays": days,
        "records": records,
        "totals": totals,
        "otherCount": report.other,
        "public": public,
    }
