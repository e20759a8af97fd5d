"""Client ID Documents: what anyone naming them at the authorization endpoint leaves behind."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from pod.http.keys import PROVIDER
from tests.idp.conftest import Kluis


async def test_client_documents_are_kept_by_size(kluis: Kluis, aiohttp_server: Any) -> None:
    """Each authorization request naming a new Client ID Document kept that document (1,000 of
    them, each up to the Fetcher's 512 KB); they are now counted by size (issue 10, item 10)."""
    base: dict[str, str] = {}

    async def document(request: web.Request) -> web.Response:
        client_id = base["url"] + request.path
        padding = [f"{client_id}/cb/{n}/" + "r" * 1000 for n in range(20)]
        return web.json_response(
            {
                "client_id": client_id,
                "redirect_uris": [client_id + "/cb", *padding],
                "token_endpoint_auth_method": "none",
            }
        )

    apps = web.Application()
    apps.router.add_get("/{name}", document)
    server = await aiohttp_server(apps)
    base["url"] = str(server.make_url("")).rstrip("/")
    documents = kluis.app[PROVIDER].clients._documents
    before = documents.bytes
    async with aiohttp.ClientSession() as session:
        for n in range(20):
            client_id = f"{base['url']}/app{n}"
            params = {
                "client_id": client_id,
                "redirect_uri": client_id + "/cb",
                "response_type": "code",
                "scope": "openid",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            }
            async with session.get(
                kluis.url(".oidc/auth"), params=params, allow_redirects=False
            ) as r:
                assert r.status == 303, await r.text()
    assert documents.bytes - before >= 20 * 20 * 1000
    assert documents.bytes <= documents.max_bytes
