"""Access requests (issue 14 §3) and standing choices (§2), over real HTTP, on both backends.

A publisher asks; the owner approves (perhaps narrower) or denies; the publisher follows its
request's status and nothing else of the owner's; a purpose the owner refused once and for all
is denied at once and never waits for the owner."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from pod.vault.requests import MAX_PENDING
from tests.conftest import POD, url
from tests.support import Agent, PodClient

TURTLE = {"Content-Type": "text/turtle"}
API = "/.kluis/consent/pod/"
RECOMMENDATIONS = "https://w3id.org/dpv#ProvidePersonalisedRecommendations"
DPV = "https://w3id.org/dpv#"
ADVERTISING = DPV + "PersonalisedAdvertising"
TOPICS, LANGUAGES, HISTORY = POD + "prefs/topics", POD + "prefs/languages", POD + "prefs/history"


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def ask_body(
    *resources: str, purpose: str = RECOMMENDATIONS, until: float | None = None, text: str = ""
) -> str:
    named = ", ".join(f"<{url(r)}>" for r in resources or (TOPICS,))
    expires = iso(until if until is not None else time.time() + 3600)
    comment = f' ; rdfs:comment "{text}"@en' if text else ""
    return f"""
@prefix vc: <http://www.w3.org/ns/solid/vc#> .
@prefix gc: <https://w3id.org/GConsent#> .
@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix dpv: <https://w3id.org/dpv#> .
@prefix cred: <https://www.w3.org/2018/credentials#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<> a vc:SolidAccessRequest ;
   gc:forPersonalData {named} ;
   acl:mode acl:Read ;
   gc:forPurpose <{purpose}> ;
   cred:expirationDate "{expires}"^^xsd:dateTime {comment} .
"""


async def ask(pod: PodClient, who: Agent, body: str, status: int = 201) -> dict[str, Any]:
    r = await pod.post(API + "requests", data=body, headers=TURTLE, as_agent=who)
    assert r.status == status, await r.text()
    made: dict[str, Any] = await r.json()
    assert r.headers["Location"] == made["id"]
    return made


def local(api_url: str) -> str:
    return "/" + api_url.split("/", 3)[3]


@pytest.fixture
async def pod(client: PodClient) -> PodClient:
    for path in (TOPICS, LANGUAGES, HISTORY):
        assert (await client.put(path, data="<#x> <#is> 'mine' .", headers=TURTLE)).status == 201
    return client


async def test_a_request_approved_narrower_allows_what_was_approved_until_it_ends(
    pod: PodClient, bob: Agent
) -> None:
    made = await ask(pod, bob, ask_body(TOPICS, LANGUAGES, HISTORY, text="For our tips"))
    assert made["status"] == "pending"
    assert made["requester"] == bob.webid
    assert made["texts"] == {"en": "For our tips"}
    status_url = local(made["id"])
    seen = await (await pod.get(status_url, as_agent=bob)).json()
    assert seen["status"] == "pending", seen
    assert (await pod.get(TOPICS, as_agent=bob)).status == 403  # asking gives nothing
    listed = (await (await pod.get(API + "requests")).json())["requests"]
    assert [r["status"] for r in listed] == ["pending"]
    approval = {
        "action": "approve",
        "resources": [url(TOPICS), url(LANGUAGES)],
        "expires": iso(time.time() + 2),
    }
    r = await pod.post(status_url, json=approval)
    assert r.status == 200, await r.text()
    seen = await (await pod.get(status_url, as_agent=bob)).json()
    assert seen["status"] == "granted"
    assert seen["granted"]["resources"] == sorted([url(TOPICS), url(LANGUAGES)])
    assert len(seen["asked"]["resources"]) == 3
    assert (await pod.get(TOPICS, as_agent=bob)).status == 200
    assert (await pod.get(LANGUAGES, as_agent=bob)).status == 200
    assert (await pod.get(HISTORY, as_agent=bob)).status == 403
    r = await pod.post(status_url, json={"action": "approve"})
    assert r.status == 409  # decided already
    assert (await pod.post(status_url, json={"action": "deny"})).status == 409
    await asyncio.sleep(2.1)
    assert (await pod.get(TOPICS, as_agent=bob)).status == 403
    assert (await (await pod.get(status_url, as_agent=bob)).json())["status"] == "expired"


async def test_an_approval_cannot_give_more_than_was_asked(pod: PodClient, bob: Agent) -> None:
    made = await ask(pod, bob, ask_body(TOPICS))
    wider = {"action": "approve", "resources": [url(TOPICS), url(HISTORY)]}
    r = await pod.post(local(made["id"]), json=wider)
    assert r.status == 400
    assert "never more" in await r.text()
    assert (await pod.get(TOPICS, as_agent=bob)).status == 403


async def test_the_requester_sees_its_own_request_and_nothing_else(
    pod: PodClient, bob: Agent, issuer: Any
) -> None:
    made = await ask(pod, bob, ask_body())
    carol = Agent(issuer, "carol")
    assert (await pod.get(local(made["id"]), as_agent=carol)).status == 404
    assert (await pod.get(local(made["id"]), as_agent=None)).status == 401
    assert (await pod.get(API + "requests", as_agent=bob)).status == 404
    assert (await pod.get(POD + "consent/requests/", as_agent=bob)).status == 403
    record = POD + "consent/requests/" + made["id"].rsplit("/", 1)[1]
    assert (await pod.get(record, as_agent=bob)).status == 403
    r = await pod.get(record)
    assert r.status == 200
    assert "SolidAccessRequest" in await r.text()


async def test_the_same_ask_while_pending_is_the_same_request(pod: PodClient, bob: Agent) -> None:
    first = await ask(pod, bob, ask_body(TOPICS, until=time.time() + 3600))
    again = await ask(pod, bob, ask_body(TOPICS, until=time.time() + 7200), status=200)
    assert again["id"] == first["id"]
    assert len((await (await pod.get(API + "requests")).json())["requests"]) == 1


async def test_after_a_denial_the_same_ask_waits_for_the_cool_down(
    pod: PodClient, bob: Agent
) -> None:
    made = await ask(pod, bob, ask_body(TOPICS))
    r = await pod.post(local(made["id"]), json={"action": "deny"})
    assert r.status == 200
    assert (await r.json())["status"] == "denied"
    seen = await (await pod.get(local(made["id"]), as_agent=bob)).json()
    assert seen["status"] == "denied"
    assert seen["granted"] is None
    r = await pod.post(API + "requests", data=ask_body(TOPICS), headers=TURTLE, as_agent=bob)
    assert r.status == 429
    assert int(r.headers["Retry-After"]) > 3600
    assert "denied" in await r.text()
    await ask(pod, bob, ask_body(LANGUAGES))  # another ask is not held back


async def test_a_purpose_refused_once_and_for_all_is_denied_without_asking(
    pod: PodClient, bob: Agent
) -> None:
    assert (await (await pod.get(API + "choices", as_agent=None)).json()) == {"never": []}
    r = await pod.put(API + "choices", json={"never": [ADVERTISING]})
    assert r.status == 200, await r.text()
    assert (await (await pod.get(API + "choices", as_agent=None)).json()) == {
        "never": [ADVERTISING]
    }
    public = await pod.get(POD + "consent/choices", as_agent=None)  # data anyone may read
    assert public.status == 200
    assert "dpv:PersonalisedAdvertising" in await public.text()
    made = await ask(pod, bob, ask_body(TOPICS, purpose=ADVERTISING))
    assert made["status"] == "denied"
    assert "never allows" in made["reason"]
    pending = [
        r
        for r in (await (await pod.get(API + "requests")).json())["requests"]
        if r["status"] == "pending"
    ]
    assert pending == []
    assert (await ask(pod, bob, ask_body(TOPICS)))["status"] == "pending"  # other purposes
    r = await pod.put(API + "choices", json={"never": ["https://example.org/not-a-purpose"]})
    assert r.status == 400
    assert (await pod.put(API + "choices", json={"never": []}, as_agent=bob)).status == 404


async def test_a_malformed_request_is_refused_with_reasons_and_nothing_stored(
    pod: PodClient, bob: Agent
) -> None:
    body = ask_body().replace("acl:mode acl:Read", "acl:mode acl:Control")
    r = await pod.post(API + "requests", data=body, headers=TURTLE, as_agent=bob)
    assert r.status == 422
    assert "mode" in await r.text()
    r = await pod.post(API + "requests", data="<> a", headers=TURTLE, as_agent=bob)
    assert r.status in (400, 422)
    outside = ask_body().replace(url(TOPICS), "https://elsewhere.example/data")
    r = await pod.post(API + "requests", data=outside, headers=TURTLE, as_agent=bob)
    assert r.status == 400
    assert (await (await pod.get(API + "requests")).json())["requests"] == []
    r = await pod.post(API + "requests", data=ask_body(), headers=TURTLE, as_agent=None)
    assert r.status == 401
    assert (
        await pod.post(
            "/.kluis/consent/nobody/requests", data=ask_body(), headers=TURTLE, as_agent=bob
        )
    ).status == 404


async def test_a_requester_waits_for_decisions_beyond_a_bound(pod: PodClient, bob: Agent) -> None:
    subsets = [(TOPICS,), (LANGUAGES,), (HISTORY,), (TOPICS, LANGUAGES), (TOPICS, HISTORY)]
    purposes = [RECOMMENDATIONS, ADVERTISING, DPV + "Personalisation", DPV + "Marketing"]
    purposes.append(DPV + "DirectMarketing")
    asks = [ask_body(*s, purpose=p) for s in subsets for p in purposes]
    for body in asks[:MAX_PENDING]:
        await ask(pod, bob, body)
    r = await pod.post(API + "requests", data=asks[MAX_PENDING], headers=TURTLE, as_agent=bob)
    assert r.status == 429
    assert "wait for their decisions" in await r.text()


async def test_requests_are_found_from_the_storage_description(pod: PodClient) -> None:
    r = await pod.get(POD + ".well-known/solid")
    assert r.status == 200
    text = await r.text()
    assert "accessRequests" in text
    assert url("/.kluis/consent/pod/requests") in text


@pytest.mark.parametrize("first", ["approve", "deny"])
async def test_an_approval_and_a_denial_at_once_cannot_both_land(
    pod: PodClient, bob: Agent, first: str
) -> None:
    made = await ask(pod, bob, ask_body(TOPICS))
    second = "deny" if first == "approve" else "approve"
    answers = await asyncio.gather(
        pod.post(local(made["id"]), json={"action": first}),
        pod.post(local(made["id"]), json={"action": second}),
    )
    assert sorted(r.status for r in answers) == [200, 409]
    won = {"approve": "granted", "deny": "denied"}[first if answers[0].status == 200 else second]
    seen = await (await pod.get(local(made["id"]), as_agent=bob)).json()
    assert seen["status"] == won
    assert ((await pod.get(TOPICS, as_agent=bob)).status == 200) == (won == "granted")


async def test_an_app_cannot_decide_on_its_own_request(
    pod: PodClient, bob: Agent, issuer: Any
) -> None:
    made = await ask(pod, bob, ask_body(TOPICS))
    same_app = Agent(issuer, "alice")  # the owner, signed in through the asking app
    r = await pod.post(local(made["id"]), json={"action": "approve"}, as_agent=same_app)
    assert r.status == 403
    assert "its own request" in await r.text()
    assert (await pod.get(TOPICS, as_agent=bob)).status == 403


async def test_a_cool_down_holds_for_every_app_of_the_requester(
    pod: PodClient, bob: Agent, issuer: Any
) -> None:
    made = await ask(pod, bob, ask_body(TOPICS))
    assert (await pod.post(local(made["id"]), json={"action": "deny"})).status == 200
    other = Agent(issuer, "bob", key=bob.dpop_key)
    other.token = issuer.mint(webid=bob.webid, jkt=bob.jkt, client_id="https://b.example/id")
    r = await pod.post(API + "requests", data=ask_body(TOPICS), headers=TURTLE, as_agent=other)
    assert r.status == 429


async def test_a_grant_of_the_whole_pod_never_opens_what_the_server_keeps(
    pod: PodClient, bob: Agent
) -> None:
    made = await ask(
        pod,
        bob,
        ask_body(POD).replace("acl:mode", "<https://w3id.org/kluis#inherit> true ; acl:mode"),
    )
    assert (await pod.post(local(made["id"]), json={"action": "approve"})).status == 200
    assert (await pod.get(TOPICS, as_agent=bob)).status == 200
    for kept in (
        "consent/",
        "consent/grants/",
        "consent/requests/",
        "consent/requests/" + made["id"].rsplit("/", 1)[1],
    ):
        assert (await pod.get(POD + kept, as_agent=bob)).status == 403, kept


async def test_never_for_a_purpose_covers_the_narrower_ones_under_it(
    pod: PodClient, bob: Agent
) -> None:
    assert (await pod.put(API + "choices", json={"never": [DPV + "Advertising"]})).status == 200
    for narrower in (ADVERTISING, DPV + "TargetedAdvertising"):
        made = await ask(pod, bob, ask_body(TOPICS, purpose=narrower))
        assert made["status"] == "denied", narrower
        assert narrower in made["reason"]
    assert (await ask(pod, bob, ask_body(TOPICS)))["status"] == "pending"


async def test_a_choice_made_later_denies_what_waits(pod: PodClient, bob: Agent) -> None:
    waiting = await ask(pod, bob, ask_body(TOPICS, purpose=ADVERTISING))
    other = await ask(pod, bob, ask_body(TOPICS))
    assert (await pod.put(API + "choices", json={"never": [ADVERTISING]})).status == 200
    seen = await (await pod.get(local(waiting["id"]), as_agent=bob)).json()
    assert seen["status"] == "denied"
    assert "never allows" in seen["reason"]
    assert (await (await pod.get(local(other["id"]), as_agent=bob)).json())["status"] == "pending"
    r = await pod.post(local(waiting["id"]), json={"action": "approve"})
    assert r.status == 409
