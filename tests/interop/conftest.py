"""Fixtures for the interoperability tests: JavaScript Solid clients from the npm registry,
run by Node.js against a real Kluis process.

The packages are pinned in package.json / package-lock.json (beside this file) and installed with
`npm ci` when node_modules is missing or older than the lock file. Without Node.js these tests are
skipped, except under CI (KLUIS_CI set), where they fail. The `browser` fixture is Debian's
Chromium under Playwright, for the clients that run in a web page.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from joserfc.jwk import ECKey
from playwright.async_api import ConsoleMessage, Request, Response
from playwright.async_api import Page as PlaywrightPage

from tests.idp.browsing import SCREENSHOTS, chromium_page
from tests.support import end_process, free_port, new_ec_key, sign_proof
from tests.support import wait_until_serving as wait_up

HERE: Final = Path(__file__).parent
ROOT: Final = HERE.parents[1]
PASSWORD: Final = "correct horse battery"
NPM_CI_TIMEOUT: Final = 600.0
NODE_TIMEOUT: Final = 120.0


def tool(name: str) -> str:
    """The path of `name`; skip without it, or fail under CI, which must run this test."""
    found = shutil.which(name)
    if found is not None:
        return found
    reason = f"{name} is not installed: the Inrupt interoperability test needs Node.js and npm"
    if os.environ.get("KLUIS_CI"):
        pytest.fail(f"{reason} (KLUIS_CI is set, so it must run)")
    pytest.skip(reason)


def _installed() -> bool:
    """node_modules is there and npm installed it from the current lock file."""
    marker = HERE / "node_modules" / ".package-lock.json"  # npm's record of what it installed
    lock = HERE / "package-lock.json"
    return marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime


@contextmanager
def _file_lock(name: str) -> Iterator[None]:
    """An exclusive lock between processes (pytest-xdist workers), held while inside."""
    digest = hashlib.sha256(str(HERE).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"kluis-{name}-{digest}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with the pinned npm packages installed beside inrupt.mjs."""
    node = tool("node")
    with _file_lock("npm-ci"):
        if not _installed():
            done = subprocess.run(
                [tool("npm"), "ci", "--no-audit", "--no-fund"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT,
                check=False,
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return node


@dataclass(frozen=True)
class Server:
    base: str
    log: Path

    def url(self, path: str) -> str:
        return self.base + path.lstrip("/")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def _serve(port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m pod serve` on `port`, in-memory storage, its output into `log`."""
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                *("-m", "pod", "serve", "--port", str(port), "--host", "127.0.0.1"),
                *("--storage", "memory", "--password-cost", "10"),
                *("--fetch-private-networks", "true", "--access-log", "false"),
            ],
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        end_process(proc)


@pytest.fixture
async def kluis(tmp_path: Path) -> AsyncIterator[Server]:
    """A Kluis server process on a free port."""
    port = free_port()
    server = Server(f"http://127.0.0.1:{port}/", tmp_path / "kluis.log")
    with _serve(port, server.log) as proc:
        await wait_up(server.url(".well-known/openid-configuration"), proc)
        yield server


@dataclass(frozen=True)
class Person:
    email: str
    webid: str
    pod_root: str
    client_id: str
    client_secret: str

    def script_options(self, server: Server) -> dict[str, str]:
        """The options a node script signs in with as this person (client credentials)."""
        return {
            "issuer": server.base,
            "client-id": self.client_id,
            "client-secret": self.client_secret,
            "webid": self.webid,
            "pod-root": self.pod_root,
        }


async def _json(response: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def person(server: Server, http: aiohttp.ClientSession, name: str) -> Person:
    """An account with a pod `name`, and client credentials acting as its WebID."""
    email = f"{name}@example.org"
    async with http.post(
        server.url(".account/api/accounts"),
        json={"email": email, "password": PASSWORD, "pod": name},
    ) as r:
        account = await _json(r, 201)
    async with http.post(
        server.url(".account/api/login"), json={"email": email, "password": PASSWORD}
    ) as r:
        api_token = (await _json(r, 200))["token"]
    async with http.post(
        server.url(".account/api/credentials"),
        json={"webId": account["webId"], "name": "interop test"},
        headers={"Authorization": f"Bearer {api_token}"},
    ) as r:
        credential = await _json(r, 201)
    return Person(
        email,
        account["webId"],
        account["podRoot"],
        credential["clientId"],
        credential["clientSecret"],
    )


@dataclass(frozen=True)
class Token:
    """A DPoP-bound access token and the key it is bound to."""

    access: str
    key: ECKey

    def headers(self, method: str, url: str) -> dict[str, str]:
        return {
            "Authorization": f"DPoP {self.access}",
            "DPoP": sign_proof(self.key, method, url, token=self.access),
        }


async def client_credentials(server: Server, http: aiohttp.ClientSession, who: Person) -> Token:
    key = new_ec_key()
    token_url = server.url(".oidc/token")
    basic = base64.b64encode(f"{who.client_id}:{who.client_secret}".encode()).decode()
    async with http.post(
        token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}", "DPoP": sign_proof(key, "POST", token_url)},
    ) as r:
        token = await _json(r, 200)
    assert token["token_type"] == "DPoP"
    return Token(str(token["access_token"]), key)


def run_node(
    node: str, script: Path, args: list[str], *, timeout: float = NODE_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run `script` (beside this file, so it finds node_modules) to completion."""
    return subprocess.run(
        [node, str(script), *args],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def report(done: subprocess.CompletedProcess[str], server: Server, summary: Any = None) -> str:
    """What node said (its failed steps, or its whole output) and the server's log."""
    if isinstance(summary, dict):
        failed = [step for step in summary.get("steps", []) if not step.get("ok")]
        said = json.dumps(failed or summary, indent=2)
    else:
        said = done.stdout
    return (
        f"node exited {done.returncode}\n--- node output\n{said}\n--- node stderr\n{done.stderr}"
        f"\n--- Kluis log\n{server.log_text()}"
    )


async def run_script(
    node: str, script: Path, server: Server, options: dict[str, str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Run an interop script (script.mjs's conventions) with `--name=value` for each option.

    Returns its summary and its steps by name, after checking that every step passed.
    """
    # `--name=value`: a value may start with "-" (a base64url client secret), which node's
    # parseArgs would take for an option if it came as a separate argument.
    args = [f"--{name}={value}" for name, value in options.items()]
    done = await asyncio.to_thread(run_node, node, script, args)
    try:
        summary: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        pytest.fail(report(done, server))
    assert done.returncode == 0, report(done, server, summary)
    assert summary["ok"] is True
    return summary, {step["step"]: step for step in summary["steps"]}


# --- a browser: headless Chromium driven by Playwright (tests/idp/test_browser.py) ------


@dataclass
class Browser:
    page: PlaywrightPage
    prefix: str
    # (what, url, detail) for console errors, page errors, failed loads and 4xx/5xx answers
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for, in order
    answers: list[tuple[str, str, int]] = field(default_factory=list)  # (method, url, status)

    async def shot(self, step: str) -> None:
        await self.page.screenshot(path=SCREENSHOTS / f"{self.prefix}-{step}.png", full_page=True)

    def watch(self) -> None:
        page = self.page
        page.on("pageerror", lambda exc: self.problems.append(("page error", "", str(exc))))
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("requestfailed", self._failed)
        page.on("request", lambda r: self.requests.append(r.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            url = str(message.location.get("url", ""))
            self.problems.append(("console error", url, message.text))

    def _response(self, response: Response) -> None:
        self.answers.append((response.request.method, response.url, response.status))
        if response.status >= 400:
            self.problems.append((f"HTTP {response.status}", response.url, response.status_text))

    def _failed(self, request: Request) -> None:
        self.problems.append(("request failed", request.url, str(request.failure)))

    def unexpected(self, *, forbidden: str) -> list[tuple[str, str, str]]:
        """The problems, less the one the app provokes: the 403 for another person's data."""
        return [
            (what, url, detail)
            for what, url, detail in self.problems
            if not (url == forbidden and (what == "HTTP 403" or "403" in detail))
        ]


@pytest.fixture
async def browser(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with chromium_page(tmp_path / "chromium-profile") as page:
        # Screenshots are named for the module and the test (its parameters, or its name):
        # test_inrupt_browser.py[registered] -> inrupt-browser-registered-01-app.png
        module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
        node = request.node
        if hasattr(node, "callspec"):
            test_id = node.callspec.id
        else:
            test_id = node.originalname.removeprefix("test_").removeprefix(module + "_")
        b = Browser(page, f"{module}-{test_id}".replace("_", "-"))
        b.watch()
        yield b


def problems_report(b: Browser, kluis: Server) -> str:
    said = "\n".join(" ".join(p) for p in b.problems)
    return f"--- browser problems\n{said}\n--- Kluis log\n{kluis.log_text()}"
