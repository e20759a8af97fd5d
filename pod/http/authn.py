"""Request authentication: the Credentials of a request, verified once and kept on the request."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import hdrs, web

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
    return credentials


def request_url(request: web.Request) -> str:
    """The URL the client addressed, built from the configured base URL (works behind a proxy)."""
    base = urlsplit(request.app[SETTINGS].base_url)
    return f"{base.scheme}://{base.netloc}{request.raw_path.split('?', 1)[0]}"
