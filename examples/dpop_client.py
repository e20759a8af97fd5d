"""Act as a WebID from a program: client credentials, DPoP-bound tokens, authenticated requests.

Run: python examples/dpop_client.py SERVER CLIENT_ID CLIENT_SECRET RESOURCE_URL
(create the credentials with `kluis client create` or on the account page). It gets a token
from the server's token endpoint with a DPoP proof, writes a Turtle document at RESOURCE_URL and
reads it back. Keys are made with `cryptography`; proofs are signed with joserfc.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import sys
import time
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.jwk import ECKey


class DPoP:
    """One key pair for the whole session; a fresh proof for every request (RFC 9449)."""

    def __init__(self) -> None:
        self.key = ECKey.import_key(ec.generate_private_key(ec.SECP256R1()))

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        claims: dict[str, Any] = {
            "htm": method,
            "htu": url.split("?", 1)[0].split("#", 1)[0],
            "iat": int(time.time()),
            "jti": secrets.token_hex(16),
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode()).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        return jws.serialize_compact(header, json.dumps(claims).encode(), self.key)


async def main(server: str, client_id: str, client_secret: str, resource: str) -> str:
    dpop = DPoP()
    async with aiohttp.ClientSession() as session:
        async with session.get(server.rstrip("/") + "/.well-known/openid-configuration") as r:
            token_endpoint = (await r.json())["token_endpoint"]
        async with session.post(
            token_endpoint,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            },
            headers={"DPoP": dpop.proof("POST", token_endpoint)},
        ) as r:
            r.raise_for_status()
            token = (await r.json())["access_token"]

        def auth(method: str, url: str) -> dict[str, str]:
            return {"Authorization": f"DPoP {token}", "DPoP": dpop.proof(method, url, token)}

        body = '<#it> <http://purl.org/dc/terms/title> "Written with a DPoP-bound token" .'
        async with session.put(
            resource, data=body, headers={"Content-Type": "text/turtle", **auth("PUT", resource)}
        ) as r:
            r.raise_for_status()
        async with session.get(resource, headers=auth("GET", resource)) as r:
            r.raise_for_status()
            return await r.text()


if __name__ == "__main__":
    print(asyncio.run(main(*sys.argv[1:5])))
