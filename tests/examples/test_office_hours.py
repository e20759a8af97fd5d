"""examples/office_hours.py: a permission reader beside WAC, through the real authorizer and HTTP.

The pod /pod/ is alice's (WAC gives her everything, and nobody else anything); the reader gives
bob Read on /pod/team/ from 9:00 to 17:00 in Amsterdam, by a clock each test sets. In December
Amsterdam is UTC+1, so the UTC times below are an hour behind the local ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp.web import Application
from office_hours import OfficeHours, SetClock

from pod.app import create_app
from pod.config import Settings
from pod.storage.base import Backend
from tests.conftest import POD, Client
from tests.support import Agent, TestIssuer

TURTLE = {"Content-Type": "text/turtle"}
TEAM = POD + "team/"
PLAN = TEAM + "plan"
DIARY = POD + "diary"


def utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 7, hour, minute, tzinfo=UTC)


@pytest.fixture
def clock() -> SetClock:
    return SetClock(utc(9))  # 10:00 in Amsterdam


@pytest.fixture
def app(settings: Settings, backend: Backend, clock: SetClock, bob: Agent) -> Application:
    team = OfficeHours(
        colleagues={bob.webid},
        container=TEAM,
        zone=ZoneInfo("Europe/Amsterdam"),
        clock=clock,
    )
    return create_app(settings, backend=backend, more_readers=[team])


@pytest.fixture
async def pod(client: Client) -> Client:
    """alice's pod, with a team plan and a diary outside the team container."""
    for path in (PLAN, DIARY):
        r = await client.put(path, data="<#a> <#b> 1 .", headers=TURTLE)
        assert r.status == 201, await r.text()
    return client


# Local times 9:00, 16:59, 8:59, 17:00 and 22:00; a reader that ignored the zone would refuse
# 9:00 (8:00 UTC) and grant 17:00 (16:00 UTC).
@pytest.mark.parametrize(
    ("at", "status"),
    [(utc(8), 200), (utc(15, 59), 200), (utc(7, 59), 403), (utc(16), 403), (utc(21), 403)],
    ids=["9:00", "16:59", "8:59", "17:00", "22:00"],
)
async def test_a_colleague_reads_the_team_container_in_office_hours_only(
    pod: Client, bob: Agent, clock: SetClock, at: datetime, status: int
) -> None:
    clock.now = at
    for path in (PLAN, TEAM):
        r = await pod.get(path, as_agent=bob)
        assert r.status == status, path
        if status == 200:
            assert r.headers["WAC-Allow"] == 'user="read",public=""'


async def test_access_ends_at_closing_time_with_nothing_cached(
    pod: Client, bob: Agent, clock: SetClock
) -> None:
    clock.now = utc(15, 59)
    assert (await pod.get(PLAN, as_agent=bob)).status == 200
    clock.now = utc(16)
    assert (await pod.get(PLAN, as_agent=bob)).status == 403
    clock.now = utc(8)  # the next morning's opening, as far as the reader can tell
    assert (await pod.get(PLAN, as_agent=bob)).status == 200


async def test_only_colleagues_only_inside_the_container_only_read(
    pod: Client, bob: Agent, issuer: TestIssuer
) -> None:
    carol = Agent(issuer, "carol")
    assert (await pod.get(PLAN, as_agent=carol)).status == 403
    assert (await pod.get(PLAN, as_agent=None)).status == 401
    assert (await pod.get(DIARY, as_agent=bob)).status == 403
    # Reading an ACL needs Control on its subject, which the reader never grants.
    assert (await pod.get(TEAM + ".acl", as_agent=bob)).status == 403
    r = await pod.put(PLAN, as_agent=bob, data="<#a> <#b> 2 .", headers=TURTLE)
    assert r.status == 403
    assert (await pod.delete(PLAN, as_agent=bob)).status == 403


async def test_a_reader_adds_to_wac_and_never_takes_away(
    pod: Client, bob: Agent, clock: SetClock
) -> None:
    clock.now = utc(21)  # closed: the reader grants nothing, WAC still grants alice everything
    r = await pod.get(PLAN)
    assert r.status == 200
    assert r.headers["WAC-Allow"] == 'user="read write append control",public=""'
    r = await pod.put(PLAN, data="<#a> <#b> 3 .", headers=TURTLE)
    assert r.status == 204
