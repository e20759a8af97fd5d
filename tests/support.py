"""Test support: a real OpenID issuer over HTTP, agents holding DPoP keys, an authenticated client.

Keys are made with `cryptography` and tokens signed with joserfc, so the server's real verification
path runs in every test; nothing of Kluis is mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client import ClientResponse
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jws, jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey, thumbprint
from yarl import URL

from pod.auth.dpop import access_token_hash
from pod.model import Metadata
from pod.storage.base import Backend

BASE_URL: Final = "http://pod.example/"
CLIENT_ID: Final = "https://app.example/client#id"


def new_ec_key() -> ECKey:
    """A fresh P-256 key pair, made by `cryptography`."""
    return ECKey.import_key(ec.generate_private_key(ec.SECP256R1()))


def new_ed25519_key() -> OKPKey:
    return OKPKey.import_key(ed25519.Ed25519PrivateKey.generate())


_RSA_KEYS: dict[int, RSAKey] = {}


# The RSA keys and algorithms Kluis takes in DPoP proofs and access tokens: (bits, alg).
RSA_CASES = [
    pytest.param(bits, alg, id=f"{alg}-{bits}")
    for bits in (2048, 4096)
    for alg in ("RS256", "PS256")
]


def rsa_key(bits: int) -> RSAKey:
    """An RSA key pair of `bits` bits, made by `cryptography` once per test process (a 4096-bit
    one takes a second to make)."""
    if bits not in _RSA_KEYS:
        _RSA_KEYS[bits] = RSAKey.import_key(rsa.generate_private_key(65537, bits))
    return _RSA_KEYS[bits]


class TestIssuer:
    """An OpenID issuer with discovery, a JWKS and WebID profiles, served over real HTTP."""

    __test__ = False  # not a pytest test class

    def __init__(self, *, key: Any = None, alg: str = "ES256") -> None:
        """`key` (a P-256 key unless given) signs the tokens, with `alg`."""
        self.key = key or new_ec_key()
        self.alg = alg
        self.kid = secrets.token_hex(8)
        self.url = ""  # set once the server runs
        self.profile_extra: dict[str, str] = {}  # name -> extra Turtle for that profile
        self.profile_status: dict[str, int] = {}
        self.requests: list[str] = []
        self.groups: dict[str, str] = {}  # name -> Turtle of the group document

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_get("/people/{name}", self._profile)
        app.router.add_get("/groups/{name}", self._group)
        return app

    async def _group(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        body = self.groups.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body.encode(), content_type="text/turtle")

    async def _discovery(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        return web.json_response({"issuer": self.url, "jwks_uri": self.url + "/jwks"})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        public = self.key.as_dict(private=False)
        public["kid"] = self.kid
        public["alg"] = self.alg
        return web.json_response({"keys": [public]})

    async def _profile(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.requests.append(request.path)
        status = self.profile_status.get(name, 200)
        body = f"""@prefix solid: <http://www.w3.org/ns/solid/terms#> .
<#me> a <http://xmlns.com/foaf/0.1/Person> ; solid:oidcIssuer <{self.url}> .
{self.profile_extra.get(name, "")}
"""
        return web.Response(status=status, body=body.encode(), content_type="text/turtle")

    def webid(self, name: str) -> str:
        return f"{self.url}/people/{name}#me"

    def mint(
        self,
        *,
        webid: str,
        jkt: str | None,
        client_id: str | None = CLIENT_ID,
        lifetime: float = 300,
        issued: float | None = None,
        audience: Any = None,
        issuer: str | None = None,
        key: Any = None,
        alg: str | None = None,
        kid: str | None = None,
        **extra: Any,
    ) -> str:
        alg = alg or self.alg
        now = time.time() if issued is None else issued
        claims: dict[str, Any] = {
            "iss": issuer or self.url,
            "aud": ["solid", client_id] if audience is None else audience,
            "webid": webid,
            "iat": int(now),
            "exp": int(now + lifetime),
            "jti": secrets.token_hex(8),
            **extra,
        }
        if client_id is not None:
            claims["client_id"] = client_id
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        header = {"alg": alg, "typ": "at+jwt", "kid": kid or self.kid}
        return jwt.encode(header, claims, key or self.key, algorithms=[alg])


class Agent:
    """Someone with a WebID, a DPoP key and an access token from an issuer."""

    def __init__(
        self, issuer: TestIssuer, name: str, *, key: Any = None, alg: str | None = None
    ) -> None:
        """`key` (a P-256 key unless given) signs the proofs, with `alg` (EdDSA for an OKP key,
        else ES256, unless given)."""
        self.issuer = issuer
        self.name = name
        self.webid = issuer.webid(name)
        self.dpop_key = key or new_ec_key()
        self.alg = alg or ("EdDSA" if isinstance(self.dpop_key, OKPKey) else "ES256")
        self.jkt = thumbprint(self.dpop_key.as_dict(private=False))
        self.token = issuer.mint(webid=self.webid, jkt=self.jkt)

    def proof(self, method: str, url: str, **options: Any) -> str:
        options.setdefault("token", self.token)
        options.setdefault("alg", self.alg)
        return sign_proof(self.dpop_key, method, url, **options)

    def headers(self, method: str, url: str) -> dict[str, str]:
        return {"Authorization": f"DPoP {self.token}", "DPoP": self.proof(method, url)}


def sign_proof(
    dpop_key: Any,
    method: str,
    url: str,
    *,
    token: str | None = None,
    iat: float | None = None,
    jti: str | None = None,
    typ: str = "dpop+jwt",
    key: Any = None,
    alg: str = "ES256",
    jwk: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A DPoP proof by `dpop_key` (or by `key`, to forge one) for a request; `ath` if `token`."""
    payload: dict[str, Any] = {
        "htm": method,
        "htu": url,
        "iat": int(time.time() if iat is None else iat),
        "jti": jti or secrets.token_hex(12),
        **claims,
    }
    if token is not None:
        payload["ath"] = access_token_hash(token)
    header = {
        "typ": typ,
        "alg": alg,
        "jwk": jwk if jwk is not None else dpop_key.as_dict(private=False),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # EdDSA is the name clients use
        return jws.serialize_compact(
            header, json.dumps(payload).encode(), key or dpop_key, algorithms=[alg]
        )


def absolute(path: str | URL) -> str:
    """The URL the server sees for a test path (without the query), for the proof's htu."""
    raw = str(path) if isinstance(path, URL) else path
    if raw.startswith(("http://", "https://")):  # an absolute-form target (RFC 9112 §3.2.2)
        return raw.split("?", 1)[0]
    return BASE_URL.rstrip("/") + raw.split("?", 1)[0]


_DEFAULT: Final[Any] = object()


class PodClient:
    """aiohttp's TestClient, signing each request as `agent` (None: anonymous) unless told
    otherwise with `as_agent=`."""

    def __init__(self, client: TestClient[web.Request, web.Application], agent: Agent | None):
        self.client = client
        self.agent = agent

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def request(
        self,
        method: str,
        path: str | URL,
        *,
        as_agent: Agent | None = _DEFAULT,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> ClientResponse:
        agent = self.agent if as_agent is _DEFAULT else as_agent
        all_headers = dict(headers or {})
        if agent is not None and "Authorization" not in all_headers:
            all_headers.update(agent.headers(method, absolute(path)))
        return await self.client.request(method, path, headers=all_headers, **kwargs)

    async def get(self, path: str | URL, **kwargs: Any) -> ClientResponse:
        return await self.request("GET", path, **kwargs)

    async def head(self, path: str | URL, **kwargs: Any) -> ClientResponse:
        return await self.request("HEAD", path, **kwargs)

    async def options(self, path: str | URL, **kwargs: Any) -> ClientResponse:
        return await self.request("OPTIONS", path, **kwargs)

    async def put(self, path: str | URL, **kwargs: Any) -> ClientResponse:
        return await self.request("PUT", path, **kwargs)

    async def post(self, path: str | URL, **kwargs: Any) -> ClientResponse:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str | URL, **kwargs: Any) -> ClientResponse:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str | URL, **kwargs: Any) -> ClientResponse:
        return await self.request("DELETE", path, **kwargs)


async def send_partly(
    client: PodClient,
    method: str,
    path: str,
    *,
    declared: int,
    sent: bytes,
    headers: dict[str, str],
    wait: float,
) -> bytes:
    """Send a request announcing a `declared`-byte body, send only `sent` of it, and return the
    server's whole answer (head and body), waiting at most `wait` seconds for it."""
    host, port = client.server.host, client.server.port
    reader, writer = await asyncio.open_connection(host, port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {declared}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
    await writer.drain()
    try:
        async with asyncio.timeout(wait):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            return head + await reader.readexactly(length)
    finally:
        writer.close()


async def make_public(client: PodClient, owner: Agent, path: str) -> None:
    """Give `path` public Read through its own ACL, keeping `owner` in control (a WebID profile
    is public: Solid-OIDC §webid-document)."""
    target = BASE_URL.rstrip("/") + path
    acl = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#o> a acl:Authorization; acl:agent <{owner.webid}>; acl:accessTo <{target}>;
  acl:mode acl:Read, acl:Write, acl:Control .
<#p> a acl:Authorization; acl:agentClass <http://xmlns.com/foaf/0.1/Agent>;
  acl:accessTo <{target}>; acl:mode acl:Read ."""
    r = await client.put(path + ".acl", data=acl, headers={"Content-Type": "text/turtle"})
    assert r.status in (201, 204), await r.text()


OPEN_ACL: Final = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<#anyone> a acl:Authorization ; acl:agentClass foaf:Agent ;
  acl:accessTo <./> ; acl:default <./> ;
  acl:mode acl:Read, acl:Write, acl:Control .
"""


def seed_open_storage(data_dir: Path, name: str) -> None:
    """Place, as an owner could by hand, a storage /name/ that anyone may read and write."""
    root = data_dir / name
    root.mkdir(parents=True, exist_ok=True)
    (root / ".kluis~self.json").write_text(json.dumps({"storage": "true"}))
    (root / ".acl").write_text(OPEN_ACL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def kluis_process(port: int, log: Path, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """`kluis serve` on 127.0.0.1:`port` in a process of its own, its log (standard error) going
    to the file `log`; killed on the way out unless it stopped already."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pod",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *options,
            ],
            cwd=Path(__file__).parents[1],
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def wait_until_serving(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}")
            try:
                async with session.get(url) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("server did not start")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server as an operator does (SIGTERM), so that its log is complete."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def end_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a helper process (nginx, a server under test): SIGTERM, then SIGKILL after 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Traced:
    """A real backend, with every call it gets written down as (method, path)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    async def stat(self, path: str) -> Metadata | None:
        self.calls.append(("stat", path))
        return await self.inner.stat(path)

    async def read(
        self, path: str, *, start: int = 0, end: int | None = None
    ) -> tuple[Metadata, bytes]:
        self.calls.append(("read", path))
        return await self.inner.read(path, start=start, end=end)

    async def write(
        self, path: str, data: bytes, *, content_type: str, create_only: bool = False
    ) -> Metadata:
        self.calls.append(("write", path))
        return await self.inner.write(
            path, data, content_type=content_type, create_only=create_only
        )

    async def delete(self, path: str) -> None:
        self.calls.append(("delete", path))
        await self.inner.delete(path)

    async def children(self, path: str) -> list[Metadata]:
        self.calls.append(("children", path))
        return await self.inner.children(path)

    async def set_attrs(self, path: str, attrs: dict[str, str]) -> Metadata:
        self.calls.append(("set_attrs", path))
        return await self.inner.set_attrs(path, attrs)

    async def close(self) -> None:
        await self.inner.close()
