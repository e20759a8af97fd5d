"""The owner's "Who saw my data" page (issue 15 §2): `<base>.account/disclosures`.

The access log (pod.vault.disclosures) of each of the account's pods, in words: one sentence
per group of requests ("NPO read your preferences 14 times this week for personalised
recommendations, using https://npo.example"), the newest requests with what allowed each, the
reads of public data by people who did not sign in, per resource and day, and how long the log
is kept. In English and Dutch, like every account page; the sentences' plurals come from the
catalogs (`{% trans count %}`).

GDPR Art. 15(1)(c) (https://gdpr-info.eu/art-15-gdpr/) gives the owner the right to know the
recipients their data was disclosed to. Query: `pod` (a pod's root path, `/alice/`, or its name;
every pod of the account without it), `who` (a WebID), `app` (a client id), `resource` (a URL; a
container's also selects what it holds), `purpose` (an IRI), `days` (one of PERIODS). A pod of
another account is answered 404, as if there were none (pod.http.disclosures does the same).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, final
from urllib.parse import urlencode

from aiohttp import web
from babel.dates import format_date, format_datetime
from babel.lists import format_list

from pod.accounts.service import Account
from pod.errors import BadRequest, NotFound
from pod.http.account import (
    page_form,
    page_language,
    pod_roots,
    redirect,
    render,
    require_page_account,
    urls,
)
from pod.http.errors import status_of
from pod.http.i18n import N_, page_error
from pod.http.keys import DISCLOSURES, NAMES, SETTINGS, STORE
from pod.http.sessions import Session
from pod.ldp.resources import ResourceStore
from pod.vault.disclosures import (
    MAX_DAYS,
    MIN_DAYS,
    DisclosureLog,
    Filters,
    action_of,
)
from pod.vault.overview import app_of, names_of
from pod.vault.purposes import label

# The periods the page offers, in days ("today" is since midnight UTC, the log's days).
PERIODS: Final = (1, 7, 30, 90, 365)
DEFAULT_DAYS: Final = 7
SENTENCES: Final = 100  # groups put in words; the rest are counted
CHOICES: Final = 100  # people, apps, resources and purposes offered in each filter
PUBLIC_ROWS: Final = 200  # anonymous reads shown, per resource and day
_DAY: Final = 86_400
# What an erased account's WebID becomes in other owners' logs (issue 15, decision D2).
ERASED: Final = "urn:kluis:erased:"
_RDF_SUFFIXES: Final = (".ttl", ".jsonld", ".json", ".nt", ".n3", ".rdf", ".trig", ".nq")


def add_disclosures_page_routes(app: web.Application, *, base_path: str) -> None:
    page = base_path + ".account/disclosures"
    app.router.add_get(page, get_disclosures_page)
    app.router.add_post(page + "/retention", post_retention)


@final
@dataclass(frozen=True, slots=True)
class Why:
    """What allowed a request (a `model.Basis` as the log keeps it), ready to put in words."""

    source: str  # wac or grant
    kind: str  # agent, public, authenticated, group, grant, or another a reader named
    where: str  # the resource whose ACL holds the rule, as the owner reads it ("" for the pod)
    group: str  # the group's IRI, for kind "group"
    purposes: str  # a grant's purposes, as a list in words
    until: str  # when a grant ends, in words


@final
@dataclass(frozen=True, slots=True)
class Total:
    """A group of requests: one sentence."""

    who: str
    webid: str
    app: str
    what: str  # the resource, as the owner reads it ("" for the pod itself)
    why: str  # the purposes the requests named, as a list in words ("" for none)
    action: str  # read, append or write
    allowed: bool
    count: int

    @property
    def erased(self) -> bool:
        return self.webid.startswith(ERASED)


@final
@dataclass(frozen=True, slots=True)
class Row:
    """One request, in the table of the newest."""

    at: str
    who: str
    webid: str
    app: str
    what: str
    method: str
    action: str
    status: int
    whys: tuple[Why, ...]

    @property
    def erased(self) -> bool:
        return self.webid.startswith(ERASED)


@final
@dataclass(frozen=True, slots=True)
class PodLog:
    """What the page shows of one pod."""

    root: str
    url: str
    totals: tuple[Total, ...]
    unsaid: int  # requests in groups left out of the sentences
    records: tuple[Row, ...]
    public: tuple[tuple[str, str, int], ...]  # (resource, day in words, reads), newest first
    public_unsaid: int  # days whose reads are left out
    people: tuple[tuple[str, str], ...]  # filter choices: (value, what the owner reads)
    apps: tuple[tuple[str, str], ...]
    resources: tuple[tuple[str, str], ...]
    purposes: tuple[tuple[str, str], ...]
    retention: int


@final
@dataclass(frozen=True, slots=True)
class _Asked:
    """The page's query, checked."""

    roots: tuple[str, ...]
    pod: str  # "" for every pod
    who: str
    app: str
    resource: str  # a URL, as asked
    path: str | None
    purpose: str
    days: int

    @property
    def filtered(self) -> bool:
        return bool(self.who or self.app or self.path or self.purpose)


async def get_disclosures_page(request: web.Request) -> web.StreamResponse:
    found = await require_page_account(request)
    if isinstance(found, web.Response):
        return found
    session, account = found
    asked = _asked(request, account)
    disclosures = request.app[DISCLOSURES]
    notice = None
    if request.query.get("done") == "retention" and disclosures is not None and asked.pod:
        days = disclosures.retention(asked.pod)
        notice = N_("Saved: this log is kept %(days)s days from now on.", days=days)
    return await _page(request, session, account, asked, notice=notice)


async def post_retention(request: web.Request) -> web.StreamResponse:
    """The retention form: days kept, MIN_DAYS to MAX_DAYS, for one of the account's pods."""
    found = await page_form(request)
    if isinstance(found, web.Response):
        return found
    session, account, form = found
    root = form.get("pod", "")
    if root not in pod_roots(request, account):
        raise NotFound("no pod of yours is named in the form")
    disclosures = request.app[DISCLOSURES]
    if disclosures is None:
        raise NotFound("this server keeps no access log (its disclosure_log setting is off)")
    try:
        days = _retention(form.get("days", ""))
    except BadRequest as exc:
        asked = _Asked(
            roots=(root,),
            pod=root,
            who="",
            app="",
            resource="",
            path=None,
            purpose="",
            days=DEFAULT_DAYS,
        )
        return await _page(
            request, session, account, asked, status=status_of(exc), error=page_error(exc.message)
        )
    disclosures.set_retention(root, days)
    page = urls(request.app[SETTINGS].base_path)["disclosures"]
    return redirect(request, f"{page}?{urlencode({'pod': root, 'done': 'retention'})}")


def _retention(days: str) -> int:
    """The days the form asks the log to be kept. Raises BadRequest."""
    try:
        kept = int(days)
    except ValueError:
        kept = 0
    if not MIN_DAYS <= kept <= MAX_DAYS:
        raise BadRequest(f"keep the log at least {MIN_DAYS} and at most {MAX_DAYS} days")
    return kept


def _asked(request: web.Request, account: Account) -> _Asked:
    """The query, checked: a pod or resource of another account is NotFound."""
    store = request.app[STORE]
    query = request.query
    owned = pod_roots(request, account)
    pod = query.get("pod", "")
    if pod and not pod.startswith("/"):
        pod = f"/{pod}/"  # a pod's name, as the account page shows it
    if pod and pod not in owned:
        raise NotFound("no pod of yours has that name")
    roots = [pod] if pod else owned
    resource = query.get("resource", "")
    path = None
    if resource:
        path = store.path_of(resource)
        root = None if path is None else store.storages.root_of(path)
        if root is None or root not in roots:
            raise NotFound("no pod of yours holds that resource")
        roots = [root]
    try:
        days = int(query.get("days", DEFAULT_DAYS))
    except ValueError:
        days = DEFAULT_DAYS
    return _Asked(
        roots=tuple(roots),
        pod=pod,
        who=query.get("who", ""),
        app=query.get("app", ""),
        resource=resource,
        path=path,
        purpose=query.get("purpose", ""),
        days=days if days in PERIODS else DEFAULT_DAYS,
    )


async def _page(
    request: web.Request,
    session: Session,
    account: Account,
    asked: _Asked,
    *,
    status: int = 200,
    **extra: Any,
) -> web.Response:
    disclosures = request.app[DISCLOSURES]
    language = page_language(request)
    logs = []
    if disclosures is not None:
        now = time.time()
        for root in asked.roots:
            logs.append(await _pod_log(request, disclosures, root, asked, now, language))
    return await render(
        request,
        "disclosures.html",
        status=status,
        session=session,
        account=account,
        title=N_("Who saw your data"),
        kept=disclosures is not None,
        logs=logs,
        asked=asked,
        periods=PERIODS,
        pods=pod_roots(request, account),
        min_days=MIN_DAYS,
        max_days=MAX_DAYS,
        erased=ERASED,
        **extra,
    )


async def _pod_log(
    request: web.Request,
    disclosures: DisclosureLog,
    root: str,
    asked: _Asked,
    now: float,
    language: str,
) -> PodLog:
    store = request.app[STORE]
    since = now - now % _DAY if asked.days == 1 else now - asked.days * _DAY
    # The filters offer what the period holds, whatever else is chosen (`Report.seen`, from
    # the same pass over the log).
    report = await disclosures.read(
        root,
        Filters(
            since=since,
            who=asked.who or None,
            app=asked.app or None,
            path=asked.path,
            purpose=asked.purpose or None,
        ),
        choices=asked.filtered,
    )
    seen = report.seen if asked.filtered else _groups(report.totals)
    ranked = sorted(report.totals.items(), key=lambda item: -item[1])
    said, unsaid = ranked[:SENTENCES], ranked[SENTENCES:]
    people, apps, paths, purposes = _choices(seen)
    webids = {key[0] for key, _ in said} | {str(r.get("a")) for r in report.records} | set(people)
    names = await names_of(request.app[NAMES], (w for w in webids if not w.startswith(ERASED)))

    def why_of(iris: Iterable[str]) -> str:
        return _listed((_lower_first(label(i, language)) for i in iris), language)

    totals = tuple(
        Total(
            who=names.get(agent, agent),
            webid=agent,
            app=app_of(client) if client else "",
            what=_readable(store, path),
            why=why_of(used),
            action=action,
            allowed=allowed,
            count=n,
        )
        for (agent, client, path, used, action, allowed), n in said
    )
    records = tuple(_row(store, r, names, language) for r in report.records)
    # Newest day first; per resource and day, so a long period of much-read public data
    # is cut short.
    counted = sorted(report.public.items(), key=lambda item: (item[0][1], -item[1]), reverse=True)
    public = tuple(
        (_readable(store, path), format_date(date.fromisoformat(day), "long", locale=language), n)
        for (path, day), n in counted[:PUBLIC_ROWS]
    )
    return PodLog(
        root=root,
        url=store.url(root),
        totals=totals,
        unsaid=sum(n for _, n in unsaid) + report.other,
        records=records,
        public=public,
        public_unsaid=len({day for (_, day), _ in counted[PUBLIC_ROWS:]}),
        people=tuple((w, names.get(w, w)) for w in people),
        apps=tuple((c, app_of(c)) for c in apps),
        resources=tuple((store.url(p), _readable(store, p) or "/") for p in paths),
        purposes=tuple((i, label(i, language)) for i in purposes),
        retention=disclosures.retention(root),
    )


def _groups(
    totals: Mapping[tuple[str, str | None, str, tuple[str, ...], str, bool], int],
) -> dict[tuple[str, str | None, str, tuple[str, ...]], int]:
    """Totals per (agent, client, resource, purposes), as `Report.seen` keeps them."""
    found: Counter[tuple[str, str | None, str, tuple[str, ...]]] = Counter()
    for key, n in totals.items():
        found[key[:4]] += n
    return dict(found)


def _choices(
    seen: Mapping[tuple[str, str | None, str, tuple[str, ...]], int],
) -> tuple[list[str], list[str], list[str], list[str]]:
    """The people, apps, resources and purposes of the period's requests, the most frequent
    CHOICES of each, in a stable order."""
    people: Counter[str] = Counter()
    apps: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    purposes: Counter[str] = Counter()
    for (agent, client, path, used), n in seen.items():
        people[agent] += n
        if client:
            apps[client] += n
        paths[path] += n
        for iri in used:
            purposes[iri] += n
    return _most(people), _most(apps), _most(paths), _most(purposes)


def _most(counted: Counter[str]) -> list[str]:
    return sorted(k for k, _ in counted.most_common(CHOICES))


def _row(
    store: ResourceStore, record: Mapping[str, Any], names: Mapping[str, str], lang: str
) -> Row:
    agent = str(record.get("a"))
    client = record.get("c")
    method = str(record.get("m"))
    bases = record.get("b") or []
    return Row(
        at=_when(float(record.get("t", 0.0)), lang),
        who=names.get(agent, agent),
        webid=agent,
        app=app_of(client) if isinstance(client, str) and client else "",
        what=_readable(store, str(record.get("p"))),
        method=method,
        action=action_of(method),
        status=int(record.get("s", 500)),
        whys=tuple(_why(store, b, lang) for b in bases if isinstance(b, dict)),
    )


def _why(store: ResourceStore, basis: Mapping[str, Any], lang: str) -> Why:
    ref = str(basis.get("ref", ""))
    kind = str(basis.get("kind", ""))
    group = ""
    if kind.startswith("group:"):
        kind, group = "group", kind.removeprefix("group:")
    until = basis.get("until")
    governed = ref.removesuffix(".acl") if basis.get("source") == "wac" else ref
    return Why(
        source=str(basis.get("source", "")),
        kind=kind,
        where=_readable(store, governed),
        group=group,
        purposes=_listed(
            (_lower_first(label(str(i), lang)) for i in basis.get("purposes") or ()), lang
        ),
        until=_when(float(until), lang) if isinstance(until, int | float) else "",
    )


def _readable(store: ResourceStore, path: str) -> str:
    """A resource as its owner reads it: its place in the pod, without the slash of a folder or
    the suffix of an RDF file ("preferences/personalisation"); "" for the pod itself."""
    root = store.storages.root_of(path)
    inside = path[len(root) :] if root is not None and path.startswith(root) else path
    inside = inside.rstrip("/")
    for suffix in _RDF_SUFFIXES:
        if inside.endswith(suffix) and len(inside) > len(suffix):
            return inside.removesuffix(suffix)
    return inside


def _lower_first(text: str) -> str:
    """A label inside a sentence: "Personalised recommendations" -> "personalised ...", but an
    abbreviation ("SMS") stays as it is."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _listed(items: Iterable[str], lang: str) -> str:
    found = list(items)
    return format_list(found, locale=lang) if found else ""


def _when(at: float, lang: str) -> str:
    return format_datetime(
        datetime.fromtimestamp(at, UTC), format="medium", tzinfo=UTC, locale=lang
    )
