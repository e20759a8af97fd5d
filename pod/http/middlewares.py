"""Middlewares: request id, CORS (Solid Protocol §cors) and the error boundary.

One middleware does all three: the per-request cost matters (benchmarks/) and they are always
applied together, outermost first: CORS headers must be on error responses too.
"""

from __future__ import annotations

import itertools
import os
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from pod import errors
from pod.http import headers
from pod.http.errors import render, render_http_exception, render_unexpected
from pod.http.keys import IN_FLIGHT, REQUEST_ID, SETTINGS

_counter = itertools.count(1)
_PID: Final = f"{os.getpid():x}"
ALL_METHODS: Final = "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE"


def _request_id() -> str:
    return f"{_PID}-{next(_counter):x}"


@web.middleware
async def pod_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _request_id()
    request[REQUEST_ID] = request_id
    in_flight = request.app[IN_FLIGHT]
    in_flight.enter()
    try:
        return await _handle(request, handler, request_id)
    finally:
        in_flight.leave()


async def _handle(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if request.path.startswith(request.app[SETTINGS].base_path + ".account/"):
        # Account pages and the account API are for this server's own pages only: no CORS.
        origin = None
    if (
        request.method == "OPTIONS"
        and origin is not None
        and "Access-Control-Request-Method" in request.headers
    ):
        return _preflight(request, origin)
    try:
        response = await handler(request)
    except errors.PodError as exc:
        settings = request.app[SETTINGS]
        response = render(
            exc, method=request.method, realm=settings.base_url, request_id=request_id
        )
    except web.HTTPException as exc:
        response = render_http_exception(exc, request_id=request_id)
    except Exception as exc:
        response = render_unexpected(exc, request_id=request_id)
    _cors(response, origin)
    return response


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
