"""The vocabulary files bundled with the server (vocab/*.ttl), served read-only as Turtle, so that
clients can read the shapes a container declares (LDP 1.0 §4.2.1.6: ldp:constrainedBy names
them) and the meaning of Kluis's own terms."""

from __future__ import annotations

from typing import Final

from aiohttp import hdrs, web

from pod.errors import NotFound
from pod.http.keys import SHAPES
from pod.ldp import rdf

_CACHE_CONTROL: Final = "public, max-age=3600"


async def get_vocabulary(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    shapes = request.app[SHAPES]
    file = shapes.bundled_file(name)
    if file is None:
        raise NotFound(f"no vocabulary file {name!r} is bundled with this server")
    response = web.Response(body=file, content_type=None)
    response.headers[hdrs.CONTENT_TYPE] = rdf.TURTLE
    response.headers[hdrs.CACHE_CONTROL] = _CACHE_CONTROL
    return response
