"""examples/publisher.py against a real `kluis serve`: a publisher asks a person for access, the
person decides through the vault API, and the publisher reads while access lasts, then stops
when it is withdrawn or refused (issue 14 §6)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import publisher
import pytest
from dpop_client import SignedIn

from tests.support import free_port
from tests.support import wait_until_serving as wait_up
from tests.test_cli import account_with_client, server

ADVERTISING = "https://w3id.org/dpv#PersonalisedAdvertising"


@dataclass
class Two:
    base: str
    eve: dict[str, Any]  # the person: her account and client credentials
    publisher: dict[str, Any]  # the publisher's


@pytest.fixture
async def two() -> AsyncIterator[Two]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with server(
        "--port", str(port), "--host", "127.0.0.1", "--storage", "memory", "--password-cost", "10"
    ) as proc:
        await wait_up(base, proc)
        yield Two(base, account_with_client(base, "eve"), account_with_client(base, "news"))


def args(two: Two, **changes: Any) -> argparse.Namespace:
    options: dict[str, Any] = {
        "server": two.base,
        "client_id": two.publisher["clientId"],
        "client_secret": two.publisher["clientSecret"],
        "webid": two.eve["webId"],
        "resources": [two.base + "eve/preferences/personalisation.ttl"],
        "purpose": publisher.RECOMMENDATIONS,
        "days": 1.0,
        "text": "For your reading tips",
        "poll": 0.1,
        "wait": 20.0,
        "every": 0.1,
        "last": 20.0,
    }
    options.update(changes)
    return argparse.Namespace(**options)


async def _owner(session: aiohttp.ClientSession, two: Two) -> SignedIn:
    return await SignedIn.sign_in(session, two.base, two.eve["clientId"], two.eve["clientSecret"])


async def _until(check: Any, seconds: float = 20.0) -> Any:
    for _ in range(int(seconds / 0.05)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("waited in vain")


async def test_the_publisher_reads_while_granted_and_stops_when_withdrawn(
    two: Two, capsys: pytest.CaptureFixture[str]
) -> None:
    api = two.base + ".kluis/consent/eve/"
    async with aiohttp.ClientSession() as session:
        eve = await _owner(session, two)
        task = asyncio.create_task(publisher.main(args(two)))

        async def pending() -> list[Any]:
            listed = json.loads(await eve.request("GET", api + "requests"))["requests"]
            return [r for r in listed if r["status"] == "pending"]

        request = (await _until(pending))[0]
        assert request["texts"] == {"en": "For your reading tips"}
        await eve.request("POST", request["id"], json={"action": "approve"})

        async def read_once() -> bool:
            return "read " in capsys.readouterr().out or task.done()

        await _until(read_once)
        grant = json.loads(await eve.request("GET", api + "grants"))["grants"][0]
        await eve.request("POST", grant["api"], json={"action": "withdraw"})
        await asyncio.wait_for(task, 20)
    out = capsys.readouterr().out
    assert "access ended (revoked)" in out
    assert "was withdrawn" in out
    assert out.rstrip().endswith("done: revoked")


async def test_a_purpose_refused_once_and_for_all_is_never_asked(
    two: Two, capsys: pytest.CaptureFixture[str]
) -> None:
    async with aiohttp.ClientSession() as session:
        eve = await _owner(session, two)
        await eve.request(
            "PUT", two.base + ".kluis/consent/eve/choices", json={"never": [ADVERTISING]}
        )
    await publisher.main(args(two, purpose=ADVERTISING))
    out = capsys.readouterr().out
    assert "decision: denied" in out
    assert "never allows" in out
    assert "read " not in out
