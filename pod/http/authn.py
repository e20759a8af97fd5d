"""Request authentication: the Credentials of a request, verified once and kept on the request."""

from __future__ import annotations

import functools
from dataclasses import replace
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from pod.errors import BadRequest
from pod.feed import act_as
from pod.http.keys import AUTHENTICATOR, CREDENTIALS, SETTINGS
from pod.model import ANONYMOUS, Credentials
from pod.vault.grants import MAX_PURPOSES


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
    if credentials.agent is not None:
        purposes = request.headers.get(PURPOSE_HEADER)
        if purposes is not None:
            credentials = replace(credentials, purposes=purposes_of(purposes))
        act_as(credentials.agent, credentials.client_id)  # who the change feed names
    request[CREDENTIALS] = credentials
    return credentials


# The purposes a request serves, by IRI (DPV's, https://w3id.org/dpv): no standard header or
# token claim exists for it, so a header of ours, which any HTTP client can send. Grants must
# cover every purpose named (pod.vault.reader); without the header a grant's purposes are not
# narrowed further.
PURPOSE_HEADER = "Kluis-Purpose"


def purposes_of(value: str) -> frozenset[str]:
    """The purposes in a Kluis-Purpose header: comma-separated absolute http(s) IRIs. Raises
    BadRequest for anything else."""
    named = [part.strip() for part in value.split(",")]
    if not 0 < len(named) <= MAX_PURPOSES:
        raise BadRequest(f"{PURPOSE_HEADER} names one to {MAX_PURPOSES} purposes")
    for iri in named:
        parts = urlsplit(iri)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or not iri.isprintable()
            or " " in iri
        ):
            raise BadRequest(
                f"{PURPOSE_HEADER} names purposes by IRI, such as "
                f"https://w3id.org/dpv#ProvidePersonalisedRecommendations; {iri!r} is not one"
            )
    return frozenset(named)


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
