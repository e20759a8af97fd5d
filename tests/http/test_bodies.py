"""Slow clients: a stalled request body gets 408 and changes nothing, a request
head that never completes is dropped at `idle_timeout`, and either frees the handler."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pod.config import Settings
from pod.http.bodies import LARGE_BODY_BYTES, SMALL_BODY_BYTES, runner_options
from pod.http.idp import REGISTRATION_BYTES
from tests.conftest import POD, Client, url
from tests.support import free_port, send_partly
from tests.support import wait_until_serving as wait_up
from tests.test_cli import server

BODY_TIMEOUT = 0.5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, body_timeout=BODY_TIMEOUT)


async def _send_head_and_some_body(
    client: Client, path: str, head: dict[str, str], *, method: str = "PUT"
) -> bytes:
    """`method` `path` announcing 100 bytes of body, send 10, then stall; the server's answer."""
    return await send_partly(
        client, method, path, declared=100, sent=b"0123456789", headers=head, wait=BODY_TIMEOUT + 5
    )


@pytest.mark.parametrize("existing", [False, True])
async def test_a_stalled_body_gets_408_and_changes_nothing(client: Client, existing: bool) -> None:
    path = POD + "stalled.txt"
    if existing:
        r = await client.put(path, data=b"before", headers={"Content-Type": "text/plain"})
        assert r.status == 201
    assert client.agent is not None
    head = {"Content-Type": "text/plain", **client.agent.headers("PUT", url(path))}
    started = time.monotonic()
    answer = await _send_head_and_some_body(client, path, head)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"no part of the request body arrived for 0.5 seconds" in answer
    assert b"Connection: close" in answer
    assert time.monotonic() - started < BODY_TIMEOUT + 3
    r = await client.get(path)
    if existing:
        assert (r.status, await r.read()) == (200, b"before")
    else:
        assert r.status == 404


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/.account/api/login", "application/json"),  # the account API's JSON bodies
        ("/.account/login", "application/x-www-form-urlencoded"),  # the pages' forms
        ("/.oidc/token", "application/x-www-form-urlencoded"),  # OAuth requests
        ("/.oidc/reg", "application/json"),  # dynamic client registration
    ],
)
async def test_stalled_form_and_json_bodies_get_408(
    client: Client, path: str, content_type: str
) -> None:
    answer = await _send_head_and_some_body(
        client, path, {"Content-Type": content_type}, method="POST"
    )
    assert answer.startswith(b"HTTP/1.1 408 "), answer


async def test_a_slow_but_steady_body_is_accepted(client: Client) -> None:
    async def trickle() -> object:
        for _ in range(4):  # 4 parts, each well within the pause allowed, 1.2 s in all
            await asyncio.sleep(BODY_TIMEOUT * 0.6)
            yield b"part "

    r = await client.put(POD + "steady.txt", data=trickle(), headers={"Content-Type": "text/plain"})
    assert r.status == 201, await r.text()
    assert await (await client.get(POD + "steady.txt")).read() == b"part " * 4


def test_runner_options_carry_the_idle_timeout() -> None:
    assert runner_options(Settings(idle_timeout=7.5)) == {"keepalive_timeout": 7.5}


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        Settings(idle_timeout=0)
    with pytest.raises(ValueError, match="body_timeout"):
        Settings(body_timeout=-1)


async def test_server_drops_a_request_head_that_never_completes(tmp_path: Path) -> None:
    port = free_port()
    env = {"KLUIS_DATA_DIR": str(tmp_path / "data"), "KLUIS_HOST": "127.0.0.1"}
    with server("--port", str(port), "--idle-timeout", "1", env=env) as proc:
        await wait_up(f"http://127.0.0.1:{port}/", proc)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and nothing more
        await writer.drain()
        started = time.monotonic()
        async with asyncio.timeout(10):
            assert await reader.read() == b""  # closed without an answer
        writer.close()
        # aiohttp checks its timer at about a second's granularity
        assert 0.5 < time.monotonic() - started < 4
        # the server still serves others
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(10):
            assert (await reader.read()).startswith(b"HTTP/1.1 ")
        writer.close()


# --- small bodies: forms and JSON, however they are framed (issue 10, item 8) ---------------

_SMALL_ENDPOINTS = [
    (".account/login", "application/x-www-form-urlencoded", SMALL_BODY_BYTES),
    (".account/signup", "application/x-www-form-urlencoded", SMALL_BODY_BYTES),
    (".account/consent", "application/x-www-form-urlencoded", SMALL_BODY_BYTES),
    (".account/api/accounts", "application/json", SMALL_BODY_BYTES),
    (".account/api/login", "application/json", SMALL_BODY_BYTES),
    (".oidc/token", "application/x-www-form-urlencoded", SMALL_BODY_BYTES),
    (".oidc/auth", "application/x-www-form-urlencoded", SMALL_BODY_BYTES),
    (".oidc/reg", "application/json", REGISTRATION_BYTES),
]


@pytest.mark.parametrize(("endpoint", "media", "limit"), _SMALL_ENDPOINTS)
async def test_chunked_bodies_meet_the_same_small_cap(
    client: Client, endpoint: str, media: str, limit: int
) -> None:
    """Without Content-Length (chunked), a form or JSON body was read whole up to the 64 MB
    resource limit: four such requests held 500 MB. It is refused once it passes its cap."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"x": "' if media == "application/json" else b"x="
        for _ in range(12):  # 768 KiB in all: below the test server's 1 MB resource limit
            yield b"a" * (64 * 1024)

    r = await client.client.post(
        "/" + endpoint, data=chunks(), headers={"Content-Type": media}, allow_redirects=False
    )
    assert r.status in (400, 413), (r.status, await r.text())
    assert f"limit of {limit} bytes" in await r.text()


async def test_a_form_field_given_twice_is_refused(client: Client) -> None:
    r = await client.client.post(
        "/.oidc/token",
        data="grant_type=client_credentials&grant_type=authorization_code",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status == 400
    assert "more than once" in (await r.json())["error_description"]


async def test_a_large_body_is_sent_whole_after_the_headers(client: Client) -> None:
    """A body over LARGE_BODY_BYTES goes out apart from the headers (no copy of it per
    response): GET gets every byte, a range its part, HEAD only the length."""
    body = os.urandom(3 * LARGE_BODY_BYTES + 12345)
    doc = POD + "large.bin"
    r = await client.put(doc, data=body, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 201, await r.text()
    answers = await asyncio.gather(*(client.get(doc) for _ in range(4)))
    for r in answers:
        assert r.status == 200
        assert r.headers["Content-Length"] == str(len(body))
        assert await r.read() == body
    r = await client.get(doc, headers={"Range": f"bytes=100-{2 * LARGE_BODY_BYTES + 99}"})
    assert r.status == 206
    assert await r.read() == body[100 : 2 * LARGE_BODY_BYTES + 100]
    r = await client.head(doc)
    assert r.status == 200
    assert r.headers["Content-Length"] == str(len(body))
    assert await r.read() == b""
