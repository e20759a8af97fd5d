"""The owner's consent dashboard (issue 14 §5): `<base>.account/access`.

For each of the account's pods: the requests waiting for a decision (who asks, through which
app, for what with a preview of the data, why, until when), approved as asked or narrower, or
denied; what is shared now, each withdrawn with one click; purposes refused once and for all;
and the history of every decision. In English and Dutch, like every account page.

Consent that the law would accept (GDPR Art. 4(11) and 7, https://gdpr-info.eu/art-7-gdpr/):
nothing is pre-selected (the person ticks what to share), approving and denying are buttons of
the same kind side by side, and withdrawing is one click from the list of what is shared. The
forms are the account pages' own: a logged-in session, its CSRF token, the pages' CSP.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web
from babel.dates import format_datetime

from pod.accounts.service import Account
from pod.errors import NotFound, PodError
from pod.http.account import (
    page_form,
    page_language,
    pod_roots,
    redirect,
    render,
    require_page_account,
    urls,
)
from pod.http.i18n import N_, Text, page_error
from pod.http.keys import CHOICES, GRANTS, NAMES, REQUESTS, SETTINGS, STORE
from pod.http.sessions import Session
from pod.model import AccessMode
from pod.vault.choices import choose_never
from pod.vault.grants import Terms
from pod.vault.overview import overview
from pod.vault.purposes import label, purposes

_NEVER: Final = "never"


def add_access_routes(app: web.Application, *, base_path: str) -> None:
    page = base_path + ".account/access"
    app.router.add_get(page, get_access)
    app.router.add_post(page + "/decide", post_decide)
    app.router.add_post(page + "/withdraw", post_withdraw)
    app.router.add_post(page + "/choices", post_choices)


async def get_access(request: web.Request) -> web.StreamResponse:
    found = await require_page_account(request)
    if isinstance(found, web.Response):
        return found
    session, account = found
    return await _page(request, session, account, notice=_notice(request.query.get("done")))


async def _page(
    request: web.Request, session: Session, account: Account, *, status: int = 200, **extra: Any
) -> web.Response:
    app = request.app
    store = app[STORE]
    pods = []
    for root in pod_roots(request, account):
        seen = await overview(
            root, store=store, requests=app[REQUESTS], grants=app[GRANTS].book, names=app[NAMES]
        )
        pods.append((store.url(root), seen, await app[CHOICES].never(root)))
    language = page_language(request)
    return await render(
        request,
        "access.html",
        status=status,
        session=session,
        account=account,
        title=N_("Access to your data"),
        pods=pods,
        # (index in the form, IRI, label): shown in the order of their labels.
        purposes=sorted(
            ((n, iri, label(iri, language)) for n, iri in enumerate(purposes())),
            key=lambda row: row[2].lower(),
        ),
        purpose_label=lambda iri: label(iri, language),
        when=lambda at: _when(at, language),
        until_value=_until_value,
        url_of=store.url,
        now=time.time(),
        **extra,
    )


async def _action(
    request: web.Request,
    act: Callable[[Account, Mapping[str, str], str], Awaitable[str]],
) -> web.StreamResponse:
    """A form on the page: the session's account, its CSRF token checked, the pod it names
    one of the account's; then back to the page, saying what was done."""
    found = await page_form(request)
    if isinstance(found, web.Response):
        return found
    session, account, form = found
    root = form.get("pod", "")
    if root not in pod_roots(request, account):
        raise NotFound("no pod of yours is named in the form")
    try:
        done = await act(account, form, root)
    except _Refused as exc:
        return await _page(request, session, account, status=400, error=exc.text)
    except PodError as exc:
        return await _page(request, session, account, status=400, error=page_error(exc.message))
    page = urls(request.app[SETTINGS].base_path)["access"]
    return redirect(request, f"{page}?done={done}")


async def post_decide(request: web.Request) -> web.StreamResponse:
    async def decide(account: Account, form: Mapping[str, str], root: str) -> str:
        app = request.app
        store = app[STORE]
        book = app[REQUESTS]
        made = await book.read(root + "consent/requests/" + _id(form.get("request", "")))
        now = time.time()
        if form.get("action") == "deny":
            await book.deny(made, now=now)
            return "denied"
        if form.get("action") != "approve":
            raise _Refused(N_("Choose to share or to deny."))
        ticked = {store.path_of(v) for k, v in form.items() if k.startswith("resource-")}
        chosen = tuple(sorted(p for p in ticked if p is not None))
        if not chosen:
            raise _Refused(N_("Tick what you want to share, or deny the request."))
        modes = made.terms.modes
        if len(modes.names) > 1:  # the person ticks which of them they allow
            modes = AccessMode.NONE
            for name in ("read", "append", "write"):
                if form.get(f"mode-{name}") == name:
                    modes |= AccessMode[name.upper()]
            if not modes:
                raise _Refused(N_("Tick what you allow them to do, or deny the request."))
        terms = Terms(
            resources=chosen,
            inherit=made.terms.inherit,
            modes=modes,
            purposes=made.terms.purposes,
            expires=_until(form.get("until", ""), made.terms.expires),
        )
        await book.approve(made, terms, now=now)
        return "shared"

    return await _action(request, decide)


async def post_withdraw(request: web.Request) -> web.StreamResponse:
    async def withdraw(account: Account, form: Mapping[str, str], root: str) -> str:
        store = request.app[STORE]
        path = store.path_of(form.get("grant", ""))
        if path is None or not path.startswith(root + "consent/grants/"):
            raise NotFound("no such grant in this pod")
        await request.app[GRANTS].book.withdraw(path, now=time.time())
        return "withdrawn"

    return await _action(request, withdraw)


async def post_choices(request: web.Request) -> web.StreamResponse:
    async def choose(account: Account, form: Mapping[str, str], root: str) -> str:
        bundled = list(purposes())
        never = [iri for n, iri in enumerate(bundled) if form.get(f"purpose-{n}") == _NEVER]
        await choose_never(
            request.app[CHOICES], request.app[REQUESTS], root, never, now=time.time()
        )
        return "choices"

    return await _action(request, choose)


class _Refused(Exception):
    """A form filled in a way the page cannot act on; `text` says why, in the page's words."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.msgid)
        self.text = text


def _id(value: str) -> str:
    if len(value) != 32 or not all(c in "0123456789abcdef" for c in value):
        raise NotFound("no such request")
    return value


def _until(value: str, asked: float) -> float:
    """The end the person chose (a date and time in UTC, to the second), at most what was
    asked; what was asked when the field is left as it was."""
    if not value:
        return asked
    try:
        moment = datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise _Refused(N_("The end is not a date and time.")) from exc
    if moment > asked + 1:  # the form shows the asked end to the second
        raise _Refused(N_("Sharing can end sooner than they asked, not later."))
    return min(moment, asked)


def _until_value(at: float) -> str:
    """A moment as a datetime-local field's value, in UTC, to the second."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _when(at: float, language: str) -> str:
    return format_datetime(
        datetime.fromtimestamp(at, UTC), format="medium", tzinfo=UTC, locale=language
    )


def _notice(done: str | None) -> Any:
    return {
        "shared": N_("Shared. You can stop sharing at any time below."),
        "denied": N_("Denied. They cannot ask for the same again for a week."),
        "withdrawn": N_("Stopped. They can no longer use it, from their next request on."),
        "choices": N_("Your choices are saved."),
    }.get(done or "")
