"""An erasure cut short by kill -9 resumes when the server starts again (issue 15 §4: every
step is idempotent), and then leaves nothing that names the account on disk."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Final

import aiohttp

from tests.idp.conftest import PASSWORD
from tests.interop.conftest import Person, Server, client_credentials
from tests.support import free_port, kluis_process, wait_until_serving

EMAIL: Final = "erase-7f3a@example.org"
NAME: Final = "erase-7f3a"
DOCUMENTS: Final = 300
OPTIONS: Final = ("--password-cost", "10", "--fsync", "false", "--access-log", "false")


def _files(folder: Path) -> int:
    """The files under `folder` now; the erasure may remove a directory while it is walked."""
    return sum(len(files) for _, _, files in os.walk(folder))  # os.walk skips what vanished


async def _fill(base: str, http: aiohttp.ClientSession) -> str:
    """An account whose pod holds DOCUMENTS documents; its API token."""
    async with http.post(
        base + ".account/api/accounts", json={"email": EMAIL, "password": PASSWORD, "pod": NAME}
    ) as r:
        assert r.status == 201, await r.text()
        webid = (await r.json())["webId"]
    async with http.post(
        base + ".account/api/login", json={"email": EMAIL, "password": PASSWORD}
    ) as r:
        api = str((await r.json())["token"])
    async with http.post(
        base + ".account/api/credentials",
        json={"webId": webid, "name": "filler"},
        headers={"Authorization": f"Bearer {api}"},
    ) as r:
        made = await r.json()
    who = Person(EMAIL, webid, base + NAME + "/", made["clientId"], made["clientSecret"])
    token = await client_credentials(Server(base, Path("unused")), http, who)
    for n in range(DOCUMENTS):
        url = f"{base}{NAME}/box{n % 10}/doc{n}"
        async with http.put(
            url,
            data=f"<#d> <#n> {n} .",
            headers={"Content-Type": "text/turtle", **token.headers("PUT", url)},
        ) as r:
            assert r.status == 201, await r.text()
    return api


async def test_an_erasure_killed_half_way_resumes_at_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    jobs = data / ".kluis" / "kv" / "erasure_jobs"
    receipts = data / ".kluis" / "kv" / "erasures"
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with kluis_process(port, tmp_path / "first.log", "--data-dir", str(data), *OPTIONS) as proc:
        await wait_until_serving(base, proc)
        async with aiohttp.ClientSession() as http:
            api = await _fill(base, http)
            before = _files(data / NAME)

            async def erase() -> int:
                async with http.delete(
                    base + ".account/api/me",
                    json={"password": PASSWORD},
                    headers={"Authorization": f"Bearer {api}"},
                ) as r:
                    return r.status

            erasing = asyncio.create_task(erase())
            for _ in range(2000):
                if _files(jobs) and _files(data / NAME) < before - 20:
                    break
                await asyncio.sleep(0.005)
            proc.kill()  # SIGKILL, half-way through deleting the pod
            proc.wait()
            with contextlib.suppress(aiohttp.ClientError):
                await erasing
    assert _files(jobs) == 1, "the erasure finished before the kill: the test proves nothing"
    assert 0 < _files(data / NAME) < before
    with kluis_process(port, tmp_path / "second.log", "--data-dir", str(data), *OPTIONS) as proc:
        await wait_until_serving(base, proc)
        for _ in range(600):
            if not _files(jobs) and _files(receipts):
                break
            await asyncio.sleep(0.05)
        assert _files(jobs) == 0
        assert _files(receipts) == 1
        async with aiohttp.ClientSession() as http:
            async with http.get(base + NAME + "/profile/card") as r:
                assert r.status == 410
            async with http.post(
                base + ".account/api/login", json={"email": EMAIL, "password": PASSWORD}
            ) as r:
                assert r.status == 401
    assert not (data / NAME).exists()
    for path in data.rglob("*"):
        assert NAME not in str(path)
        if path.is_file() and path.suffix != ".log":
            content = path.read_bytes()
            assert NAME.encode() not in content, path
            assert EMAIL.encode() not in content, path
