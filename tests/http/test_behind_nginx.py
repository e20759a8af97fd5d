"""Kluis behind a real nginx (Debian's nginx-light) terminating TLS, configured by the README's
recipe ("Behind a reverse proxy"), read out of README.md with only ports, names and certificate
paths substituted. Over HTTPS through nginx: a public profile, an authenticated DPoP request
(the proof names the public https URL), rate limits keyed on the forwarded client, no origin
warning, and a WebSocket upgrade passing through.

Kluis has no WebSocket endpoint yet, so the upgrade is checked against a tiny aiohttp WebSocket
echo server standing where Kluis stood, behind the same recipe.

nginx is installed with apt when missing (we run as root, as CI does); when that is impossible the
tests are skipped, except in CI (KLUIS_CI set), where they fail.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rdflib import Graph, URIRef

from tests.support import end_process, new_ec_key, sign_proof

ROOT: Final = Path(__file__).resolve().parents[2]
PASSWORD: Final = "a long password for alice"
EMAIL: Final = "alice@example.org"
NGINX_BLOCK: Final = re.compile(r"## Behind a reverse proxy\n.*?```nginx\n(.*?)```", re.DOTALL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_nginx() -> str:
    """The nginx binary, installed with apt (nginx-light) if missing and we may."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None
    )
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "-o", "Dpkg::Use-Pty=0", "nginx-light"]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
            subprocess.run(install, env=env, capture_output=True, check=False)
        found = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None
        )
    if found is not None:
        return found
    reason = "these tests need nginx (apt-get install nginx-light)"
    if os.environ.get("KLUIS_CI"):
        pytest.fail(f"{reason}; KLUIS_CI is set, so CI must provide it", pytrace=False)
    pytest.skip(reason)


def readme_recipe() -> str:
    found = NGINX_BLOCK.search((ROOT / "README.md").read_text())
    assert found is not None, "README.md has no nginx block under 'Behind a reverse proxy'"
    return found.group(1)


def substitute(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert text.count(old) == 1, f"the README's nginx recipe no longer has {old!r} once"
        text = text.replace(old, new)
    return text


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, its own issuer, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def wait_for_port(port: int, proc: subprocess.Popen[Any], what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}: {log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not start: {log.read_text()}")


@contextmanager
def running(command: list[str], log: Path, port: int, what: str) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc, what, log)
            yield
        finally:
            end_process(proc)


@contextmanager
def nginx(directory: Path, *, port: int, upstream: int, cert: tuple[Path, Path]) -> Iterator[None]:
    """nginx in the foreground on 127.0.0.1:`port` with the README's site in front of
    127.0.0.1:`upstream`. Its own pid file, logs and temporary directories, under `directory`."""
    binary = require_nginx()
    site = substitute(
        readme_recipe(),
        {
            "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
            "server_name pod.example.org;": "server_name localhost;",
            "/etc/letsencrypt/live/pod.example.org/fullchain.pem": str(cert[0]),
            "/etc/letsencrypt/live/pod.example.org/privkey.pem": str(cert[1]),
            "http://127.0.0.1:3000;": f"http://127.0.0.1:{upstream};",
        },
    )
    directory.mkdir()
    temporary = "".join(
        f"    {kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = directory / "nginx.conf"
    config.write_text(
        "daemon off;\nworker_processes 1;\n"
        f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} info;\n"
        + ("user root;\n" if os.geteuid() == 0 else "")
        + "events { worker_connections 64; }\n"
        + f"http {{\n    access_log {directory / 'access.log'};\n{temporary}{site}}}\n"
    )
    command = [binary, "-p", str(directory), "-c", str(config), "-e", str(directory / "error.log")]
    with running(command, directory / "nginx.out", port, "nginx"):
        yield


@dataclass
class Deployment:
    base: str  # the public https URL, through nginx
    kluis_log: Path
    tls: ssl.SSLContext

    def session(self, client_address: str = "127.0.0.1") -> aiohttp.ClientSession:
        """A client connecting to nginx from `client_address` (any 127.0.0.0/8 is loopback)."""
        connector = aiohttp.TCPConnector(ssl=self.tls, local_addr=(client_address, 0))
        return aiohttp.ClientSession(connector=connector)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """`kluis serve` on loopback with the README's settings, behind the README's nginx."""
    require_nginx()
    directory = tmp_path_factory.mktemp("behind-nginx")
    cert = self_signed_certificate(directory)
    upstream, public = free_port(), free_port()
    base = f"https://localhost:{public}/"
    kluis = [
        sys.executable, "-m", "pod", "serve",
        "--host", "127.0.0.1", "--port", str(upstream), "--base-url", base,
        "--trusted-proxies", "127.0.0.1", "--data-dir", str(directory / "data"),
        "--password-cost", "10",
    ]  # fmt: skip
    log = directory / "kluis.log"
    with (
        running(kluis, log, upstream, "kluis serve"),
        nginx(directory / "nginx", port=public, upstream=upstream, cert=cert),
    ):
        yield Deployment(base, log, ssl.create_default_context(cafile=str(cert[0])))


@pytest.fixture(scope="module")
def alice(deployment: Deployment) -> dict[str, Any]:
    """Alice's account, made through nginx, with client credentials."""

    async def make() -> dict[str, Any]:
        async with deployment.session() as s:
            async with s.post(
                deployment.base + ".account/api/accounts",
                json={"email": EMAIL, "password": PASSWORD, "pod": "alice"},
            ) as r:
                assert r.status == 201, await r.text()
                account: dict[str, Any] = await r.json()
            async with s.post(
                deployment.base + ".account/api/login", json={"email": EMAIL, "password": PASSWORD}
            ) as r:
                assert r.status == 200, await r.text()
                token = (await r.json())["token"]
            async with s.post(
                deployment.base + ".account/api/credentials",
                json={"webId": account["webId"], "name": "nginx test"},
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                assert r.status in (200, 201), await r.text()
                return {**account, **(await r.json())}

    return asyncio.run(make())


async def test_a_public_profile_reads_through_nginx(
    deployment: Deployment, alice: dict[str, Any]
) -> None:
    card = deployment.base + "alice/profile/card"
    assert alice["webId"] == card + "#me"
    async with deployment.session() as s, s.get(card) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/turtle")
        graph = Graph().parse(data=await r.text(), format="turtle", publicID=card)
    # Every URL in it is the public https one: Kluis builds them from base_url.
    assert (URIRef(alice["webId"]), None, None) in graph
    assert not [
        t
        for t in graph
        if any(str(term).startswith("http://") and "127.0.0.1" in str(term) for term in t)
    ]


async def test_a_dpop_request_names_the_public_https_url(
    deployment: Deployment, alice: dict[str, Any]
) -> None:
    key = new_ec_key()
    async with deployment.session() as s:
        async with s.get(deployment.base + ".well-known/openid-configuration") as r:
            token_endpoint = (await r.json())["token_endpoint"]
        assert token_endpoint == deployment.base + ".oidc/token"
        async with s.post(
            token_endpoint,
            data={
                "grant_type": "client_credentials",
                "client_id": alice["clientId"],
                "client_secret": alice["clientSecret"],
            },
            headers={"DPoP": sign_proof(key, "POST", token_endpoint)},
        ) as r:
            assert r.status == 200, await r.text()
            token = (await r.json())["access_token"]
        note = deployment.base + "alice/notes/through-nginx"

        def auth(method: str, htu: str) -> dict[str, str]:
            return {
                "Authorization": f"DPoP {token}",
                "DPoP": sign_proof(key, method, htu, token=token),
            }

        body = '<#it> <http://purl.org/dc/terms/title> "Written through nginx" .'
        headers = {"Content-Type": "text/turtle", **auth("PUT", note)}
        async with s.put(note, data=body, headers=headers) as r:
            assert r.status == 201, await r.text()
        async with s.get(note, headers=auth("GET", note)) as r:
            assert r.status == 200
            assert "Written through nginx" in await r.text()
        # A proof naming the URL nginx forwards to, not the one the client used, is refused.
        inside = note.replace(deployment.base, "http://127.0.0.1:3000/")
        async with s.get(note, headers=auth("GET", inside)) as r:
            assert r.status == 401


async def test_rate_limits_count_the_forwarded_client(
    deployment: Deployment, alice: dict[str, Any]
) -> None:
    """nginx connects from 127.0.0.1 for everyone; the limits count each client's own address
    (from X-Forwarded-For), and an address a client writes itself changes nothing."""

    async def guess(client: str, **headers: str) -> int:
        async with (
            deployment.session(client) as s,
            s.post(
                deployment.base + ".account/api/login",
                json={"email": EMAIL, "password": "not the password"},
                headers=headers,
            ) as r,
        ):
            return r.status

    statuses = [await guess("127.0.0.2") for _ in range(5)]
    assert statuses == [401] * 5
    assert await guess("127.0.0.2") == 429
    assert await guess("127.0.0.2", **{"X-Forwarded-For": "203.0.113.7"}) == 429
    assert await guess("127.0.0.2", Forwarded="for=198.51.100.1") == 429  # nginx drops it
    assert await guess("127.0.0.3") == 401  # another client, not the proxy's shared address


async def test_another_public_host_is_warned_about_once(
    deployment: Deployment, alice: dict[str, Any]
) -> None:
    """Following the recipe, the forwarded scheme and host (https, localhost:PORT) match base_url
    and nginx is trusted: no warning. A client reaching the server by another name is one."""
    log = deployment.kluis_log
    assert "serving " + deployment.base in log.read_text()
    assert "WARNING pod.http.proxies" not in log.read_text()
    other = deployment.base.replace("localhost", "pod.other.example")
    for _ in range(2):
        async with (
            deployment.session() as s,
            s.get(deployment.base, headers={"Host": other.split("/")[2]}) as r,
        ):
            assert r.status == 200
    warnings: list[str] = []
    for _ in range(100):  # the log is written by another process
        warnings = [line for line in log.read_text().splitlines() if "WARNING" in line]
        if warnings:
            break
        await asyncio.sleep(0.05)
    assert len(warnings) == 1
    assert f"a request arrived for {other} but base_url is {deployment.base}" in warnings[0]


async def test_a_websocket_upgrade_passes_through(tmp_path: Path) -> None:
    """Against a WebSocket echo server behind the same recipe (Kluis has no WebSocket endpoint)."""
    seen: list[str] = []

    async def echo(request: web.Request) -> web.WebSocketResponse:
        seen.append(request.headers.get("X-Forwarded-Proto", ""))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/echo", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    upstream, public = free_port(), free_port()
    await web.TCPSite(runner, "127.0.0.1", upstream).start()
    cert = self_signed_certificate(tmp_path)
    tls = ssl.create_default_context(cafile=str(cert[0]))
    try:
        with nginx(tmp_path / "nginx", port=public, upstream=upstream, cert=cert):
            async with (
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as s,
                s.ws_connect(f"wss://localhost:{public}/echo") as ws,
            ):
                await ws.send_str("ping through nginx")
                assert (await ws.receive(timeout=10)).data == "ping through nginx"
    finally:
        await runner.cleanup()
    assert seen == ["https"]
