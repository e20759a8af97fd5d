"""THE error -> status table, and the rendering and logging of every error response.

Domain errors (`pod.errors`) become `application/problem+json` (RFC 9457) with the status below and
the headers the status calls for (Allow, WWW-Authenticate, Accept-*, Content-Range, Retry-After).
Anything else is a bug: logged with the request id, answered 500 with no internals. Every 4xx
answer, whoever chose it, is logged once at debug level with what was wrong (`log_refusal`). A
person's browser that navigates to a pod resource gets a page instead of a problem for the
statuses in PAGES (rendered by pod.http.account.error_page); a page that shows a refusal in its
own words takes the status from here too (`status_of`, `status_for`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Final, final

from aiohttp import hdrs, web

from pod import errors
from pod.http import headers
from pod.http.i18n import N_, Text
from pod.vocab import LDP

log = logging.getLogger(__name__)

STATUS: Final[dict[type[errors.PodError], int]] = {
    errors.BadRequest: 400,
    errors.InvalidPath: 400,
    errors.InvalidRdf: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.MethodNotAllowed: 405,
    errors.NotAcceptable: 406,
    errors.RequestTimeout: 408,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.RangeNotSatisfiable: 416,
    errors.InvalidPatch: 422,
    errors.InvalidAcl: 422,
    errors.ShapeViolation: 422,
    errors.ShapeUnavailable: 422,
    errors.TooManyRequests: 429,
    errors.BackendUnavailable: 503,
    errors.QuotaExceeded: 507,
}


def status_of(error: errors.PodError) -> int:
    """The status of `error`: its class's in STATUS, or its nearest base's."""
    return status_for(type(error))


def status_for(kind: type[errors.PodError]) -> int:
    """The status of a kind of domain error, for a page that says what went wrong in its own
    words (a form shown again with the reason) but must answer as every other refusal does."""
    for cls in kind.__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 500


def problem(
    status: int,
    detail: str,
    *,
    request_id: str | None = None,
    extensions: dict[str, object] | None = None,
) -> web.Response:
    """An `application/problem+json` response; `extensions` are more members (RFC 9457 §3.2)."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": _reason(status),
        "status": status,
        "detail": detail,
    }
    if extensions:
        body.update(extensions)
    if request_id:
        body["requestId"] = request_id
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/problem+json",
    )


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def render(error: errors.PodError, *, method: str, realm: str, request_id: str) -> web.Response:
    """The response for a domain error."""
    status = status_of(error)
    extensions: dict[str, object] | None = None
    if isinstance(error, errors.ShapeViolation):
        extensions = {
            "violations": [
                {"focusNode": v.focus, "path": v.path, "message": v.message}
                for v in error.violations
            ]
        }
    response = problem(status, error.message, request_id=request_id, extensions=extensions)
    if isinstance(error, errors.RequestTimeout):
        # Connection: close. aiohttp still reads (and drops) what comes for up to its
        # lingering_time (10 s), so that the client gets to read this answer.
        response.force_close()
    elif isinstance(error, errors.MethodNotAllowed):
        response.headers["Allow"] = headers.join(error.allowed)
    elif isinstance(error, errors.NotFound) and error.allowed:
        # Solid Protocol #server-allow-methods: a missing target still says how it can be
        # created, as OPTIONS does; Comunica decides from a GET's 404 whether it may PUT.
        response.headers["Allow"] = headers.join(error.allowed)
        if "PATCH" in error.allowed:
            response.headers["Accept-Patch"] = headers.ACCEPT_PATCH
        if "PUT" in error.allowed:
            response.headers["Accept-Put"] = headers.ACCEPT_PUT
    elif isinstance(error, errors.Unauthenticated):
        challenge = f'DPoP realm="{realm}", algs="ES256 RS256 PS256 EdDSA"'
        if error.error:
            description = error.message.replace('"', "'")
            challenge += f', error="{error.error}", error_description="{description}"'
        response.headers["WWW-Authenticate"] = challenge
    elif isinstance(error, errors.UnsupportedMediaType):
        if method == "PATCH":
            response.headers["Accept-Patch"] = headers.ACCEPT_PATCH
        elif method == "POST":
            response.headers["Accept-Post"] = headers.ACCEPT_POST
        elif method == "PUT":
            response.headers["Accept-Put"] = headers.ACCEPT_PUT
    elif isinstance(error, errors.RangeNotSatisfiable):
        response.headers["Content-Range"] = f"bytes */{error.size}"
    elif isinstance(error, errors.ShapeViolation):
        # LDP 1.0 §4.2.1.6 (https://www.w3.org/TR/ldp/#ldpr-gen-pubclireqs): a request that
        # fails for violating the server's constraints links to them.
        response.headers["Link"] = headers.link(error.shape, str(LDP.constrainedBy))
    elif isinstance(error, errors.TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, errors.Gone):
        # RFC 9110 §15.5.11: 410 is heuristically cacheable, but the name comes back once its
        # hold ends (a 404, then perhaps someone's new pod).
        response.headers["Cache-Control"] = "no-store"
    return response


@final
@dataclass(frozen=True, slots=True)
class ErrorPage:
    """What a person's browser shows instead of a problem: a page template, its title and
    message, and whether it links to the log-in page."""

    template: str
    title: Text
    message: Text | None = None
    login: bool = False


# The pages for a browser's navigation to a pod resource, by status (the statuses above, so a
# page and a problem never disagree). Every other answer, and every other client, keeps its
# problem: an app fetching a resource reads JSON, whatever it accepts.
PAGES: Final[dict[int, ErrorPage]] = {
    401: ErrorPage(
        "message.html",
        N_("This is not public"),
        N_("If it is in your pod, log in and open it from My data."),
        login=True,
    ),
    403: ErrorPage(
        "message.html",
        N_("You may not see this"),
        N_("It is not shared with you. Ask its owner if you need it."),
    ),
    404: ErrorPage("message.html", N_("Not found"), N_("There is nothing at this address.")),
    410: ErrorPage("gone.html", N_("This pod was erased")),
}
# Headers of the problem the page stands in for, which say the same to a browser.
PAGE_HEADERS: Final = ("WWW-Authenticate", "Allow")


def is_navigation(request: web.Request) -> bool:
    """A person opening the URL in a browser: Fetch Metadata says so
    (https://w3c.github.io/webappsec-fetch-metadata/#sec-fetch-mode-header), or, from a browser
    that does not send it, an Accept that asks for HTML."""
    if request.method != hdrs.METH_GET:
        return False
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in request.headers.get(hdrs.ACCEPT, "")


def page_for(request: web.Request, error: errors.PodError) -> ErrorPage | None:
    """The page for `error` when the request is a navigation and its status has one."""
    if not is_navigation(request):
        return None
    return PAGES.get(status_of(error))


def render_http_exception(exc: web.HTTPException, *, request_id: str) -> web.Response:
    """aiohttp's own errors (unknown route, body too large while aiohttp read it) as problems."""
    response = problem(exc.status, exc.text or exc.reason, request_id=request_id)
    for name in ("Allow", "WWW-Authenticate", "Location"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


def log_refusal(request: web.Request, response: web.StreamResponse, *, detail: str | None) -> None:
    """One debug line for a 4xx answer: status, method, path and what was wrong.

    `detail` is the error's message; for an answer a handler made itself (an OAuth error, a page
    saying what was wrong) it is read from a JSON body, else the status's phrase stands. The
    query string is left out: it can carry a token (`id_token_hint`) or a code.
    """
    if not log.isEnabledFor(logging.DEBUG):
        return
    if detail is None:
        detail = _detail_of(response)
    # raw_path keeps the percent-encoding, so a path cannot break the line.
    path = request.rel_url.raw_path
    log.debug("%d %s %s: %s", response.status, request.method, path, detail[:_DETAIL_CHARS])


_DETAIL_CHARS: Final = 500
_JSON_TYPES: Final = frozenset({"application/json", "application/problem+json"})


def _detail_of(response: web.StreamResponse) -> str:
    body = response.body if isinstance(response, web.Response) else None
    if isinstance(body, bytes) and response.content_type in _JSON_TYPES and len(body) < 8192:
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            # problem+json (RFC 9457 §3.1), or an OAuth error (RFC 6749 §5.2)
            for key in ("detail", "error_description", "error"):
                if isinstance(answer.get(key), str):
                    return str(answer[key])
    return response.reason


def render_unexpected(exc: BaseException, *, request_id: str) -> web.Response:
    log.error("unhandled error in request %s", request_id, exc_info=exc)
    return problem(
        500, "internal server error; the request id identifies it in the log", request_id=request_id
    )
