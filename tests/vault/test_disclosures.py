"""The owner's access log (issue 15 §1): every request to a pod by an identified agent other than
its owner is recorded once, allowed or refused, with what allowed it (the WAC rule, or the grant
and its purpose); anonymous reads are only counted; the owner alone reads it, at
`/.kluis/disclosures/<pod>/`. Over real HTTP, once per storage backend (each with its journal)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.web import Application
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pod.acl.defaults import create_owned_storage
from pod.app import create_app
from pod.config import Settings
from pod.http.keys import ANSWERS, DISCLOSURES, STORE
from pod.ldp.storages import Storages
from pod.storage.base import Backend
from pod.storage.journal import FileJournal, Journal, MemoryJournal
from pod.vault.disclosures import Asker, DisclosureLog, day_of, fragment_of, key_of
from tests.conftest import POD, ClientFactory, url
from tests.support import CLIENT_ID, Agent, PodClient, TestIssuer, make_public

TURTLE = {"Content-Type": "text/turtle"}
LOG = "/.kluis/disclosures/pod/"
DOC = POD + "shared/topics"
RECOMMENDATIONS = "https://w3id.org/dpv#ProvidePersonalisedRecommendations"


@pytest.fixture
def journal(backend_kind: str, data_dir: Path) -> Journal:
    if backend_kind == "memory":
        return MemoryJournal()
    return FileJournal(data_dir / ".kluis" / "journal" / "disclosures", fsync=False)


@pytest.fixture
def app(settings: Settings, backend: Backend, journal: Journal) -> Application:
    return create_app(settings, backend=backend, journal=journal)


@pytest.fixture
async def pod(client: PodClient) -> PodClient:
    r = await client.put(DOC, data="<#t> <#is> 'jazz' .", headers=TURTLE)
    assert r.status == 201, await r.text()
    return client


async def share_with(
    client: PodClient, owner: Agent, member: Agent, path: str, *, rule: str = "member"
) -> None:
    """An ACL for `path` whose rule `#<rule>` lets `member` read it (acl:agent)."""
    target = url(path)
    acl = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#owner> a acl:Authorization; acl:agent <{owner.webid}>; acl:accessTo <{target}>;
  acl:mode acl:Read, acl:Write, acl:Control .
<#{rule}> a acl:Authorization; acl:agent <{member.webid}>; acl:accessTo <{target}>;
  acl:mode acl:Read ."""
    r = await client.put(path + ".acl", data=acl, headers=TURTLE)
    assert r.status in (201, 204), await r.text()


async def read_log(client: PodClient, **query: str) -> dict[str, Any]:
    r = await client.get(LOG, params=query)
    assert r.status == 200, await r.text()
    found: dict[str, Any] = await r.json()
    return found


async def test_a_member_allowed_by_an_agent_rule_is_logged_once_with_the_rule(
    pod: PodClient, alice: Agent, bob: Agent, app: Application
) -> None:
    await share_with(pod, alice, bob, DOC)
    r = await pod.get(DOC, as_agent=bob)
    assert r.status == 200
    log = await read_log(pod)
    [record] = log["records"]
    assert record["id"] == r.headers["X-Request-Id"]
    assert record["agent"] == bob.webid
    assert record["client"] == CLIENT_ID
    assert (record["method"], record["resource"], record["status"]) == ("GET", url(DOC), 200)
    assert record["basis"] == [
        {
            "source": "wac",
            "ref": url(DOC + ".acl"),
            "kind": "agent",
            "rule": url(DOC + ".acl#member"),
        }
    ]
    assert log["totals"] == [
        {
            "agent": bob.webid,
            "client": CLIENT_ID,
            "resource": url(DOC),
            "purposes": [],
            "action": "read",
            "allowed": True,
            "count": 1,
        }
    ]
    assert log["retentionDays"] == 365


async def test_a_kept_answer_is_logged_too(
    pod: PodClient, alice: Agent, bob: Agent, app: Application
) -> None:
    await share_with(pod, alice, bob, DOC)
    first = await pod.get(DOC, as_agent=bob)
    assert first.status == 200
    assert len(app[ANSWERS]) == 1  # the second identical GET is answered from it
    second = await pod.get(DOC, as_agent=bob)
    assert second.status == 200
    records = (await read_log(pod))["records"]
    assert [r["id"] for r in records] == [
        second.headers["X-Request-Id"],
        first.headers["X-Request-Id"],
    ]
    assert records[0]["basis"] == records[1]["basis"] != []


async def test_a_changed_acl_changes_the_basis_of_the_next_record(
    pod: PodClient, alice: Agent, bob: Agent
) -> None:
    """What allowed a request is kept between requests; an ACL change ends that at once."""
    await share_with(pod, alice, bob, DOC)
    for _ in range(2):
        assert (await pod.get(DOC, as_agent=bob)).status == 200
    await share_with(pod, alice, bob, DOC, rule="reader")
    assert (await pod.get(DOC, as_agent=bob)).status == 200
    records = (await read_log(pod))["records"]
    rules = [r["basis"][0]["rule"] for r in records]
    assert rules == [url(DOC + ".acl#reader"), *[url(DOC + ".acl#member")] * 2]


async def test_a_grantee_is_logged_with_the_grant_and_its_purpose(
    pod: PodClient, bob: Agent
) -> None:
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
    body = {
        "recipient": bob.webid,
        "client": CLIENT_ID,
        "resources": [url(DOC)],
        "modes": ["read"],
        "purposes": [RECOMMENDATIONS],
        "expires": expires,
    }
    r = await pod.post("/.kluis/consent/pod/grants", json=body)
    assert r.status == 201, await r.text()
    grant = await r.json()
    r = await pod.get(DOC, as_agent=bob, headers={"Kluis-Purpose": RECOMMENDATIONS})
    assert r.status == 200
    [record] = (await read_log(pod))["records"]
    assert record["purposes"] == [RECOMMENDATIONS]
    [basis] = record["basis"]
    assert basis["source"] == "grant"
    assert basis["ref"] == grant["id"]
    assert basis["purposes"] == [RECOMMENDATIONS]
    assert basis["until"] > time.time()
    # The filters pick it out, by purpose and app, and nothing by another purpose.
    assert len((await read_log(pod, purpose=RECOMMENDATIONS, app=CLIENT_ID))["records"]) == 1
    assert (await read_log(pod, purpose="https://w3id.org/dpv#Marketing"))["records"] == []


async def test_a_refusal_is_logged_without_a_basis(pod: PodClient, bob: Agent) -> None:
    r = await pod.get(DOC, as_agent=bob)
    assert r.status == 403
    r = await pod.put(DOC, data="<#t> <#is> 'pop' .", headers=TURTLE, as_agent=bob)
    assert r.status == 403
    records = (await read_log(pod))["records"]
    assert [(x["method"], x["status"], x["basis"]) for x in records] == [
        ("PUT", 403, []),
        ("GET", 403, []),
    ]
    totals = (await read_log(pod, who=bob.webid))["totals"]
    assert {(t["action"], t["allowed"], t["count"]) for t in totals} == {
        ("read", False, 1),
        ("write", False, 1),
    }


async def test_the_owner_is_never_logged(pod: PodClient, alice: Agent, bob: Agent) -> None:
    for _ in range(2):
        assert (await pod.get(DOC)).status == 200
    assert (await pod.put(POD + "more", data="<#a> <#b> 'c' .", headers=TURTLE)).status == 201
    assert (await pod.get(DOC, as_agent=bob)).status == 403  # someone else: logged
    records = (await read_log(pod))["records"]
    assert [r["agent"] for r in records] == [bob.webid]


async def test_anonymous_reads_are_only_counted(
    pod: PodClient, alice: Agent, app: Application
) -> None:
    await make_public(pod, alice, DOC)
    for _ in range(3):
        assert (await pod.get(DOC, as_agent=None)).status == 200
    assert (await pod.head(DOC, as_agent=None)).status == 200
    assert (await pod.get(POD + "more", as_agent=None)).status in (401, 404)  # not counted
    log = await read_log(pod)
    assert log["records"] == []
    today = day_of(time.time())
    assert log["public"] == [{"resource": url(DOC), "day": today, "count": 4}]
    # Counted again on top, never one record per read.
    assert (await pod.get(DOC, as_agent=None)).status == 200
    assert (await read_log(pod))["public"] == [{"resource": url(DOC), "day": today, "count": 5}]
    disclosures = app[DISCLOSURES]
    assert isinstance(disclosures, DisclosureLog)
    lines = [json.loads(p) for p in disclosures.journal.read(key_of(POD), today)]
    assert [line["k"] for line in lines] == ["n", "n"]


async def test_retention_drops_whole_days(pod: PodClient, bob: Agent, app: Application) -> None:
    disclosures = app[DISCLOSURES]
    assert isinstance(disclosures, DisclosureLog)
    journal, key = disclosures.journal, key_of(POD)
    now = time.time()
    old, recent, today = (day_of(now - days * 86_400) for days in (30, 3, 0))
    for day in (old, recent):
        record = {"v": 1, "t": now, "r": "x", "a": bob.webid, "m": "GET", "p": DOC, "s": 200}
        journal.append(key, day, json.dumps(record).encode())
    assert (await pod.get(DOC, as_agent=bob)).status == 403
    assert journal.days(key) == [old, recent, today]
    assert len((await read_log(pod))["records"]) == 3
    for days in (6, 3651, "30"):
        r = await pod.put(LOG + "retention", json={"days": days})
        assert r.status == 400, days
    r = await pod.put(LOG + "retention", json={"days": 7})
    assert r.status == 200, await r.text()
    assert await r.json() == {"days": 7, "droppedDays": 1}
    assert journal.days(key) == [recent, today]
    log = await read_log(pod)
    assert (len(log["records"]), log["retentionDays"]) == (2, 7)
    # Someone else's retention cannot be set.
    r = await pod.put(LOG + "retention", json={"days": 7}, as_agent=bob)
    assert r.status == 404


async def test_only_the_owner_reads_the_log(pod: PodClient, bob: Agent, issuer: TestIssuer) -> None:
    assert (await pod.get(DOC, as_agent=bob)).status == 403
    r = await pod.get(LOG, as_agent=bob)
    assert r.status == 404
    assert bob.webid not in await r.text()
    assert (await pod.get(LOG, as_agent=None)).status == 401
    assert (await pod.get("/.kluis/disclosures/nobody/")).status == 404
    assert (await pod.get(LOG, params={"limit": "0"})).status == 400
    assert (await pod.get(LOG, params={"since": "yesterday"})).status == 400
    # Bob's probe of the log is recorded too; the owner's own reads of it are no disclosure.
    records = (await read_log(pod))["records"]
    assert [(x["method"], x["resource"], x["status"]) for x in records] == [
        ("GET", url(LOG), 404),
        ("GET", url(DOC), 403),
    ]


async def test_asking_for_access_is_logged(pod: PodClient, bob: Agent) -> None:
    """A request for access through the vault's API is a request to the pod by an identified
    agent, so it is recorded, with no basis (no rule allows asking); reading its status too."""
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
    body = f"""@prefix vc: <http://www.w3.org/ns/solid/vc#> .
@prefix gc: <https://w3id.org/GConsent#> .
@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix cred: <https://www.w3.org/2018/credentials#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<> a vc:SolidAccessRequest ; gc:forPersonalData <{url(DOC)}> ; acl:mode acl:Read ;
   gc:forPurpose <{RECOMMENDATIONS}> ; cred:expirationDate "{expires}"^^xsd:dateTime ."""
    asked = "/.kluis/consent/pod/requests"
    r = await pod.post(asked, data=body, headers=TURTLE, as_agent=bob)
    assert r.status == 201, await r.text()
    made = await r.json()
    status_path = "/" + made["id"].split("/", 3)[3]
    r = await pod.get(status_path, as_agent=bob)
    assert r.status == 200, await r.text()
    records = (await read_log(pod, who=bob.webid))["records"]
    assert [(x["method"], x["resource"], x["status"], x["basis"]) for x in records] == [
        ("GET", made["id"], 200, []),
        ("POST", url(asked), 201, []),
    ]
    # The owner's own calls to the same API are not recorded.
    assert (await pod.get(asked)).status == 200
    assert len((await read_log(pod))["records"]) == 2


async def test_the_time_window_selects_records(pod: PodClient, bob: Agent) -> None:
    assert (await pod.get(DOC, as_agent=bob)).status == 403
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert len((await read_log(pod, since=past, until=future))["records"]) == 1
    assert (await read_log(pod, since=future))["records"] == []
    assert (await read_log(pod, until=past))["records"] == []
    assert (await read_log(pod, resource=url(POD)))["records"] != []  # a container: within it
    assert (await read_log(pod, resource=url(POD + "other")))["records"] == []


async def test_no_log_is_kept_when_it_is_off(
    settings: Settings, backend: Backend, aiohttp_client: ClientFactory, alice: Agent, bob: Agent
) -> None:
    app = create_app(replace(settings, disclosure_log=False), backend=backend)
    client = PodClient(await aiohttp_client(app), alice)
    await create_owned_storage(app[STORE], POD, owner=alice.webid)
    assert app[DISCLOSURES] is None
    assert (await client.get(POD, as_agent=bob)).status == 403
    r = await client.get(LOG)
    assert r.status == 404
    assert "disclosure_log" in await r.text()


# A record is joined from bytes made before (pod.vault.disclosures.DisclosureLog.record): what
# it reads back as must be what was asked, at any time, for any method and any agent.
_TOKEN = st.text(alphabet="!#$%&'*+-.^_`|~ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    at=st.floats(min_value=0, max_value=4e9),
    method=st.one_of(st.sampled_from(["GET", "HEAD", "PUT", "PATCH", "DELETE"]), _TOKEN),
    status=st.integers(min_value=100, max_value=599),
    agent=st.text(),
)
def test_a_record_reads_back_as_what_was_asked(
    at: float, method: str, status: int, agent: str
) -> None:
    journal = MemoryJournal()
    log = DisclosureLog(journal, Storages(), clock=lambda: at)
    asker = Asker(root="/pod/", agent=agent, client=None, origin=None, path="/pod/x")
    for request_id in ("1a-2", "1a-3"):  # the second from what the first made
        log.record(fragment_of(asker), request_id, method, status)
    (day,) = journal.days(key_of("/pod/"))
    assert day == day_of(at)
    first, second = (json.loads(p) for p in journal.read(key_of("/pod/"), day))
    assert second["r"] == "1a-3"
    assert 0 <= at - first["t"] < 0.0011  # to the millisecond, not after
    assert (first["r"], first["m"], first["s"], first["a"]) == ("1a-2", method, status, agent)
