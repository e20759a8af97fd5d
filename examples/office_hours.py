"""A permission reader of your own: colleagues may read a team container during office hours.

Run: .venv/bin/python examples/office_hours.py [PORT]
(no server needs to be running; `make serve` makes .venv.)

A permission reader says which access modes one source grants an agent (WebID, client app,
origin) on a resource. Web Access Control, the `.acl` documents in the pods, is the first;
`create_app(settings, more_readers=[...])` adds more beside it. The authorizer asks every reader
and grants the union of what they grant, so a reader can add access but never take away what
another grants. It then compares that with what the request needs, answers 401 or 403, and fills
in `WAC-Allow`: a reader knows nothing of HTTP, nor of which resources exist.

`OfficeHours` gives a set of WebIDs (colleagues) Read on one container and everything in it,
from 9:00 to 17:00 in a given time zone. This script starts a server with it, makes two accounts
on it (alice, who owns the pod /alice/, and her colleague bob), lets alice write
/alice/team/plan and has bob read it at 10:00 and at 20:00 (the script sets the reader's clock),
and a document of alice's outside the team container, printing what the server answers.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from dpop_client import SignedIn

from pod.app import create_app
from pod.config import Settings
from pod.model import AccessMode, Credentials


class OfficeHours:
    """A permission reader: Read for `colleagues` on `container` and everything in it, from
    `opens` (inclusive) to `closes` (exclusive), local time in `zone`.

    `container` is a resource path ending in `/`, such as `/alice/team/`. `clock` tells the
    time (timezone-aware); tests and this script set it. The reader is asked on every request
    (the authorizer keeps no decisions of its own), so access ends at `closes` on the dot.
    """

    def __init__(
        self,
        *,
        colleagues: Iterable[str],
        container: str,
        zone: tzinfo,
        opens: time = time(9),
        closes: time = time(17),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not container.endswith("/"):
            raise ValueError(f"{container!r} is not a container path (it must end in /)")
        self.colleagues = frozenset(colleagues)
        self.container = container
        self.zone = zone
        self.opens = opens
        self.closes = closes
        self.clock = clock

    async def modes(self, credentials: Credentials, path: str) -> AccessMode:
        # `agent` is a WebID whose token and DPoP proof have been verified; None for anyone
        # who did not sign in. The authorizer maps an `.acl` to its subject (reading one needs
        # Control there), so Read here never opens an ACL.
        if credentials.agent not in self.colleagues or not path.startswith(self.container):
            return AccessMode.NONE
        if not self.opens <= self.clock().astimezone(self.zone).time() < self.closes:
            return AccessMode.NONE
        return AccessMode.READ


class SetClock:
    """A clock that shows whatever time it was last set to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def main(port: int) -> list[str]:
    zone = ZoneInfo("Europe/Amsterdam")
    clock = SetClock(datetime(2026, 12, 7, 10, 0, tzinfo=zone))
    settings = Settings(host="127.0.0.1", port=port, storage="memory", access_log=False)
    base = settings.base_url
    # The WebID of the account with the pod `bob` (what the sign-up below answers as `webId`).
    bob_webid = base + "bob/profile/card#me"
    team = OfficeHours(colleagues={bob_webid}, container="/alice/team/", zone=zone, clock=clock)
    runner = web.AppRunner(create_app(settings, more_readers=[team]))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    out = []
    try:
        async with aiohttp.ClientSession() as session:
            alice = await _sign_up(session, base, "alice")
            bob = await _sign_up(session, base, "bob")
            turtle = {"Content-Type": "text/turtle"}
            await alice.request(
                "PUT", base + "alice/team/plan", data="<#q1> a <#Goal> .", headers=turtle
            )
            await alice.request(
                "PUT", base + "alice/diary", data="<#me> <#feel> <#fine> .", headers=turtle
            )
            for hour, path in [
                (10, "alice/team/plan"),
                (20, "alice/team/plan"),
                (10, "alice/diary"),
            ]:
                clock.now = clock.now.replace(hour=hour)
                async with session.get(base + path, headers=_signed(bob, "GET", base + path)) as r:
                    allow = f"  WAC-Allow: {r.headers['WAC-Allow']}" if r.status == 200 else ""
                    out.append(f"{hour}:00 {zone.key}  bob GET /{path}  {r.status}{allow}")
    finally:
        await runner.cleanup()
    return out


async def _sign_up(session: aiohttp.ClientSession, base: str, name: str) -> SignedIn:
    """An account with the pod /`name`/ and client credentials for its WebID, signed in."""
    account = {"email": f"{name}@example.org", "password": secrets.token_urlsafe(16)}
    created = await _post(session, base + ".account/api/accounts", {**account, "pod": name})
    login = await _post(session, base + ".account/api/login", account)
    credentials = await _post(
        session,
        base + ".account/api/credentials",
        {"webId": created["webId"], "name": "office hours example"},
        headers={"Authorization": f"Bearer {login['token']}"},
    )
    return await SignedIn.sign_in(
        session, base, credentials["clientId"], credentials["clientSecret"]
    )


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, str], **options: Any
) -> dict[str, Any]:
    async with session.post(url, json=body, **options) as r:
        r.raise_for_status()
        answer: dict[str, Any] = await r.json()
        return answer


def _signed(me: SignedIn, method: str, url: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {me.token}", "DPoP": me.dpop.proof(method, url, me.token)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("port", type=int, nargs="?", default=3000, help="default 3000")
    for line in asyncio.run(main(parser.parse_args().port)):
        print(line)
