"""examples/change_log.py: a change-feed consumer, fed by real writes over HTTP.

alice writes with a DPoP-bound token from the test issuer, so each line must name her WebID, her
client app and the request id her response carried.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from aiohttp.web import Application
from change_log import ChangeLog

from pod.app import create_app
from pod.config import Settings
from pod.storage.base import Backend
from tests.conftest import POD, Client
from tests.support import CLIENT_ID, Agent

TURTLE = {"Content-Type": "text/turtle"}
N3 = {"Content-Type": "text/n3"}
DOC = POD + "notes/today"
SECRET = "a value no log may hold"
PATCH = f"""@prefix solid: <http://www.w3.org/ns/solid/terms#> .
_:p a solid:InsertDeletePatch ; solid:inserts {{ <#a> <#b> "{SECRET}" }} ."""


@pytest.fixture
def queue() -> int:
    return 10_000


@pytest.fixture
def log(tmp_path: Path, queue: int) -> ChangeLog:
    return ChangeLog(tmp_path / "changes.jsonl", queue=queue)


@pytest.fixture
def app(settings: Settings, backend: Backend, log: ChangeLog) -> Application:
    return create_app(settings, backend=backend, consumers=[log.attach])


async def lines(log: ChangeLog, *, until: dict[str, Any]) -> list[dict[str, Any]]:
    """The log's entries once one has every item of `until` (the consumer runs in a task of
    its own, after the responses)."""
    async with asyncio.timeout(10):
        while True:
            if log.path.exists():
                text = await asyncio.to_thread(log.path.read_text, encoding="utf-8")
                entries = [json.loads(line) for line in text.splitlines()]
                if any(until.items() <= entry.items() for entry in entries):
                    return entries
            await asyncio.sleep(0.02)


async def test_each_write_is_logged_with_who_made_it_and_in_which_request(
    client: Client, alice: Agent, log: ChangeLog
) -> None:
    put = await client.put(DOC, data="<#a> <#b> 1 .", headers=TURTLE)
    assert put.status == 201
    patch = await client.patch(DOC, data=PATCH, headers=N3)
    assert patch.status == 204
    delete = await client.delete(DOC)
    assert delete.status == 204
    request_ids = [r.headers["X-Request-Id"] for r in (put, patch, delete)]
    assert len(set(request_ids)) == 3

    # The DELETE's last change: notes/ lost its child.
    entries = await lines(log, until={"change": "Remove", "child": DOC})
    by_alice = [e for e in entries if e["webid"] == alice.webid]
    assert {e["request"] for e in by_alice} == set(request_ids)
    assert all(e["client"] == CLIENT_ID for e in by_alice)
    assert all(e["time"].endswith("+00:00") for e in entries)

    def one(**fields: Any) -> dict[str, Any]:
        [found] = [e for e in by_alice if fields.items() <= e.items()]
        return found

    put_id, patch_id, delete_id = request_ids
    created = one(change="Create", path=DOC, request=put_id)
    assert f'"{created["version"]}"' == put.headers["ETag"]
    updated = one(change="Update", path=DOC, request=patch_id)
    assert f'"{updated["version"]}"' == patch.headers["ETag"]
    assert one(change="Delete", path=DOC, request=delete_id)["version"] is None
    # The containers the PUT created on the way, and the listings that changed.
    one(change="Create", path=POD + "notes/", request=put_id)
    one(change="Add", path=POD, child=POD + "notes/", request=put_id)
    one(change="Add", path=POD + "notes/", child=DOC, request=put_id)
    one(change="Remove", path=POD + "notes/", child=DOC, request=delete_id)
    assert SECRET not in log.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("queue", [1])
async def test_a_log_that_fell_behind_says_how_much_it_missed(
    client: Client, log: ChangeLog
) -> None:
    # The PUT publishes four changes at once (notes/ created and added to the pod, the document
    # created and added to notes/); a queue of one keeps only the last of them.
    assert (await client.put(DOC, data="<#a> <#b> 1 .", headers=TURTLE)).status == 201
    entries = await lines(log, until={"change": "Add", "child": DOC})
    gap, last = entries[-2:]
    assert last["path"] == POD + "notes/"
    assert gap.keys() == {"time", "missed"}
    assert gap["missed"] >= 3


async def test_record_changes_are_logged_by_namespace_and_key_only(
    client: Client, log: ChangeLog
) -> None:
    email, password = "dora@example.org", secrets.token_urlsafe(16)
    r = await client.post(
        "/.account/api/accounts", json={"email": email, "password": password}, as_agent=None
    )
    assert r.status == 201, await r.text()
    request = r.headers["X-Request-Id"]
    entries = await lines(log, until={"request": request})
    signed_up = [e for e in entries if e["request"] == request]
    assert all(e.keys() >= {"namespace", "key"} and "path" not in e for e in signed_up)
    # Where a key is personal data (an e-mail address) the feed carries its hash; values
    # (the password's hash) it never carries.
    text = log.path.read_text(encoding="utf-8")
    assert email not in text
    assert password not in text
