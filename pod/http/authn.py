"""Request authentication: the Credentials of a request, verified once and kept on the request."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from pod.feed import act_as
from pod.http.keys import AUTHENTICATOR, CREDENTIALS, SETTINGS
from pod.model import ANONYMOUS, Credentials


async def credentials_of(request: web.Request) -> Credentials:
    """Who is asking. Raises Unauthenticated when presented credentials do not verify."""
    known: Credentials | None = request.get(CREDENTIALS)
    if known is not None:
        return known
    authorization = request.headers.get(hdrs.AUTHORIZATION)
    origin = request.headers.get(hdrs.ORIGIN)
    if authorization is not None:
        credentials = await request.app[AUTHENTICATOR].authenticate(
            authorization=authorization,
            dpop=request.headers.get("DPoP"),
            method=request.method,
            url=request_url(request),
            origin=origin,
        )
    elif origin is not None:
        credentials = Credentials(origin=origin)
    else:
        credentials = ANONYMOUS
    request[CREDENTIALS] = credentials
    if credentials.agent is not None:
        act_as(credentials.agent, credentials.client_id)  # who the change feed names
    return credentials


def request_url(request: web.Request) -> str:
    """The URL the client addressed, built from the configured base URL (works behind a proxy)."""
    return _origin(request.app[SETTINGS].base_url) + target_path(request)


@functools.lru_cache(maxsize=16)
def _origin(base_url: str) -> str:
    base = urlsplit(base_url)
    return f"{base.scheme}://{base.netloc}"


def target_path(request: web.Request) -> str:
    """The still-encoded path of the request target, without the query.

    RFC 9112 §3.2.2: a server must accept the absolute form (`GET http://host/path`) as well as
    the origin form (`GET /path`); only the path counts, the configured base URL names the host.
    """
    target = request.raw_path
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        target = "/" if slash < 0 else rest[slash:]
    return target.split("?", 1)[0]
