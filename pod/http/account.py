"""Account pages (server-rendered HTML, usable without JavaScript) and the JSON account API.

Both call the same AccountService and Provider methods, so there is one code path; the CLI uses
the JSON API. Pages use a session cookie plus a CSRF token in every form; the JSON API uses a
bearer API token from `POST /.account/api/login` (no cookies, so no CSRF exposure) and is not
offered to other origins through CORS.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from aiohttp import hdrs, web
from authlib.oauth2.rfc6749.errors import OAuth2Error
from babel.numbers import get_decimal_symbol

from pod.accounts.pods import Pod
from pod.accounts.service import API_TOKEN_LIFETIME, Account, AccountService, LoginAttempt
from pod.errors import AccountDisabled, BadRequest, Forbidden, PodError, Unauthenticated
from pod.http.bodies import read_form, read_json
from pod.http.errors import PAGE_HEADERS, ErrorPage, status_for, status_of
from pod.http.i18n import (
    COOKIE,
    COOKIE_MAX_AGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    N_,
    Pages,
    Text,
    choose_language,
    is_language,
    page_error,
)
from pod.http.keys import (
    ACCOUNTS,
    PAGES,
    PROVIDER,
    QUOTAS,
    SESSIONS,
    SETTINGS,
    STORE,
    TEMPLATES,
)
from pod.http.proxies import client_address
from pod.http.sessions import Session
from pod.idp.provider import AuthRequest, origin_of
from pod.ldp.quotas import amount

log = logging.getLogger(__name__)


def urls(base: str) -> dict[str, str]:
    a = base + ".account/"
    return {
        "account": a,
        "login": a + "login",
        "signup": a + "signup",
        "logout": a + "logout",
        "consent": a + "consent",
        "continue": a + "continue",
        "pods": a + "pods",
        "credentials": a + "credentials",
        "apps": a + "apps",
        "language": a + "language",
        "access": a + "access",
        "disclosures": a + "disclosures",
        "data": a + "data/",
        "erase": a + "erase",
        "reset": a + "reset",
        "export": a + "export/",  # + a pod's name: its copy (pod.http.rights_api)
        "import_pod": a + "import",
    }


def _urls(request: web.Request) -> dict[str, str]:
    return urls(request.app[SETTINGS].base_path)


def page_language(request: web.Request) -> str:
    """The language to show pages in: chosen with the switch, else from Accept-Language."""
    return choose_language(
        cookie=request.cookies.get(COOKIE),
        accept_language=request.headers.get(hdrs.ACCEPT_LANGUAGE),
    )


async def render(
    request: web.Request,
    template: str,
    *,
    status: int = 200,
    session: Session | None = None,
    account: Account | None = None,
    back: str | None = None,
    **context: Any,
) -> web.Response:
    """The page `template` in the reader's language. Page strings in `context` (`N_(...)`)
    are translated; `back` is where the language switch returns to (by default this page when
    it was a GET, else the account page)."""
    response = web.Response(status=status, content_type="text/html", charset="utf-8")
    if session is None:
        session = await request.app[SESSIONS].ensure(request, response)
    u = _urls(request)
    if back is None:
        back = request.path_qs if request.method in ("GET", "HEAD") else u["account"]
    language = page_language(request)
    pages = request.app[PAGES]
    html = (
        pages.environment(language)
        .get_template(template)
        .render(
            urls=u,
            csrf=session.csrf,
            account=account,
            base_url=request.app[SETTINGS].base_url,
            language=language,
            languages=LANGUAGE_NAMES,
            switch={
                code: u["language"] + "?" + urlencode({"lang": code, "back": back})
                for code in LANGUAGES
            },
            **{name: pages.translate(value, language) for name, value in context.items()},
        )
    )
    response.text = html
    # The page depends on both (RFC 9110 §12.5.5), and says which language it is in (§8.5).
    response.headers[hdrs.CONTENT_LANGUAGE] = language
    response.headers[hdrs.VARY] = "Accept-Language, Cookie"
    # The pages must not be framed by other sites (clickjacking) nor cached.
    response.headers["X-Frame-Options"] = "DENY"
    # form-action must allow the redirect to the app after the consent form.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        "form-action 'self' http: https:; frame-ancestors 'none'"
    )
    response.headers[hdrs.CACHE_CONTROL] = "no-store"
    return response


async def error_page(
    request: web.Request, error: PodError, page: ErrorPage, *, problem: web.Response | None = None
) -> web.Response:
    """`page` (pod.http.errors.PAGES) for a browser that navigated to a pod resource and got
    `error`, with its status and the headers its `problem` carries (WWW-Authenticate for 401).
    A visitor's page: no session is made for it, so no cookie is set on a pod's URL."""
    pages = urls(request.app[SETTINGS].base_path)
    response = await render(
        request,
        page.template,
        status=status_of(error),
        session=Session(id=None, csrf=""),
        back=pages["account"],
        title=page.title,
        message=page.message,
        link=pages["login"] if page.login else None,
        link_text=N_("Log in") if page.login else None,
    )
    if problem is not None:
        for name in PAGE_HEADERS:
            if name in problem.headers:
                response.headers[name] = problem.headers[name]
    return response


def _is_own_page(location: str, base_path: str) -> bool:
    """`location` is a path under this server's base path, and nothing a browser could read as
    another site's address (`//host`, `/\\host`, tabs or newlines, which browsers drop)."""
    if not location.startswith(base_path) or "\\" in location:
        return False
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in location):
        return False
    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc


async def get_language(request: web.Request) -> web.StreamResponse:
    """The language switch on every page (links, no script): remember the choice in a cookie,
    which wins over Accept-Language, and go back to the page (only one of ours: no open
    redirect)."""
    settings = request.app[SETTINGS]
    back = request.query.get("back", "")
    if not _is_own_page(back, settings.base_path):
        back = _urls(request)["account"]
    response = redirect(request, back)
    language = request.query.get("lang")
    if language is not None and is_language(language):
        # Not personal data nor a secret: no consent needed, and SameSite=Lax like the session.
        response.set_cookie(
            COOKIE,
            language,
            path=settings.base_path,
            max_age=COOKIE_MAX_AGE,
            samesite="Lax",
            httponly=True,
            secure=settings.base_url.startswith("https:"),
        )
    return response


def redirect(request: web.Request, location: str) -> web.Response:
    """303 See Other to `location`; a path is made absolute from the configured base URL,
    because some clients cannot follow a relative Location (RFC 9110 §10.2.2 allows one) and
    the request's own Host may not be the public one behind a proxy."""
    response = web.Response(status=303)
    if not urlsplit(location).scheme:
        location = urljoin(request.app[SETTINGS].base_url, location)
    response.headers[hdrs.LOCATION] = location
    response.headers[hdrs.CACHE_CONTROL] = "no-store"
    return response


async def _form(request: web.Request) -> dict[str, str]:
    return await read_form(request)


async def session_account(request: web.Request) -> tuple[Session | None, Account | None]:
    session = await request.app[SESSIONS].load(request)
    if session is None or session.account is None:
        return session, None
    account = await request.app[ACCOUNTS].get(session.account)
    # Disabling ends the account's sessions; this holds for one that raced it.
    return session, None if account is None or account.disabled else account


def check_form(request: web.Request, session: Session | None, form: Mapping[str, str]) -> None:
    """Raise Forbidden unless the form carries the session's CSRF token."""
    if not request.app[SESSIONS].check_csrf(session, form.get("csrf")):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page and try again")


async def _attempt(request: web.Request) -> LoginAttempt:
    device = await request.app[SESSIONS].device(request)
    return LoginAttempt(
        address=client_address(request),
        device=None if device is None else device[0],
        device_account=None if device is None else device[1],
    )


# --- the OIDC interaction: where an authorization request goes next -------------------


async def continue_authorization(
    request: web.Request, auth: AuthRequest, session: Session | None, account: Account | None
) -> web.Response:
    """Send the user on: to log-in, to a pod, to the consent page, or back to the app."""
    provider = request.app[PROVIDER]
    u = _urls(request)
    auth_time = session.auth_time if (session and account) else None
    if account is None or provider.needs_login(auth, auth_time):
        if "none" in auth.prompt:
            return await _cannot_without_asking(
                request,
                auth,
                account,
                "login_required",
                N_(
                    "%(app)s asked to sign you in without showing you Kluis, "
                    "but you are not logged in here.",
                    app=auth.client_name,
                ),
            )
        return redirect(request, f"{u['login']}?auth={auth.id}")
    if not account.webids:
        return redirect(request, f"{u['account']}?auth={auth.id}")
    if len(account.webids) == 1 and await provider.has_consent(auth, account, account.webids[0]):
        assert auth_time is not None
        return redirect(
            request,
            await provider.approve(
                auth, account=account, webid=account.webids[0], auth_time=auth_time, remember=True
            ),
        )
    if "none" in auth.prompt:
        return await _cannot_without_asking(
            request,
            auth,
            account,
            "consent_required",
            N_(
                "%(app)s asked to sign you in without asking you, but you have not allowed it yet.",
                app=auth.client_name,
            ),
        )
    return redirect(request, f"{u['consent']}?auth={auth.id}")


async def _cannot_without_asking(
    request: web.Request, auth: AuthRequest, account: Account | None, error: str, message: Text
) -> web.Response:
    """`prompt=none` (OIDC Core §3.1.2.1), but the person would have to act: `error`."""
    return await send_back(
        request,
        account,
        client_id=auth.client_id,
        redirect_uri=auth.redirect_uri,
        location=await request.app[PROVIDER].deny(auth, error),
        message=message,
    )


async def send_back(
    request: web.Request,
    account: Account | None,
    *,
    client_id: str,
    redirect_uri: str,
    location: str,
    message: Text,
    details: str | None = None,
    status: int = 200,
) -> web.Response:
    """Return the browser to an app with an answer it did not choose (an error, a refusal
    nobody clicked): straight away only where the provider trusts the redirect for this person
    (`Provider.trusts_redirect`), else through a page that shows where the link goes."""
    if await request.app[PROVIDER].trusts_redirect(account, client_id, redirect_uri):
        return redirect(request, location)
    return await render(
        request,
        "message.html",
        status=status,
        title=N_("Sign-in stopped"),
        message=message,
        details=details,
        link=location,
        link_text=N_("Return to %(origin)s", origin=origin_of(redirect_uri)),
    )


async def _pending(request: web.Request, auth_id: str | None) -> AuthRequest | None:
    if not auth_id:
        return None
    return await request.app[PROVIDER].pending(auth_id)


async def get_continue(request: web.Request) -> web.StreamResponse:
    auth = await _pending(request, request.query.get("auth"))
    if auth is None:
        return await _expired(request)
    session, account = await session_account(request)
    return await continue_authorization(request, auth, session, account)


async def _expired(request: web.Request) -> web.Response:
    return await render(
        request,
        "message.html",
        status=400,
        title=N_("This sign-in request has expired"),
        message=N_("Go back to the app and sign in again."),
    )


# --- pages ---------------------------------------------------------------------------


async def get_login(request: web.Request) -> web.StreamResponse:
    return await render(request, "login.html", title=N_("Log in"), auth=request.query.get("auth"))


async def post_login(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    session = await request.app[SESSIONS].load(request)
    check_form(request, session, form)
    auth_id = form.get("auth") or None
    try:
        account = await request.app[ACCOUNTS].log_in(
            form.get("email", ""), form.get("password", ""), attempt=await _attempt(request)
        )
    except PodError as exc:
        return await render(
            request,
            "login.html",
            status=status_of(exc),
            session=session,
            back=_with_auth(_urls(request)["login"], auth_id),
            title=N_("Log in"),
            error=(
                N_(
                    "The operator of this server has disabled this account. "
                    "Ask them to enable it again."
                )
                if isinstance(exc, AccountDisabled)
                else page_error(exc.message)
            ),
            auth=auth_id,
            email=form.get("email"),
        )
    return await _logged_in(request, session, account, auth_id)


async def _logged_in(
    request: web.Request, session: Session | None, account: Account, auth_id: str | None
) -> web.StreamResponse:
    """Start the account's session; go on with the sign-in request that led here, if any."""
    auth = await _pending(request, auth_id)
    response = redirect(request, _urls(request)["account"])
    new_session = await request.app[SESSIONS].log_in(session, response, account.id)
    if auth is None:
        return response
    auth = await request.app[PROVIDER].logged_in(auth)
    next_step = await continue_authorization(request, auth, new_session, account)
    for morsel in response.cookies.values():  # the new session cookie goes along
        next_step.cookies[morsel.key] = morsel
    return next_step


async def get_signup(request: web.Request) -> web.StreamResponse:
    return await render(request, "signup.html", title=N_("Sign up"), auth=request.query.get("auth"))


async def post_signup(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    session = await request.app[SESSIONS].load(request)
    check_form(request, session, form)
    auth_id = form.get("auth") or None
    try:
        account = await request.app[ACCOUNTS].sign_up(
            form.get("email", ""),
            form.get("password", ""),
            pod=form.get("pod") or None,
            address=client_address(request),
            reclaim=form.get("reclaim", "").strip() or None,
        )
    except PodError as exc:
        return await render(
            request,
            "signup.html",
            status=status_of(exc),
            session=session,
            back=_with_auth(_urls(request)["signup"], auth_id),
            title=N_("Sign up"),
            error=page_error(exc.message),
            auth=auth_id,
            email=form.get("email"),
            pod=form.get("pod"),
        )
    return await _logged_in(request, session, account, auth_id)


async def post_logout(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    session = await request.app[SESSIONS].load(request)
    check_form(request, session, form)
    response = redirect(request, _urls(request)["login"])
    await request.app[SESSIONS].end(session, response)
    return response


async def get_reset(request: web.Request) -> web.StreamResponse:
    """The page of a one-time password-reset link (`kluis admin reset-link`): a form for the
    new password, or why the link no longer works. Looking does not use the link up."""
    token = request.query.get("token", "")
    if await request.app[ACCOUNTS].account_of_reset(token) is None:
        return await _reset_gone(request)
    return _no_referrer(await render(request, "reset.html", title=N_("New password"), token=token))


async def post_reset(request: web.Request) -> web.StreamResponse:
    """Redeem a reset link. Whoever knew the old password may have signed apps in with it, or
    made client credentials: after a reset every session, API token, app token (access and
    refresh) and client credential of the account ends, as when the operator disables it."""
    form = await _form(request)
    session = await request.app[SESSIONS].load(request)
    check_form(request, session, form)
    token, password = form.get("token", ""), form.get("password", "")
    accounts = request.app[ACCOUNTS]
    try:
        if password != form.get("repeat", ""):
            raise BadRequest("the two passwords differ; type the same new password twice")
        account = await accounts.reset_password(token, password)
    except Unauthenticated:
        return await _reset_gone(request)
    except PodError as exc:  # a password too easy to guess: the link still works
        return _no_referrer(
            await render(
                request,
                "reset.html",
                status=status_of(exc),
                session=session,
                back=_urls(request)["reset"] + "?" + urlencode({"token": token}),
                title=N_("New password"),
                token=token,
                error=page_error(exc.message),
            )
        )
    ended = await request.app[SESSIONS].logins.end_all(account.id)
    await request.app[PROVIDER].revoke_everything(account)
    scripts = await accounts.forget_credentials(account.id, account.webids, whole=False)
    log.info(
        "password reset: account %s, %d session(s) and %d client credential(s) ended",
        account.id,
        ended,
        scripts,
    )
    return await render(
        request,
        "message.html",
        title=N_("Your password is changed"),
        message=N_(
            "Log in with your new password. Every session with the old one has ended, and so "
            "has every app's access: apps ask you to sign in again, and scripts need new "
            "client credentials."
        ),
        link=_urls(request)["login"],
        link_text=N_("Log in"),
    )


async def _reset_gone(request: web.Request) -> web.Response:
    """Why a reset link no longer works. Answered as a bad request (the link is not one the
    server can act on), not as 401: nobody is asked to authenticate here."""
    return _no_referrer(
        await render(
            request,
            "message.html",
            status=status_for(BadRequest),
            title=N_("This link no longer works"),
            message=N_(
                "A password-reset link works once, for an hour. "
                "Ask the operator of this server for a new one."
            ),
        )
    )


def _no_referrer(response: web.Response) -> web.Response:
    # The page's URL holds the token: no link or resource on it may carry it elsewhere.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _with_auth(url: str, auth_id: str | None) -> str:
    return f"{url}?{urlencode({'auth': auth_id})}" if auth_id else url


def pod_roots(request: web.Request, account: Account) -> list[str]:
    """The storage roots of `account`'s pods that exist (what its pages may name)."""
    storages = request.app[STORE].storages
    return [f"/{name}/" for name in account.pods if storages.owner(f"/{name}/")]


async def require_page_account(request: web.Request) -> tuple[Session, Account] | web.Response:
    session, account = await session_account(request)
    if session is None or account is None:
        return redirect(request, _urls(request)["login"])
    return session, account


async def page_form(
    request: web.Request,
) -> tuple[Session, Account, dict[str, str]] | web.Response:
    """A form posted from an account page: the session's account and the form, its CSRF token
    checked (Forbidden if wrong); a redirect to the log-in page without a session."""
    found = await require_page_account(request)
    if isinstance(found, web.Response):
        return found
    session, account = found
    form = await _form(request)
    check_form(request, session, form)
    return session, account, form


async def get_account(request: web.Request) -> web.StreamResponse:
    found = await require_page_account(request)
    if isinstance(found, web.Response):
        return found
    session, account = found
    return await _account_page(request, session, account, auth=request.query.get("auth"))


async def _account_page(
    request: web.Request,
    session: Session,
    account: Account,
    *,
    status: int = 200,
    **extra: Any,
) -> web.Response:
    service = request.app[ACCOUNTS]
    pods = service.pods(account)
    return await render(
        request,
        "account.html",
        status=status,
        session=session,
        account=account,
        title=N_("Your account"),
        pods=pods,
        usage=await _usage(request, pods),
        credentials=await service.credentials(account),
        apps=await request.app[PROVIDER].connected_apps(account),
        **extra,
    )


async def account_page(
    request: web.Request, session: Session, account: Account, *, status: int = 200, **extra: Any
) -> web.Response:
    """The account page, with `extra` (a `notice` or an `error`) for other modules' forms."""
    return await _account_page(request, session, account, status=status, **extra)


async def _usage(request: web.Request, pods: list[Pod]) -> dict[str, str]:
    """How much each pod holds, and of what quota, in the page's language, by pod root URL."""
    language = page_language(request)
    point = get_decimal_symbol(language)
    quotas = request.app[QUOTAS]
    shown: dict[str, str] = {}
    for pod in pods:
        used, limit = await quotas.usage(f"/{pod.name}/")
        text = (
            N_(
                "%(used)s of %(quota)s used",
                used=amount(used, point=point),
                quota=amount(limit, point=point),
            )
            if limit
            else N_("%(used)s used", used=amount(used, point=point))
        )
        shown[pod.root] = text.translate(request.app[PAGES].translations[language])
    return shown


async def _page_action(
    request: web.Request,
    action: Callable[[Session, Account, dict[str, str]], Awaitable[web.StreamResponse | None]],
) -> web.StreamResponse:
    found = await page_form(request)
    if isinstance(found, web.Response):
        return found
    session, account, form = found
    try:
        done = await action(session, account, form)
    except PodError as exc:
        account = await request.app[ACCOUNTS].require(account.id)
        return await _account_page(
            request, session, account, status=status_of(exc), error=page_error(exc.message)
        )
    return done if done is not None else redirect(request, _urls(request)["account"])


async def post_pod(request: web.Request) -> web.StreamResponse:
    async def action(
        session: Session, account: Account, form: dict[str, str]
    ) -> web.StreamResponse | None:
        await request.app[ACCOUNTS].add_pod(
            account, form.get("pod", "").strip(), reclaim=form.get("reclaim", "").strip() or None
        )
        auth = await _pending(request, form.get("auth"))
        if auth is not None:
            return await continue_authorization(request, auth, session, account)
        return None

    return await _page_action(request, action)


async def post_credential(request: web.Request) -> web.StreamResponse:
    async def action(
        session: Session, account: Account, form: dict[str, str]
    ) -> web.StreamResponse | None:
        credential, secret = await request.app[ACCOUNTS].create_credential(
            account, webid=form.get("webid", ""), name=form.get("name", "")
        )
        account = await request.app[ACCOUNTS].require(account.id)
        return await _account_page(
            request,
            session,
            account,
            secret={"client_id": credential.id, "client_secret": secret},
            notice=N_("Created credentials %(name)s.", name=repr(credential.name)),
        )

    return await _page_action(request, action)


async def post_revoke_credential(request: web.Request) -> web.StreamResponse:
    async def action(session: Session, account: Account, form: dict[str, str]) -> None:
        await request.app[PROVIDER].revoke_credential(account, request.match_info["id"])

    return await _page_action(request, action)


async def post_revoke_app(request: web.Request) -> web.StreamResponse:
    async def action(session: Session, account: Account, form: dict[str, str]) -> None:
        await request.app[PROVIDER].revoke_app(account, form.get("client_id", ""))

    return await _page_action(request, action)


async def get_consent(request: web.Request) -> web.StreamResponse:
    auth = await _pending(request, request.query.get("auth"))
    if auth is None:
        return await _expired(request)
    session, account = await session_account(request)
    if (
        session is None
        or account is None
        or request.app[PROVIDER].needs_login(auth, session.auth_time)
    ):
        return redirect(request, f"{_urls(request)['login']}?auth={auth.id}")
    return await render(
        request,
        "consent.html",
        session=session,
        account=account,
        title=N_("Allow %(app)s?", app=auth.client_name),
        pending=auth,
        webids=account.webids,
    )


async def post_consent(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    session, account = await session_account(request)
    check_form(request, session, form)
    auth = await _pending(request, form.get("auth"))
    if auth is None:
        return await _expired(request)
    provider = request.app[PROVIDER]
    # prompt=login and max_age hold here too, not only on the way to this page.
    if session is None or account is None or provider.needs_login(auth, session.auth_time):
        return redirect(request, f"{_urls(request)['login']}?auth={auth.id}")
    assert session.auth_time is not None  # needs_login is true without one
    if form.get("decision") != "allow":
        return redirect(request, await provider.deny(auth))
    try:
        # GDPR: consent is active; keeping the app connected (a refresh token, and no question
        # next time) is a separate, unticked choice, listed and revocable on the account page.
        location = await provider.approve(
            auth,
            account=account,
            webid=form.get("webid", ""),
            auth_time=session.auth_time,
            remember=form.get("remember") == "yes",
        )
    except OAuth2Error as exc:
        return await render(
            request,
            "message.html",
            status=400,
            session=session,
            account=account,
            title=N_("Cannot allow this"),
            message=page_error(str(exc.description)),
        )
    log.info(
        "consent given: account %s lets %s sign in as %s, scope %s%s",
        account.id,
        auth.client_id,
        form.get("webid", ""),
        " ".join(auth.scope),
        " (kept connected)" if form.get("remember") == "yes" else "",
    )
    return redirect(request, location)


# --- JSON API ------------------------------------------------------------------------


async def _json_body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _str(body: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} is required (a string)")
    return value


async def api_account(request: web.Request) -> Account:
    """The account whose API token the request carries. Raises Unauthenticated."""
    return await _api_account(request)


async def _api_account(request: web.Request) -> Account:
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("log in with POST /.account/api/login and send the token as Bearer")
    return await request.app[ACCOUNTS].account_of_api_token(token.strip())


def _pods_json(service: AccountService, account: Account) -> list[dict[str, str]]:
    return [{"name": p.name, "podRoot": p.root, "webId": p.webid} for p in service.pods(account)]


async def api_create_account(request: web.Request) -> web.StreamResponse:
    body = await _json_body(request)
    service = request.app[ACCOUNTS]
    account = await service.sign_up(
        _str(body, "email") or "",
        _str(body, "password") or "",
        pod=_str(body, "pod", required=False),
        address=client_address(request),
        reclaim=_str(body, "reclaim", required=False),
    )
    out: dict[str, Any] = {
        "accountId": account.id,
        "email": account.email,
        "issuer": service.issuer,
        "pods": _pods_json(service, account),
    }
    if account.pods:
        out.update(webId=account.webids[0], podRoot=service.pods(account)[0].root)
    return web.json_response(out, status=201)


async def api_login(request: web.Request) -> web.StreamResponse:
    body = await _json_body(request)
    service = request.app[ACCOUNTS]
    account = await service.log_in(
        _str(body, "email") or "",
        _str(body, "password") or "",
        attempt=LoginAttempt(address=client_address(request)),
    )
    token = await service.issue_api_token(account)
    return web.json_response({"token": token, "expiresIn": API_TOKEN_LIFETIME})


async def api_me(request: web.Request) -> web.StreamResponse:
    account = await api_account(request)
    service = request.app[ACCOUNTS]
    return web.json_response(
        {
            "accountId": account.id,
            "email": account.email,
            "issuer": service.issuer,
            "pods": _pods_json(service, account),
            "credentials": [
                {"clientId": c.id, "name": c.name, "webId": c.webid}
                for c in await service.credentials(account)
            ],
            "apps": await request.app[PROVIDER].connected_apps(account),
        }
    )


async def api_create_pod(request: web.Request) -> web.StreamResponse:
    account = await api_account(request)
    body = await _json_body(request)
    pod = await request.app[ACCOUNTS].add_pod(
        account, _str(body, "name") or "", reclaim=_str(body, "reclaim", required=False)
    )
    return web.json_response(
        {
            "name": pod.name,
            "podRoot": pod.root,
            "webId": pod.webid,
            "issuer": request.app[ACCOUNTS].issuer,
        },
        status=201,
    )


async def api_create_credential(request: web.Request) -> web.StreamResponse:
    account = await api_account(request)
    body = await _json_body(request)
    service = request.app[ACCOUNTS]
    credential, secret = await service.create_credential(
        account, webid=_str(body, "webId") or "", name=_str(body, "name") or ""
    )
    return web.json_response(
        {
            "clientId": credential.id,
            "clientSecret": secret,
            "name": credential.name,
            "webId": credential.webid,
            "issuer": service.issuer,
        },
        status=201,
    )


async def api_revoke_credential(request: web.Request) -> web.StreamResponse:
    account = await api_account(request)
    await request.app[PROVIDER].revoke_credential(account, request.match_info["id"])
    return web.Response(status=204)


async def api_revoke_app(request: web.Request) -> web.StreamResponse:
    account = await api_account(request)
    client_id = request.query.get("client_id")
    if not client_id:
        raise BadRequest("name the app with ?client_id=")
    await request.app[PROVIDER].revoke_app(account, client_id)
    return web.Response(status=204)


def add_account_routes(app: web.Application, *, base_path: str) -> None:
    loader = app[TEMPLATES].loader
    assert loader is not None, "create_app gives the page templates a loader"
    # The pages in every language, from the templates create_app chose.
    app[PAGES] = Pages(loader)
    a = base_path + ".account/"
    r = app.router
    r.add_get(a, get_account)
    r.add_get(a + "login", get_login)
    r.add_post(a + "login", post_login)
    r.add_get(a + "signup", get_signup)
    r.add_post(a + "signup", post_signup)
    r.add_post(a + "logout", post_logout)
    r.add_get(a + "reset", get_reset)
    r.add_post(a + "reset", post_reset)
    r.add_get(a + "continue", get_continue)
    r.add_get(a + "language", get_language)
    r.add_get(a + "consent", get_consent)
    r.add_post(a + "consent", post_consent)
    r.add_post(a + "pods", post_pod)
    r.add_post(a + "credentials", post_credential)
    r.add_post(a + "credentials/{id}/revoke", post_revoke_credential)
    r.add_post(a + "apps/revoke", post_revoke_app)
    r.add_post(a + "api/accounts", api_create_account)
    r.add_post(a + "api/login", api_login)
    r.add_get(a + "api/me", api_me)
    r.add_post(a + "api/pods", api_create_pod)
    r.add_post(a + "api/credentials", api_create_credential)
    r.add_delete(a + "api/credentials/{id}", api_revoke_credential)
    r.add_delete(a + "api/apps", api_revoke_app)
