"""The baseline server: bare aiohttp answering from memory, with no Solid work at all.

GET answers the bytes registered for its path (404 otherwise); any other method reads the body
and answers 201 (PUT) or 204. Access log off, like Kluis under benchmark. It runs on uvloop when
that is installed (a dependency of Kluis), as the ceiling should be the fastest loop aiohttp can
use; `--loop asyncio` keeps the standard one.

    python -m benchmarks.bare --port 8080 --body /a=text/turtle=doc.ttl --body /b=...
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

# The baseline is a plain aiohttp app on purpose: it is the ceiling Kluis is compared with.
from aiohttp import web


def make_app(bodies: dict[str, tuple[str, bytes]]) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            found = bodies.get(request.path)
            if found is None:
                raise web.HTTPNotFound()
            content_type, body = found
            return web.Response(body=body, headers={"Content-Type": content_type})
        await request.read()
        return web.Response(status=201 if request.method == "PUT" else 204)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def new_loop(choice: str) -> asyncio.AbstractEventLoop:
    """A uvloop loop if `choice` is "auto" or "uvloop" and uvloop imports, else asyncio's."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--body",
        action="append",
        default=[],
        metavar="PATH=TYPE=FILE",
        help="answer GET PATH with the bytes of FILE as TYPE (repeatable)",
    )
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    args = parser.parse_args()
    bodies: dict[str, tuple[str, bytes]] = {}
    for spec in args.body:
        path, content_type, file = spec.split("=", 2)
        bodies[path] = (content_type, Path(file).read_bytes())
    loop = new_loop(args.loop)
    web.run_app(
        make_app(bodies),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=loop,
    )


if __name__ == "__main__":
    main()
