"""The owner's "My data" pages (issue 15 §2): `<base>.account/data/<pod>/<path>`.

The pod in the browser, through the account session: a container's items with breadcrumbs, a
readable view of each RDF document (`pod.http.data_view`), every other file's kind and size with
a download, upload, new folder and delete, and who can see each item, in words, with sharing
changes from there. In English and Dutch, like every account page; every form carries the
session's CSRF token (`page_form`).

The pages act as the pod's owner (the WebID `Storages.owner` names), never as a server with
more rights: every read and change is authorized like a request of the owner's (WAC, so an ACL
that locks the owner out of an item holds here too) and goes through the store, so shapes,
quotas and the change feed apply, and the feed names the owner as the one who made it. A pod of
another account answers 404, like one that does not exist.
"""

from __future__ import annotations

import asyncio
import mimetypes
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, final
from urllib.parse import quote

from aiohttp import hdrs, web
from babel.dates import format_date, format_datetime
from babel.numbers import get_decimal_symbol
from babel.support import NullTranslations

from pod import paths
from pod.accounts.service import Account
from pod.acl.wac import Rule, parse_rules
from pod.acl.wac_reader import WacReader
from pod.cache import LruCache
from pod.errors import (
    BadRequest,
    Conflict,
    InvalidPath,
    NotFound,
    PayloadTooLarge,
    PodError,
    PreconditionFailed,
)
from pod.feed import ChangeFeed, Event, ResourceChanged, act_as
from pod.http import data_view
from pod.http.account import (
    check_form,
    page_form,
    page_language,
    redirect,
    render,
    require_page_account,
    urls,
)
from pod.http.authn import target_path
from pod.http.bodies import Upload, read_multipart, response_with_body
from pod.http.errors import status_for, status_of
from pod.http.i18n import N_, Text, Translatable, page_error
from pod.http.keys import AUTHORIZER, FEED, GRANTS, NAMES, PAGES, SETTINGS, STORE
from pod.http.sessions import Session
from pod.ldp import rdf
from pod.ldp.conditions import Conditions
from pod.ldp.locks import MemoryLocker
from pod.ldp.methods import check_deletable
from pod.ldp.operation import Operation
from pod.ldp.quotas import amount
from pod.ldp.resources import offload
from pod.model import ANONYMOUS, AccessMode, Credentials
from pod.vault.grants import GRANTS as GRANTS_PLACE
from pod.vault.grants import Grant, GrantBook, Status
from pod.vault.overview import app_of
from pod.vault.purposes import label as purpose_label

_NAME_SECONDS: Final = 2.0  # a slow profile host names nobody late
_CREATE_ONLY: Final = Conditions(if_none_match=("*",))
_PODS_KEPT: Final = 256  # pods whose grants are kept (PodGrants)
_GRANTS_KEPT_BYTES: Final = 32 * 1024 * 1024
_GRANT_BYTES: Final = 2048  # a Grant with its terms and history, about (pod.vault.reader)
_NOTICES: Final[Mapping[str, Text]] = {
    "uploaded": N_("Uploaded."),
    "folder": N_("Folder created."),
    "deleted": N_("Deleted."),
    "public": N_("Everyone can read it now."),
    "private": N_("Not everyone can read it any more."),
    "shared": N_("Shared."),
    "unshared": N_("No longer shared with them."),
}


def add_data_routes(app: web.Application, *, base_path: str) -> None:
    """The pages under `<base>.account/data/` (before the catch-all resource route)."""
    app[_POD_GRANTS] = PodGrants(app[GRANTS].book, app[FEED])
    data = urls(base_path)["data"]
    app.router.add_get(data + "{pod}", get_pod)
    app.router.add_get(data + r"{pod}/{tail:[\s\S]*}", get_data)
    app.router.add_post(data + r"{pod}/{tail:[\s\S]*}", post_data)


@final
class PodGrants:
    """Every grant of a pod, read once and then kept until the change feed announces a change
    under the pod's grants container (from whichever process wrote it), for the pages that say
    who can see an item. Each page of My data used to read every grant record of the pod.

    The grants reader's own index (pod.vault.reader) is keyed by (recipient, client), the
    question a request asks; a page asks which grants name an item, whoever they are for, so
    it needs the pod's grants, filtered in memory. Bounded: a pod's entry counts ~2 KB a grant
    (as in pod.vault.reader), and a pod beyond the budget is read on every page, as before.
    """

    def __init__(self, book: GrantBook, feed: ChangeFeed) -> None:
        self._book = book
        self._kept: LruCache[str, tuple[Grant, ...]] = LruCache(
            max_entries=_PODS_KEPT, max_bytes=_GRANTS_KEPT_BYTES, sizer=_grants_size
        )
        self._reading: dict[str, int] = {}  # pod being read -> changes heard meanwhile
        self._locks = MemoryLocker()  # one read of a pod's grants at a time
        feed.subscribe(self._follow)

    def _follow(self, event: Event) -> None:
        if not isinstance(event, ResourceChanged):
            return
        at = event.path.find(GRANTS_PLACE)
        if at < 0:
            return
        root = event.path[:at]
        self._kept.pop(root)
        if root in self._reading:
            self._reading[root] += 1

    async def of(self, root: str) -> tuple[Grant, ...]:
        """Every grant of storage `root`, withdrawn and expired ones included, oldest first."""
        kept = self._kept.get(root)
        if kept is not None:
            return kept
        async with self._locks.hold(root):
            kept = self._kept.get(root)
            if kept is not None:
                return kept
            self._reading[root] = 0
            try:
                grants = tuple(await self._book.all_in(root))
                if self._reading[root] == 0:  # nothing changed while they were read
                    self._kept.put(root, grants)
                return grants
            finally:
                del self._reading[root]


def _grants_size(root: str, grants: tuple[Grant, ...]) -> int:
    return 200 + len(root) + len(grants) * _GRANT_BYTES


_POD_GRANTS: Final = web.AppKey("pod_grants", PodGrants)


def data_url(base_path: str, path: str) -> str:
    """The page of My data showing resource `path`."""
    return urls(base_path)["data"] + paths.to_url_path(path, "/")[1:]


@final
@dataclass(frozen=True, slots=True)
class _Target:
    """The item a page is about: its path, its pod's root and that pod's owner."""

    path: str
    root: str
    owner: str

    @property
    def credentials(self) -> Credentials:
        return Credentials(agent=self.owner)


def _target(request: web.Request, account: Account) -> _Target | None:
    """The resource the page's URL names, in one of the account's pods; None otherwise.
    Raises InvalidPath for a path no resource could have."""
    settings = request.app[SETTINGS]
    prefix = urls(settings.base_path)["data"]
    raw = target_path(request)
    if not raw.startswith(prefix):
        return None
    path = paths.parse_url_path(settings.base_path + raw[len(prefix) :], settings.base_path)
    root = path[: path.index("/", 1) + 1] if path.count("/") > 1 else None
    storages = request.app[STORE].storages
    if root is None or root.strip("/") not in account.pods:
        return None
    owner = storages.owner(root)
    if owner is None or not storages.is_root(root):
        return None
    act_as(owner, None)  # the change feed names the owner as who made each change
    return _Target(path, root, owner)


async def get_pod(request: web.Request) -> web.StreamResponse:
    """`.account/data/<pod>` without the slash: the pod's page."""
    base = request.app[SETTINGS].base_path
    return redirect(request, urls(base)["data"] + quote(request.match_info["pod"], safe="") + "/")


async def get_data(request: web.Request) -> web.StreamResponse:
    found = await require_page_account(request)
    if isinstance(found, web.Response):
        return found
    session, account = found
    target = _target(request, account)
    if target is None:
        return await _missing(request, session, account)
    if "download" in request.query and not paths.is_container(target.path):
        if await request.app[STORE].head(target.path) is None:
            return await _missing(request, session, account, target)
        return await _download(request, target)
    done = _NOTICES.get(request.query.get("done", ""))
    return await _page(request, session, account, target, notice=done)


async def _missing(
    request: web.Request, session: Session, account: Account, target: _Target | None = None
) -> web.Response:
    """404 as a page: no such item in the account's pods (another account's pod included)."""
    back = urls(request.app[SETTINGS].base_path)["account"]
    if target is not None:
        back = data_url(request.app[SETTINGS].base_path, target.root)
    return await render(
        request,
        "message.html",
        status=status_for(NotFound),
        session=session,
        account=account,
        title=N_("Not found"),
        message=N_("There is nothing here in your pods."),
        link=back,
        link_text=N_("Back to your data"),
    )


async def _download(request: web.Request, target: _Target) -> web.StreamResponse:
    """The item's stored bytes as an attachment: the browser saves it and never shows it as a
    page of this origin (the isolation policy of every answer stays, pod.http.middlewares)."""
    app = request.app
    await app[AUTHORIZER].authorize(target.credentials, Operation("GET", target.path))
    rep = await app[STORE].get(target.path)
    response = response_with_body(request, 200, rep.data)
    response.headers[hdrs.CONTENT_TYPE] = rep.content_type
    response.headers[hdrs.CONTENT_DISPOSITION] = _attachment(paths.name_of(target.path))
    response.headers[hdrs.CACHE_CONTROL] = "no-store"
    return response


def _attachment(name: str) -> str:
    """Content-Disposition naming the file (RFC 6266 §4.3: an ASCII `filename` for old
    clients, the exact name as `filename*`, RFC 8187)."""
    plain = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


# --- the page -----------------------------------------------------------------------------------


async def _page(
    request: web.Request,
    session: Session,
    account: Account,
    target: _Target,
    *,
    status: int = 200,
    **extra: Any,
) -> web.Response:
    app = request.app
    store = app[STORE]
    base = app[SETTINGS].base_path
    path = target.path
    await app[AUTHORIZER].authorize(target.credentials, Operation("GET", path))
    meta = await store.head(path)
    if meta is None:
        return await _missing(request, session, account, target)
    language = page_language(request)
    point = get_decimal_symbol(language)
    translations = app[PAGES].translations[language]

    def when(at: float | None) -> str:
        if at is None:
            return ""
        moment = datetime.fromtimestamp(at, UTC)
        return format_datetime(moment, format="medium", tzinfo=UTC, locale=language)

    days: dict[date, str] = {}

    def day(at: float | None) -> str:
        """The day only, for a folder's items: Babel takes about 0.1 ms to format a moment,
        which would be most of the time of a page of 1,000 items; their days are few."""
        if at is None:
            return ""
        moment = datetime.fromtimestamp(at, UTC).date()
        shown = days.get(moment)
        if shown is None:
            shown = days[moment] = format_date(moment, format="medium", locale=language)
        return shown

    def kind(is_container: bool, media_type: str) -> str:
        text = (
            N_("Folder")
            if is_container
            else N_("Linked data (%(type)s)", type=media_type)
            if rdf.is_rdf_type(media_type)
            else N_("File (%(type)s)", type=media_type or "application/octet-stream")
        )
        return text.translate(translations)

    def inside(iri: str) -> tuple[str, str] | None:
        """A resource of this pod: its page of My data, and its name there ("pod/a/b#c")."""
        document, _, fragment = iri.partition("#")
        found = store.path_of(document)
        if found is None or not found.startswith(target.root):
            return None
        anchor = "#" + fragment if fragment else ""
        if found == path and anchor:
            return anchor, anchor
        return data_url(base, found) + anchor, found[1:] + anchor

    context: dict[str, Any] = {
        "item": {
            "path": path,
            "name": paths.name_of(path) or target.root.strip("/"),
            "url": store.url(path),
            "kind": kind(meta.is_container, meta.content_type),
            "size": amount(meta.size, point=point),
            "modified": when(meta.modified),
            "is_container": meta.is_container,
            "is_root": path == target.root,
            "page": data_url(base, path),
        },
        "crumbs": [
            (paths.name_of(p) or target.root.strip("/"), data_url(base, p))
            for p in reversed(paths.ancestors(path))
            if p.startswith(target.root)
        ],
    }
    if meta.is_container:
        rep = await store.get(path, accept=rdf.N_TRIPLES)
        rep_url = store.url(path)
        graph = await offload(len(rep.data), rdf.parse, rep.data, rdf.N_TRIPLES, base=rep_url)
        context["children"] = [
            {
                "name": c.name,
                "page": data_url(base, c.path),
                "kind": kind(c.is_container, c.media_type),
                "size": "" if c.is_container else amount(c.size, point=point),
                "modified": day(c.modified),
                "is_container": c.is_container,
            }
            for c in data_view.children(
                graph.triples, container_url=store.url(path), path_of=store.path_of
            )
        ]
    elif rdf.is_rdf_type(meta.content_type):
        found = await store.read_graph(path)
        triples = [] if found is None else found[1].triples
        terms = data_view.Terms(language, store.url(path), inside)
        context["subjects"] = data_view.document(triples, terms)
    context.update(await _sharing(request, target, translations, when))
    return await render(
        request,
        "data.html" if meta.is_container else "document.html",
        status=status,
        session=session,
        account=account,
        title=N_("My data") if path == target.root else context["item"]["name"],
        **context,
        **extra,
    )


async def _sharing(
    request: web.Request,
    target: _Target,
    translations: NullTranslations,
    when: Callable[[float | None], str],
) -> dict[str, Any]:
    """Who can see the item: the rules that govern it in words, where they are set, and the
    live grants that name it."""
    app = request.app
    store = app[STORE]
    base = app[SETTINGS].base_path
    path = target.path
    wac = _wac(app)
    if wac is None:
        return {"sharing": None}
    acl_path, inherited_from, rules = await wac.effective(path)
    now = time.time()
    grants = [
        g
        for g in await app[_POD_GRANTS].of(target.root)
        if g.status(now) is Status.GIVEN and g.names(path)
    ]
    webids = {a for r in rules for a in r.agents} | {g.recipient for g in grants}
    webids.discard(target.owner)
    names = await _names(request, webids)
    lines = []
    for access in data_view.accesses(rules, owner=target.owner, names=names):
        who = access.who if isinstance(access.who, str) else access.who.translate(translations)
        sentence = Text(access.sentence.msgid, {"who": who}).translate(translations)
        only = ""
        if access.origins:
            only = N_("only through %(apps)s", apps=", ".join(access.origins)).translate(
                translations
            )
        lines.append({"text": sentence, "only": only, "webid": access.webid})
    where: Translatable | None = None
    folder = None
    if acl_path is not None and inherited_from is None:
        where = N_("These settings are this item's own.")
    elif inherited_from is not None:
        name = paths.name_of(inherited_from) or target.root.strip("/")
        where = N_("These settings are those of the folder %(folder)s.", folder=name)
        folder = data_url(base, inherited_from)
    language = page_language(request)
    return {
        "sharing": {
            "lines": lines,
            "where": None if where is None else where.translate(translations),
            "folder": folder,
            "public": AccessMode.READ in await app[AUTHORIZER].granted(ANONYMOUS, path),
            "grants": [
                {
                    "who": names.get(g.recipient, g.recipient),
                    "app": app_of(g.client),
                    "writes": bool(g.terms.modes & (AccessMode.WRITE | AccessMode.APPEND)),
                    "purposes": ", ".join(
                        sorted(purpose_label(p, language) for p in g.terms.purposes)
                    ),
                    "until": when(g.terms.expires),
                    "url": store.url(g.path),
                }
                for g in grants
            ],
        },
        "pod_root": target.root,
    }


def _wac(app: web.Application) -> WacReader | None:
    for reader in app[AUTHORIZER].readers:
        if isinstance(reader, WacReader):
            return reader
    return None


async def _names(request: web.Request, webids: set[str]) -> dict[str, str]:
    ordered = sorted(webids)
    names = request.app[NAMES]
    found = await asyncio.gather(
        *(asyncio.wait_for(names.name(w), _NAME_SECONDS) for w in ordered),
        return_exceptions=True,
    )
    return {w: n if isinstance(n, str) else w for w, n in zip(ordered, found, strict=True)}


# --- the forms ------------------------------------------------------------------------------------


async def post_data(request: web.Request) -> web.StreamResponse:
    """Every form of the pages posts to the page of the item it changes, with an `action`:
    upload (a multipart form into a folder), folder, delete, public, share or unshare."""
    files: list[Upload] = []
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_type == "multipart/form-data":
        found = await require_page_account(request)
        if isinstance(found, web.Response):
            return found
        session, account = found
        try:
            form, files = await read_multipart(request, limit=limit)
        except PayloadTooLarge as exc:
            # Said in words on the folder's page; nothing was written, so no token is needed.
            target = _target(request, account)
            if target is None:
                return await _missing(request, session, account)
            point = get_decimal_symbol(page_language(request))
            said = N_(
                "That is too large: files of up to %(limit)s can be uploaded.",
                limit=amount(limit, point=point),
            )
            return await _page(request, session, account, target, status=status_of(exc), error=said)
        check_form(request, session, form)
        form["action"] = "upload"
    else:
        posted = await page_form(request)
        if isinstance(posted, web.Response):
            return posted
        session, account, form = posted
    target = _target(request, account)
    if target is None:
        return await _missing(request, session, account)
    app = request.app
    if await app[STORE].head(target.path) is None:
        return await _missing(request, session, account, target)
    action = form.get("action", "")
    try:
        if action == "upload":
            done, goto = await _upload(request, target, files)
        elif action == "folder":
            done, goto = await _new_folder(request, target, form.get("name", "").strip())
        elif action == "delete":
            done, goto = await _delete(request, target)
        elif action in ("public", "share", "unshare"):
            done, goto = await _change_sharing(request, target, action, form)
        else:
            raise BadRequest("the page sent a form it does not know; reload it")
    except PodError as exc:
        # The page again, saying why in its reader's words (pod.http.i18n's catalogue), with
        # the status every other refusal of this kind gets.
        error = page_error(exc.message)
        return await _page(request, session, account, target, status=status_of(exc), error=error)
    return redirect(request, f"{data_url(app[SETTINGS].base_path, goto)}?done={done}")


async def _write(request: web.Request, target: _Target, path: str) -> None:
    """Authorize the owner's PUT of `path`."""
    await request.app[AUTHORIZER].authorize(target.credentials, Operation("PUT", path))


def _child(target: _Target, name: str, *, folder: bool) -> str:
    if not paths.is_container(target.path):
        raise BadRequest("open a folder to add to it")
    if not name:
        raise BadRequest("give it a name")
    paths.check_name(name)
    if paths.has_auxiliary_suffix(name):
        raise InvalidPath(f"{name!r} is the name of an auxiliary resource")
    return target.path + name + ("/" if folder else "")


async def _upload(request: web.Request, target: _Target, files: list[Upload]) -> tuple[str, str]:
    chosen = [f for f in files if f.filename]
    if not chosen:
        raise BadRequest("choose a file to upload")
    store = request.app[STORE]
    for upload in chosen:
        # Browsers send a path's last part only (HTML: "the file's name"); some old ones more.
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
        path = _child(target, name, folder=False)
        media = upload.content_type
        if not media or media == "application/octet-stream":
            media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        await _write(request, target, path)
        try:
            await store.put(path, data=upload.data, content_type=media, conditions=_CREATE_ONLY)
        except PreconditionFailed:
            raise Conflict(f"there is already something named {name} here") from None
    return "uploaded", target.path


async def _new_folder(request: web.Request, target: _Target, name: str) -> tuple[str, str]:
    path = _child(target, name, folder=True)
    await _write(request, target, path)
    try:
        await request.app[STORE].put(path, data=b"", content_type=None, conditions=_CREATE_ONLY)
    except PreconditionFailed:
        raise Conflict(f"there is already something named {name} here") from None
    return "folder", path


async def _delete(request: web.Request, target: _Target) -> tuple[str, str]:
    store = request.app[STORE]
    check_deletable(target.path, store.storages)
    await request.app[AUTHORIZER].authorize(target.credentials, Operation("DELETE", target.path))
    await store.delete(target.path)
    parent = paths.parent(target.path)
    return "deleted", parent if parent is not None else target.root


async def _change_sharing(
    request: web.Request, target: _Target, action: str, form: Mapping[str, str]
) -> tuple[str, str]:
    """Change who may use the item, in its own ACL: made from the inherited rules when it has
    none (so nothing inherited is lost), and always keeping the owner's Read, Write and Control
    (WAC #server-control-operation: changing an ACL needs Control, which the owner must keep)."""
    app = request.app
    store = app[STORE]
    wac = _wac(app)
    if wac is None:
        raise BadRequest("sharing cannot be changed on this server")
    path = target.path
    url = store.url(path)
    folder = paths.is_container(path)
    done: str
    if action == "public":
        on = form.get("public") == "on"

        def change(rules: list[Rule]) -> list[Rule]:
            return data_view.with_public_read(rules, on, target_url=url, is_container=folder)

        done = "public" if on else "private"
    else:
        webid = data_view.check_webid(form.get("webid", "").strip())
        if webid == target.owner:
            raise BadRequest("that is your own WebID: you can always use your data")
        modes = AccessMode.NONE
        if action == "share":
            modes = AccessMode.READ
            if form.get("access") == "write":
                modes |= AccessMode.WRITE | AccessMode.APPEND

        def change(rules: list[Rule]) -> list[Rule]:
            return data_view.with_agent(rules, webid, modes, target_url=url, is_container=folder)

        done = "shared" if modes else "unshared"
    acl = paths.acl_of(path)
    await _write(request, target, acl)
    own = await store.read_graph(acl)
    if own is not None:
        rules = parse_rules(own[1].triples)
        conditions = Conditions(if_match=(own[0].version,))
    else:
        _, _, inherited = await wac.effective(path)
        rules = data_view.retarget(inherited, target_url=url, is_container=folder)
        conditions = _CREATE_ONLY
    rules = data_view.with_owner(change(rules), target.owner, target_url=url, is_container=folder)
    body = rdf.serialize(data_view.acl_triples(rules, acl_url=store.url(acl)), rdf.TURTLE)
    await store.put(acl, data=body, content_type=rdf.TURTLE, conditions=conditions)
    return done, path
