"""Act as a WebID from a program: client credentials, DPoP-bound tokens, authenticated requests.

Run against a fresh `make serve`, with the client credentials the README's first session makes
(`kluis client create`, or "Client credentials" on the account page):

    .venv/bin/python examples/dpop_client.py http://localhost:3000/ "$CLIENT_ID" "$CLIENT_SECRET" \
        http://localhost:3000/alice/notes/hello

It gets a token from the server's token endpoint with a DPoP proof (RFC 9449), writes a Turtle
document at the last URL and prints it as read back. Keys are made with `cryptography`; proofs are
signed with joserfc. `SignedIn` is what examples/read_write_turtle.py signs in with.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import secrets
import sys
import time
from typing import Any

try:
    import aiohttp
    from cryptography.hazmat.primitives.asymmetric import ec
    from joserfc import jws
    from joserfc.jwk import ECKey
except ImportError:
    sys.exit("run this with the Python in .venv (`make serve` makes it): .venv/bin/python ...")


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


class Refused(Exception):
    """The server answered with an error; the message says what it said."""


class SignedIn:
    """An HTTP session acting as the WebID of some client credentials."""

    def __init__(self, session: aiohttp.ClientSession, token: str, dpop: DPoP) -> None:
        self.session, self.token, self.dpop = session, token, dpop

    @classmethod
    async def sign_in(
        cls, session: aiohttp.ClientSession, server: str, client_id: str, client_secret: str
    ) -> SignedIn:
        dpop = DPoP()
        discovery = server.rstrip("/") + "/.well-known/openid-configuration"
        token_endpoint = (await _json(session, "GET", discovery))["token_endpoint"]
        answer = await _json(
            session,
            "POST",
            token_endpoint,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            },
            headers={"DPoP": dpop.proof("POST", token_endpoint)},
        )
        return cls(session, answer["access_token"], dpop)

    async def request(self, method: str, url: str, **options: Any) -> str:
        """The body of a successful answer; Refused otherwise."""
        headers = {
            "Authorization": f"DPoP {self.token}",
            "DPoP": self.dpop.proof(method, url, self.token),
            **options.pop("headers", {}),
        }
        async with self.session.request(method, url, headers=headers, **options) as r:
            text = await r.text()
            if r.status >= 400:
                raise Refused(f"{method} {url} answered {r.status}: {text}")
            return text


async def _json(session: aiohttp.ClientSession, method: str, url: str, **options: Any) -> Any:
    try:
        async with session.request(method, url, **options) as r:
            if r.status >= 400:
                raise Refused(f"{method} {url} answered {r.status}: {await r.text()}")
            return await r.json()
    except aiohttp.ClientConnectionError as exc:
        raise Refused(f"cannot reach {url} ({exc}); is the server running?") from exc


def positional(argv: list[str]) -> list[str]:
    """`argv` for argparse, read as positional arguments only: a client secret is base64url and
    may begin with `-`, which argparse would take for an option. `-h` still asks for help."""
    return argv if {"-h", "--help"} & set(argv) else ["--", *argv]


async def main(server: str, client_id: str, client_secret: str, resource: str) -> str:
    async with aiohttp.ClientSession() as session:
        me = await SignedIn.sign_in(session, server, client_id, client_secret)
        body = '<#it> <http://purl.org/dc/terms/title> "Written with a DPoP-bound token" .'
        await me.request("PUT", resource, data=body, headers={"Content-Type": "text/turtle"})
        return await me.request("GET", resource, headers={"Accept": "text/turtle"})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("server", help="the server's base URL, e.g. http://localhost:3000/")
    parser.add_argument("client_id")
    parser.add_argument("client_secret")
    parser.add_argument("resource", help="URL of a document to write, in a pod the WebID owns")
    args = parser.parse_args(positional(sys.argv[1:]))
    try:
        print(asyncio.run(main(args.server, args.client_id, args.client_secret, args.resource)))
    except Refused as exc:
        sys.exit(f"dpop_client.py: {exc}")
