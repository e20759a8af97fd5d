"""The route table: server endpoints first, then every other path is a Solid resource."""

from __future__ import annotations

from aiohttp import web

from pod.http.ldp import handle_resource


def add_routes(app: web.Application, *, base_path: str) -> None:
    # [\s\S]: also match decoded newlines, so pod.paths refuses them with a clear 400.
    app.router.add_route("*", base_path + r"{tail:[\s\S]*}", handle_resource)
