"""A kill -9 loses no record of an answered request and tears none (issue 15 §1: "after kill -9,
at most the records of requests still in flight are missing, never a torn record"), on a real
`kluis serve` with file storage and fsync.

Each record is appended with one `os.write` before its response is returned
(pod.http.middlewares `_disclose`), so every response a client received has its record in the
page cache, which outlives the process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
from pathlib import Path

import aiohttp

from pod.storage.journal import frame, records
from tests.examples.conftest import EXAMPLES  # noqa: F401 - puts examples/ on the path
from tests.support import free_port
from tests.support import wait_until_serving as wait_up
from tests.test_cli import account_with_client, server

TASKS = 8


async def test_a_kill_loses_no_record_of_an_answered_request(tmp_path: Path) -> None:
    from dpop_client import SignedIn

    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    data = tmp_path / "data"
    options = (
        *("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(data)),
        *("--password-cost", "10", "--access-log", "false", "--fsync", "true"),
    )
    resource = base + "eve/shared.ttl"
    received: list[str] = []
    async with aiohttp.ClientSession() as session:
        with server(*options) as proc:
            await wait_up(base, proc)
            eve, news = account_with_client(base, "eve"), account_with_client(base, "news")
            owner = await SignedIn.sign_in(session, base, eve["clientId"], eve["clientSecret"])
            turtle = {"Content-Type": "text/turtle"}
            await owner.request("PUT", resource, data="<#a> <#b> 'c' .", headers=turtle)
            acl = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#owner> a acl:Authorization; acl:agent <{eve["webId"]}>; acl:accessTo <{resource}>;
  acl:mode acl:Read, acl:Write, acl:Control .
<#news> a acl:Authorization; acl:agent <{news["webId"]}>; acl:accessTo <{resource}>;
  acl:mode acl:Read ."""
            await owner.request("PUT", resource + ".acl", data=acl, headers=turtle)
            reader = await SignedIn.sign_in(session, base, news["clientId"], news["clientSecret"])

            async def read_on() -> None:
                with contextlib.suppress(aiohttp.ClientError):  # the server died under it
                    while True:
                        headers = {
                            "Authorization": f"DPoP {reader.token}",
                            "DPoP": reader.dpop.proof("GET", resource, reader.token),
                        }
                        async with session.get(resource, headers=headers) as r:
                            await r.read()
                            assert r.status == 200, r.status
                            received.append(r.headers["X-Request-Id"])

            readers = [asyncio.create_task(read_on()) for _ in range(TASKS)]
            await asyncio.sleep(random.uniform(0.5, 2.0))
            proc.kill()
            proc.wait()
            await asyncio.gather(*readers)
        assert len(received) > 50, len(received)
        segments = data / ".kluis" / "journal" / "disclosures"
        folder = segments / hashlib.sha256(b"/eve/").hexdigest()[:32]
        ids = []
        for segment in sorted(folder.glob("*.jsonl")):
            # Past the records: the zeros of the window the writer had mapped ahead of them,
            # and at most the part of a record being copied when the kill came (its request
            # was not answered): zeros where the rest was to be, which no reader takes for a
            # record, or no newline yet.
            raw = segment.read_bytes()
            lines = raw.rstrip(b"\0").split(b"\n")[:-1]
            if lines and b"\0" in lines[-1]:
                lines.pop()  # the torn one, its newline copied before its middle
            assert records(raw) == lines
            for payload in lines:
                assert frame(payload)  # every line whole: not empty, no NUL
                record = json.loads(payload)
                if record.get("a") == news["webId"]:
                    assert record["s"] == 200
                    assert record["b"][0]["rule"] == resource + ".acl#news"
                    ids.append(record["r"])
        assert len(ids) == len(set(ids)), "a request was recorded twice"
        missing = set(received) - set(ids)
        assert not missing, f"{len(missing)} answered request(s) have no record"
        print(f"{len(received)} answered, {len(ids)} recorded, {len(ids) - len(received)} more")
        # The server starts again on the same journal, and keeps appending to it.
        with server(*options) as proc:
            await wait_up(base, proc)
            owner = await SignedIn.sign_in(session, base, eve["clientId"], eve["clientSecret"])
            reader = await SignedIn.sign_in(session, base, news["clientId"], news["clientSecret"])
            await reader.request("GET", resource)
            log = json.loads(
                await owner.request("GET", base + ".kluis/disclosures/eve/?limit=1000")
            )
            assert sum(t["count"] for t in log["totals"]) == len(ids) + 1
