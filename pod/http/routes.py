"""The route table: server endpoints first, then every other path is a Solid resource."""

from __future__ import annotations

from aiohttp import web

from pod.http.data_page import add_data_routes
from pod.http.disclosures_page import add_disclosures_page_routes
from pod.http.ldp import handle_resource
from pod.http.vocab import get_vocabulary
from pod.ldp.shapes import VOCAB_PATH


def add_routes(app: web.Application, *, base_path: str) -> None:
    add_disclosures_page_routes(app, base_path=base_path)  # the owner's "Who saw my data"
    # The bundled vocabulary and shapes, at a stable URL that names no resource (`.kluis`).
    app.router.add_get(base_path + VOCAB_PATH + "{name}", get_vocabulary)
    # The owner's pages of their pods (`.account/data/`), before every other path.
    add_data_routes(app, base_path=base_path)
    # [\s\S]: also match decoded newlines, so pod.paths refuses them with a clear 400.
    app.router.add_route("*", base_path + r"{tail:[\s\S]*}", handle_resource)
