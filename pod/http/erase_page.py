"""Erasing a pod or the whole account (issue 15 §4): the page `<base>.account/erase`, the JSON
API (`DELETE <base>.account/api/me`, `DELETE <base>.account/api/pods/<pod>`), and the answer
for an erased pod's URLs (410 Gone, a small page for a browser).

The page says plainly what goes, lets the owner choose one pod or all of the account, and asks
for the password again (GDPR Art. 17; the session alone is not enough for something that cannot
be undone). The erasure runs as a task (`pod.rights.erasure`); the page it leads to shows its
progress and then the receipt, with the reclaim code shown once. That page is found by a ticket
in its URL, not by the session, which the erasure of an account ends.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web
from babel.dates import format_datetime

from pod.accounts.service import Account
from pod.accounts.tombstones import Job, Receipt
from pod.errors import BadRequest, Gone, NotFound, PodError, Unauthenticated
from pod.http.account import (
    api_account,
    error_page,
    page_form,
    page_language,
    redirect,
    render,
    require_page_account,
    urls,
)
from pod.http.bodies import read_json
from pod.http.errors import page_for, status_for, status_of
from pod.http.i18n import N_, Translatable, page_error
from pod.http.keys import ACCOUNTS, ERASE_TICKETS, ERASURE, SETTINGS, TOMBSTONES
from pod.http.sessions import Session
from pod.rights.erasure import STEPS

_ALL: Final = "all"
_TICKETS: Final = 1000  # pages of erasures under way or not yet seen, kept in memory


def add_erase_routes(app: web.Application, *, base_path: str) -> None:
    a = base_path + ".account/"
    app[ERASE_TICKETS] = {}
    app.router.add_get(a + "erase", get_erase)
    app.router.add_post(a + "erase", post_erase)
    app.router.add_get(a + "erase/{ticket:[A-Za-z0-9_-]{20,64}}", get_erasure)
    app.router.add_delete(a + "api/me", api_erase_account)
    app.router.add_delete(a + "api/pods/{pod}", api_erase_pod)


# --- 410 for erased pods --------------------------------------------------------------------


async def check_gone(request: web.Request, path: str) -> web.Response | None:
    """None unless `path` is in an erased pod whose name is held: then Gone is raised, or, for
    a browser's navigation, the small page saying so is returned (pod.http.errors.PAGES)."""
    try:
        await request.app[TOMBSTONES].check(path)
    except Gone as exc:
        page = page_for(request, exc)
        if page is None:
            raise
        return await error_page(request, exc, page)
    return None


# --- the page ---------------------------------------------------------------------------------


async def get_erase(request: web.Request) -> web.StreamResponse:
    found = await require_page_account(request)
    if isinstance(found, web.Response):
        return found
    session, account = found
    return await _page(request, session, account)


async def _page(
    request: web.Request, session: Session, account: Account, *, status: int = 200, **extra: Any
) -> web.Response:
    return await render(
        request,
        "erase.html",
        status=status,
        session=session,
        account=account,
        title=N_("Erase a pod or your account"),
        pods=request.app[ACCOUNTS].pods(account),
        hold_days=request.app[SETTINGS].name_hold_days,
        **extra,
    )


async def post_erase(request: web.Request) -> web.StreamResponse:
    found = await page_form(request)
    if isinstance(found, web.Response):
        return found
    session, account, form = found
    what = form.get("what", "")
    erasure = request.app[ERASURE]
    try:
        if what != _ALL and what not in account.pods:
            raise BadRequest("choose what to erase")
        if form.get("confirm") != "yes":
            raise BadRequest("confirm that this cannot be undone")
        job, code = await erasure.start(
            account, password=form.get("password", ""), pods=None if what == _ALL else [what]
        )
    except PodError as exc:
        error: Translatable = page_error(exc.message)
        if isinstance(exc, Unauthenticated):  # the one refusal here that is about a password
            error = N_("That is not your password. Nothing was erased.")
        return await _page(request, session, account, status=status_of(exc), error=error)
    erasure.begin(job, code)
    tickets = request.app[ERASE_TICKETS]
    while len(tickets) >= _TICKETS:  # the oldest go first; their erasures run on
        del tickets[next(iter(tickets))]
    ticket = secrets.token_urlsafe(24)
    tickets[ticket] = job.id
    return redirect(request, f"{urls(request.app[SETTINGS].base_path)['erase']}/{ticket}")


async def get_erasure(request: web.Request) -> web.StreamResponse:
    """The erasure's progress while it runs, then its receipt (with the reclaim code, once)."""
    tickets = request.app[ERASE_TICKETS]
    job_id = tickets.get(request.match_info["ticket"])
    erasure = request.app[ERASURE]
    state = None if job_id is None else await erasure.state(job_id)
    session = Session(id=None, csrf="")  # the account's sessions end with it
    if state is None:
        return await render(
            request,
            "message.html",
            status=status_for(NotFound),
            session=session,
            title=N_("No such erasure"),
            message=N_("This page was shown once already, or the server restarted."),
        )
    if isinstance(state, Job):
        response = await render(
            request,
            "erased.html",
            session=session,
            title=N_("Erasing…"),
            running=True,
            done=state.counts.get("done", 0),
            steps=STEPS,
        )
        response.headers["Refresh"] = "1"  # no script on these pages: the browser reloads
        return response
    code = erasure.take_code(state.id)
    if code is None:
        tickets.pop(request.match_info["ticket"], None)
    return await render(
        request,
        "erased.html",
        session=session,
        title=N_("Erased"),
        running=False,
        receipt=state,
        code=code,
        erased_at=_when(state.erased_at, page_language(request)),
        held_until=_when(state.held_until, page_language(request)),
    )


def _when(at: float, language: str) -> str:
    return str(
        format_datetime(datetime.fromtimestamp(at, UTC), "d MMMM y, HH:mm 'UTC'", locale=language)
    )


# --- the JSON API -------------------------------------------------------------------------------


async def _password(request: web.Request) -> str:
    body = await read_json(request)
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(password, str) or not password:
        raise BadRequest('send {"password": ...}: erasing asks for the password again')
    return password


def _receipt_json(receipt: Receipt, code: str) -> dict[str, Any]:
    return {"receipt": receipt.as_json(), "reclaimCode": code}


async def api_erase_account(request: web.Request) -> web.StreamResponse:
    """Erase the account and all its pods; the receipt and the reclaim code."""
    account = await api_account(request)
    receipt, code = await request.app[ERASURE].erase(account, password=await _password(request))
    return web.json_response(_receipt_json(receipt, code), headers={"Cache-Control": "no-store"})


async def api_erase_pod(request: web.Request) -> web.StreamResponse:
    """Erase one pod of the account; the receipt and the reclaim code."""
    account = await api_account(request)
    password = await _password(request)
    receipt, code = await request.app[ERASURE].erase(
        account, password=password, pods=[request.match_info["pod"]]
    )
    return web.json_response(_receipt_json(receipt, code), headers={"Cache-Control": "no-store"})
