"""The route table: server endpoints first, then every other path is a Solid resource."""

from __future__ import annotations

from aiohttp import web

from pod.http.admin_api import METHODS, not_found
from pod.http.data_page import add_data_routes
from pod.http.disclosures_page import add_disclosures_page_routes
from pod.http.ldp import handle_resource
from pod.http.vocab import get_vocabulary
from pod.ldp.shapes import VOCAB_PATH


async def unknown_account_path(request: web.Request) -> web.StreamResponse:
    """No page or API is at this path under `.account/` (a name no resource may take)."""
    raise not_found(request)


def add_routes(app: web.Application, *, base_path: str) -> None:
    add_disclosures_page_routes(app, base_path=base_path)  # the owner's "Who saw my data"
    # The bundled vocabulary and shapes, at a stable URL that names no resource (`.kluis`).
    app.router.add_get(base_path + VOCAB_PATH + "{name}", get_vocabulary)
    # The owner's pages of their pods (`.account/data/`), before every other path.
    add_data_routes(app, base_path=base_path)
    # Added last, after every page and API: the admin routes answer an unknown path's 404
    # without their token (pod.http.admin_api), so an unknown path must answer just that.
    for method in METHODS:
        app.router.add_route(method, base_path + r".account/{tail:[\s\S]*}", unknown_account_path)
    # [\s\S]: also match decoded newlines, so pod.paths refuses them with a clear 400.
    app.router.add_route("*", base_path + r"{tail:[\s\S]*}", handle_resource)
