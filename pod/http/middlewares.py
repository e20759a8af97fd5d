"""Middlewares: request id (on every log line of the request, in the `X-Request-Id` header and in
error bodies), CORS (Solid Protocol §cors), content isolation, the same-origin guard for the
account pages, and the error boundary (a problem, or for a browser's navigation to a pod
resource the page pod.http.errors.PAGES names).

One middleware does them all: the per-request cost matters (benchmarks/) and they are always
applied together, outermost first: CORS and isolation headers must be on error responses too.

Content isolation: a pod holds documents anyone may write (HTML, SVG, XML...), served from the
server's own origin, where the account pages and their session cookie live. A browser must never
run such a document as a page of that origin, so every response carries
`Content-Security-Policy: sandbox`, which gives the document an opaque origin and no scripts,
forms or plugins (https://www.w3.org/TR/CSP3/#directive-sandbox), and
`X-Content-Type-Options: nosniff`, so no browser guesses HTML out of another type
(https://fetch.spec.whatwg.org/#x-content-type-options-header), whatever the media type and the
status. Only the server's own pages, which set a strict policy of their own
(pod/http/account.py `render`), keep theirs. A policy on a response that a page fetches has no
effect (CSP applies to documents), so apps on other origins use pods as before.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Coroutine, Hashable
from typing import Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from pod import errors, logs, paths
from pod.http import headers
from pod.http.account import error_page
from pod.http.authn import target_path
from pod.http.errors import (
    log_refusal,
    page_for,
    render,
    render_http_exception,
    render_unexpected,
)
from pod.http.keys import (
    AUTHORIZER,
    CREDENTIALS,
    DISCLOSURES,
    IN_FLIGHT,
    REQUEST_ID,
    SETTINGS,
    STORE,
)
from pod.http.ldp import handle_resource
from pod.http.proxies import warn_about_origin
from pod.idp.provider import origin_of
from pod.ldp import methods
from pod.model import AccessMode, Basis, Credentials
from pod.vault.disclosures import NOT_LOGGED, Asker, DisclosureLog, Fragment, fragment_of

log = logging.getLogger(__name__)
_counter = itertools.count(1)
_COUNTED: Final = frozenset({hdrs.METH_GET, hdrs.METH_HEAD})  # anonymous reads, counted
_WRITE: Final = AccessMode.WRITE
# The mode a request used, by method (pod.acl.modes asks for more where a resource is created).
_MODES: Final = {
    hdrs.METH_GET: AccessMode.READ,
    hdrs.METH_HEAD: AccessMode.READ,
    hdrs.METH_OPTIONS: AccessMode.READ,
    hdrs.METH_POST: AccessMode.APPEND,
}
_PID: Final = f"{os.getpid():x}"
_POD_APIS: Final = ".kluis/"  # under the base path: APIs about one pod, named `{storage}`
ALL_METHODS: Final = ", ".join(methods.ALL_METHODS)  # what CORS preflights may ask for
SAFE_METHODS: Final = frozenset(methods.READ_ONLY)
ISOLATION: Final = "sandbox"
# Under the base path: the account pages (session cookie + CSRF token) and the account JSON API.
# They are for this server's own pages only: no CORS, and no unsafe request from another origin.
ACCOUNT: Final = ".account/"
# Who started the request, as the browser says (https://w3c.github.io/webappsec-fetch-metadata/
# #sec-fetch-site-header): "none" is the user (address bar, bookmark); "same-site" is not enough,
# it includes another port and a sibling host.
_OWN_SITES: Final = frozenset({"same-origin", "none"})


def _request_id() -> str:
    """A new id, ours alone: an `X-Request-Id` a client sends is not used, since it could name
    another request's lines or forge lines of its own."""
    return f"{_PID}-{next(_counter):x}"


@web.middleware
async def pod_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _request_id()
    request[REQUEST_ID] = request_id
    # aiohttp runs each request in a task of its own, with a copy of the context, so the id is
    # not reset here: it stays on the lines logged after the handler (the access log line,
    # aiohttp's own errors) and never reaches another request's.
    logs.REQUEST_ID.set(request_id)
    app = request.app  # a property of a property: asked once
    in_flight = app[IN_FLIGHT]
    in_flight.enter()
    try:
        return await _handle(request, handler, request_id, app)
    finally:
        in_flight.leave()


async def _handle(
    request: web.Request, handler: Handler, request_id: str, app: web.Application
) -> web.StreamResponse:
    settings = app[SETTINGS]
    warn_about_origin(request, app)
    origin = request.headers.get("Origin")
    is_account = request.path.startswith(settings.base_path + ACCOUNT)
    if is_account:
        origin = None
    response: web.StreamResponse
    refusal: str | None = None
    if (
        request.method == "OPTIONS"
        and origin is not None
        and "Access-Control-Request-Method" in request.headers
    ):
        response = _preflight(request, origin)
    else:
        try:
            if is_account and request.method not in SAFE_METHODS:
                _require_same_origin(request, settings.base_url)
            response = await handler(request)
        except errors.PodError as exc:
            refusal = exc.message
            response = render(
                exc, method=request.method, realm=settings.base_url, request_id=request_id
            )
            # A person's browser that navigated to a pod resource gets a page saying the same.
            if request.match_info.handler is handle_resource:
                page = page_for(request, exc)
                if page is not None:
                    response = await error_page(request, exc, page, problem=response)
        except web.HTTPException as exc:
            refusal = exc.text or exc.reason
            response = render_http_exception(exc, request_id=request_id)
        except Exception as exc:
            response = render_unexpected(exc, request_id=request_id)
        _cors(response, origin)
    _isolate(response)
    response.headers["X-Request-Id"] = request_id
    if 400 <= response.status < 500:
        log_refusal(request, response, detail=refusal)
    disclosures = app[DISCLOSURES]
    if disclosures is not None:
        if request.match_info.handler is handle_resource:
            asking = _disclose(request, response.status, request_id, disclosures)
            if asking is not None:
                await asking
        elif "storage" in request.match_info and request.path.startswith(
            settings.base_path + _POD_APIS
        ):
            _disclose_api(request, response.status, request_id, disclosures)
    return response


def _disclose(
    request: web.Request, status: int, request_id: str, disclosures: DisclosureLog
) -> Coroutine[None, None, None] | None:
    """Record a request to a pod in its owner's access log (pod.vault.disclosures), before its
    response is returned, so no answered request lacks its record even after a kill -9.

    Here, because only here is every final status known: a kept answer (pod.http.answers) never
    reaches the authorizer. Anonymous reads are only counted. The basis (what allowed it) is
    asked only of requests that are recorded: an identified agent other than the owner, and
    only the first time (then the caller awaits what this returns); a request seen before is
    recorded with no coroutine made or awaited."""
    credentials = request.get(CREDENTIALS)
    if credentials is None or credentials.agent is None:
        if (
            status < 400
            and request.method in _COUNTED
            and hdrs.AUTHORIZATION not in request.headers
        ):
            disclosures.count(target_path(request))
        return None
    method = request.method
    # A refusal has no basis: its key names no mode.
    mode = _MODES.get(method, _WRITE) if status < 400 else None
    c = credentials
    # Keyed by the raw target, query and all: a request seen before needs no parsing and no
    # storage look-up (what they find changes only through announced writes, which empty the
    # cache); the cache is bounded however many targets name one resource.
    key = (request.raw_path, c.agent, c.client_id, c.origin, c.purposes, mode)
    fragment = disclosures.known(key)
    if fragment is None:
        return _ask_and_record(request, credentials, key, mode, status, request_id, disclosures)
    if fragment is not NOT_LOGGED:  # `_record`, inline on the path every record takes
        try:
            disclosures.record(fragment, request_id, method, status)
        except OSError:
            log.exception("the access log could not be written")
    return None


async def _ask_and_record(
    request: web.Request,
    credentials: Credentials,
    key: tuple[Hashable, ...],
    mode: AccessMode | None,
    status: int,
    request_id: str,
    disclosures: DisclosureLog,
) -> None:
    fragment = await _asked(request, credentials, key, mode, disclosures)
    _record(disclosures, fragment, request_id, request.method, status)


def _record(
    disclosures: DisclosureLog, fragment: Fragment, request_id: str, method: str, status: int
) -> None:
    if fragment is NOT_LOGGED:
        return
    try:
        disclosures.record(fragment, request_id, method, status)
    except OSError:
        log.exception("the access log could not be written")


def _disclose_api(
    request: web.Request, status: int, request_id: str, disclosures: DisclosureLog
) -> None:
    """Record a call by an identified agent other than the owner to an API about one pod (the
    vault's `.kluis/consent/<pod>/…`, the access log's `.kluis/disclosures/<pod>/…`): asking for
    access, reading a request's status, probing another's log. Nothing allows these by a
    rule, so a record has no basis; they are rare, so nothing is kept between them."""
    credentials = request.get(CREDENTIALS)
    if credentials is None or credentials.agent is None:
        return
    root = paths.ROOT + request.match_info["storage"]
    owner = request.app[STORE].storages.owner(root)
    if owner is None or owner == credentials.agent:
        return
    asker = Asker(
        root=root,
        agent=credentials.agent,
        client=credentials.client_id,
        origin=credentials.origin,
        path=paths.ROOT + request.path[len(disclosures.base_path) :],
        purposes=tuple(sorted(credentials.purposes)),
    )
    _record(disclosures, fragment_of(asker), request_id, request.method, status)


async def _asked(
    request: web.Request,
    credentials: Credentials,
    key: tuple[Hashable, ...],
    mode: AccessMode | None,
    disclosures: DisclosureLog,
) -> Fragment:
    """The repeating part of the records of requests like this one (`NOT_LOGGED`: the owner's,
    or outside any pod), asking the authorizer what allowed it."""
    epoch = disclosures.epoch
    app = request.app
    try:
        path = paths.parse_url_path(target_path(request), disclosures.base_path)
    except errors.PodError:
        return disclosures.remember(key, None, epoch)
    storages = app[STORE].storages
    root = storages.root_of(path)
    if root is None or credentials.agent is None or storages.owner(root) == credentials.agent:
        return disclosures.remember(key, None, epoch)
    found: tuple[Basis, ...] = ()
    if mode is not None:
        try:
            authorizer = app[AUTHORIZER]
            found = await authorizer.basis(credentials, path, mode)
            if not found and request.method == hdrs.METH_PATCH:  # an insert-only patch: Append
                found = await authorizer.basis(credentials, path, AccessMode.APPEND)
        except errors.PodError as exc:  # a group that cannot be fetched now, say
            log.warning("what allowed %s %s is unknown: %s", request.method, path, exc)
    asker = Asker(
        root=root,
        agent=credentials.agent,
        client=credentials.client_id,
        origin=credentials.origin,
        path=path,
        purposes=tuple(sorted(credentials.purposes)),
        basis=found,
    )
    return disclosures.remember(key, asker, epoch)


def _isolate(response: web.StreamResponse) -> None:
    """No response runs as a page of this origin, unless it set its own policy (module doc)."""
    h = response.headers
    h["X-Content-Type-Options"] = "nosniff"
    h.setdefault("Content-Security-Policy", ISOLATION)


def _require_same_origin(request: web.Request, base_url: str) -> None:
    """Refuse an unsafe request that a browser sent on behalf of another origin.

    The account pages act with the session cookie, which a browser attaches to requests that
    other pages start: a form or a fetch from a sibling site (SameSite=Lax lets same-site requests
    through), or from a sandboxed document (`Origin: null`). Their CSRF token is one defence; this
    is the other, and it holds even if the token leaks. Browsers send `Sec-Fetch-Site`, which page
    script cannot forge; without it, `Origin` must be this server's own (browsers send it with
    every POST: https://fetch.spec.whatwg.org/#origin-header). A request with neither header (the
    `kluis` CLI, curl, a server-side app) does not come from a browser page, so it carries no one
    else's cookie.

    Only `.account/` is guarded. The identity provider's cookie-reading endpoints are reached from
    apps on other origins by design: authorization requests (OpenID Connect Core 1.0 §3.1.2.1,
    GET and POST) and RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2, GET and
    POST) are cross-site navigations, and what they can do with the session is bounded by the
    protocol (registered redirect URIs, consent on our page with a CSRF token, PKCE), not by
    where the request came from.

    Raises Forbidden.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if not is_from_own_origin(fetch_site=fetch_site, origin=origin, own_origin=origin_of(base_url)):
        said = f"Sec-Fetch-Site: {fetch_site}" if fetch_site is not None else f"Origin: {origin}"
        raise errors.Forbidden(
            f"this request came from a page of another origin ({said[:120]}); "
            "the account pages accept changes only from their own pages"
        )


def is_from_own_origin(*, fetch_site: str | None, origin: str | None, own_origin: str) -> bool:
    """Whether a request was sent by one of this server's own pages, or by no page at all.

    `Sec-Fetch-Site` decides when present (a browser sets it and no script can); otherwise a
    present `Origin` must be `own_origin` exactly, so `null` (a sandboxed or privacy-sensitive
    context) is refused.
    """
    if fetch_site is not None:
        return fetch_site.strip().lower() in _OWN_SITES
    return origin is None or origin == own_origin


def _cors(response: web.StreamResponse, origin: str | None) -> None:
    """Solid Protocol #server-cors: echo the Origin, allow credentials, expose our headers."""
    if origin is None:
        return
    h = response.headers
    h["Access-Control-Allow-Origin"] = origin
    h["Access-Control-Allow-Credentials"] = "true"
    h["Access-Control-Expose-Headers"] = headers.CORS_EXPOSE
    vary = h.get("Vary")
    h["Vary"] = "Origin" if not vary else vary if "Origin" in vary else vary + ", Origin"


def _preflight(request: web.Request, origin: str) -> web.Response:
    """Solid Protocol #server-cors-options: 204, no authentication, echo method and headers."""
    requested_headers = request.headers.get("Access-Control-Request-Headers", "")
    allow_headers = ", ".join(
        h for h in ["Accept", *(x.strip() for x in requested_headers.split(",")[:64])] if h
    )
    response = web.Response(status=204)
    h = response.headers
    h["Access-Control-Allow-Origin"] = origin
    h["Access-Control-Allow-Credentials"] = "true"
    h["Access-Control-Allow-Methods"] = ALL_METHODS
    h["Access-Control-Allow-Headers"] = allow_headers
    h["Access-Control-Expose-Headers"] = headers.CORS_EXPOSE
    h["Access-Control-Max-Age"] = "1728000"
    h["Vary"] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    return response
