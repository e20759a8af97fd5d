"""Purpose-bound grants (issue 14 §4): a permission source beside WAC, checked on every request.

The owner gives, narrows and withdraws grants through the grant API; the grantee reads over
HTTP with a DPoP-bound token. Every check is made at request time: expiry with no sweeper, a
withdrawal at the next request in another worker, the client id, the purposes a request names.
Over real HTTP, once per storage backend."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.web import Application

from pod.app import create_app
from pod.config import Settings
from pod.storage.fs import FileBackend
from tests.conftest import POD, ClientFactory, url
from tests.support import CLIENT_ID, Agent, PodClient, TestIssuer

TURTLE = {"Content-Type": "text/turtle"}
API = "/.kluis/consent/pod/grants"
RECOMMENDATIONS = "https://w3id.org/dpv#ProvidePersonalisedRecommendations"
ADVERTISING = "https://w3id.org/dpv#PersonalisedAdvertising"
DOC, OTHER, FOLDER = POD + "prefs/topics", POD + "prefs/languages", POD + "prefs/"
OTHER_CLIENT = "https://ads.example/client#id"


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def terms(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resources": [url(DOC)],
        "modes": ["read"],
        "purposes": [RECOMMENDATIONS],
        "expires": iso(time.time() + 600),
    }
    body.update(changes)
    return body


async def give(owner: PodClient, bob: Agent, **changes: Any) -> dict[str, Any]:
    body = {"recipient": bob.webid, "client": CLIENT_ID, **terms(**changes)}
    r = await owner.post(API, json=body)
    assert r.status == 201, await r.text()
    grant: dict[str, Any] = await r.json()
    assert r.headers["Location"] == grant["id"]
    return grant


def local(api_url: str) -> str:
    """The path of a URL the server made (its base URL names another host than the test's)."""
    return "/" + api_url.split("/", 3)[3]


def other_app(issuer: TestIssuer, bob: Agent) -> Agent:
    """Bob, signed in through another app of his (another client id)."""
    ads = Agent(issuer, "bob", key=bob.dpop_key)
    ads.token = issuer.mint(webid=bob.webid, jkt=bob.jkt, client_id=OTHER_CLIENT)
    return ads


@pytest.fixture
async def pod(client: PodClient) -> PodClient:
    for path, body in ((DOC, "<#t> <#is> 'jazz' ."), (OTHER, "<#l> <#is> 'nl' .")):
        assert (await client.put(path, data=body, headers=TURTLE)).status == 201
    return client


async def test_a_grant_lets_its_grantee_read_what_it_names_and_nothing_else(
    pod: PodClient, bob: Agent
) -> None:
    assert (await pod.get(DOC, as_agent=bob)).status == 403
    grant = await give(pod, bob)
    assert grant["status"] == "given"
    assert [e["event"] for e in grant["history"]] == ["given"]
    r = await pod.get(DOC, as_agent=bob)
    assert r.status == 200
    assert "jazz" in await r.text()
    assert 'user="read"' in r.headers["WAC-Allow"]
    assert (await pod.get(OTHER, as_agent=bob)).status == 403
    r = await pod.put(DOC, data="<#t> <#is> 'pop' .", headers=TURTLE, as_agent=bob)
    assert r.status == 403
    assert "gives read, not write" in await r.text()
    assert "jazz" in await (await pod.get(DOC)).text()  # nothing written


async def test_another_app_of_the_grantee_gets_nothing(
    pod: PodClient, bob: Agent, issuer: TestIssuer
) -> None:
    await give(pod, bob)
    r = await pod.get(DOC, as_agent=other_app(issuer, bob))
    assert r.status == 403
    assert "grant" not in await r.text()  # it holds none: nothing to explain
    r = await pod.get(DOC, as_agent=bob)
    assert r.status == 200, await r.text()


async def test_a_request_naming_a_purpose_the_grant_does_not_cover_is_refused(
    pod: PodClient, bob: Agent
) -> None:
    await give(pod, bob)
    r = await pod.get(DOC, as_agent=bob, headers={"Kluis-Purpose": RECOMMENDATIONS})
    assert r.status == 200
    r = await pod.get(DOC, as_agent=bob, headers={"Kluis-Purpose": ADVERTISING})
    assert r.status == 403
    text = await r.text()
    assert f"does not cover the purpose {ADVERTISING}" in text
    assert RECOMMENDATIONS in text
    both = f"{RECOMMENDATIONS}, {ADVERTISING}"
    assert (await pod.get(DOC, as_agent=bob, headers={"Kluis-Purpose": both})).status == 403


@pytest.mark.parametrize("value", ["recommendations", "urn:x:y", "", "https://a.example/x, ,"])
async def test_a_purpose_that_is_not_an_iri_is_a_bad_request(
    pod: PodClient, bob: Agent, value: str
) -> None:
    await give(pod, bob)
    r = await pod.get(DOC, as_agent=bob, headers={"Kluis-Purpose": value})
    assert r.status == 400
    assert "Kluis-Purpose" in await r.text()


async def test_a_grant_ends_at_its_expiry_with_no_sweeper(pod: PodClient, bob: Agent) -> None:
    await give(pod, bob, expires=iso(time.time() + 1.5))
    assert (await pod.get(DOC, as_agent=bob)).status == 200
    await asyncio.sleep(1.6)
    r = await pod.get(DOC, as_agent=bob)
    assert r.status == 403
    assert "expired at" in await r.text()
    listed = await (await pod.get(API)).json()
    assert [g["status"] for g in listed["grants"]] == ["expired"]


async def test_a_withdrawal_holds_at_the_next_request_in_every_worker(
    workers: tuple[PodClient, PodClient], bob: Agent
) -> None:
    first, second = workers
    for path, body in ((DOC, "<#t> <#is> 'jazz' ."),):
        assert (await first.put(path, data=body, headers=TURTLE)).status == 201
    grant = await give(first, bob)
    # The second worker reads the pod's grants at its first request, then follows the feed.
    assert (await second.get(DOC, as_agent=bob)).status == 200
    r = await first.post(local(grant["api"]), json={"action": "withdraw"})
    assert r.status == 200
    withdrawn = await r.json()
    assert withdrawn["status"] == "withdrawn"
    assert [e["event"] for e in withdrawn["history"]] == ["given", "withdrawn"]
    r = await second.get(DOC, as_agent=bob)
    assert r.status == 403
    assert "was withdrawn" in await r.text()
    again = await give(second, bob)  # a new grant, given in the other worker
    assert (await first.get(DOC, as_agent=bob)).status == 200
    assert again["id"] != grant["id"]


async def test_narrowing_takes_away_and_is_kept_in_the_history(pod: PodClient, bob: Agent) -> None:
    grant = await give(pod, bob, resources=[url(DOC), url(OTHER)], modes=["read", "append"])
    assert (await pod.get(OTHER, as_agent=bob)).status == 200
    change = local(grant["api"])
    r = await pod.post(
        change, json={"action": "narrow", "resources": [url(DOC)], "modes": ["read"]}
    )
    assert r.status == 200, await r.text()
    narrowed = await r.json()
    assert narrowed["resources"] == [url(DOC)]
    assert [e["event"] for e in narrowed["history"]] == ["given", "narrowed"]
    assert narrowed["history"][0]["terms"]["resources"] == sorted([url(DOC), url(OTHER)])
    assert (await pod.get(OTHER, as_agent=bob)).status == 403
    assert (await pod.get(DOC, as_agent=bob)).status == 200
    wider = {"action": "narrow", "modes": ["read", "write"]}
    r = await pod.post(change, json=wider)
    assert r.status == 400
    assert "can only take away" in await r.text()


async def test_a_grant_with_inherit_covers_a_containers_contents(
    pod: PodClient, bob: Agent
) -> None:
    await give(pod, bob, resources=[url(FOLDER)])
    assert (await pod.get(FOLDER, as_agent=bob)).status == 200
    assert (await pod.get(DOC, as_agent=bob)).status == 403
    await give(pod, bob, resources=[url(FOLDER)], inherit=True)
    assert (await pod.get(DOC, as_agent=bob)).status == 200
    assert (await pod.get(OTHER, as_agent=bob)).status == 200


async def test_grant_records_are_rdf_the_owner_reads_and_nobody_writes(
    pod: PodClient, bob: Agent
) -> None:
    grant = await give(pod, bob)
    record = "/" + grant["id"].removeprefix(url("/"))
    r = await pod.get(record)
    assert r.status == 200
    text = await r.text()
    for term in ("isProvidedTo", "forPurpose", "ProvidePersonalisedRecommendations", "Given"):
        assert term in text
    assert CLIENT_ID in text
    assert (await pod.get(record, as_agent=bob)).status == 403
    assert (await pod.get(POD + "consent/grants/", as_agent=None)).status == 401
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for target in (record, POD + "consent/grants/", POD + "consent/", POD + "consent/.acl"):
            r = await pod.request(
                method, target, data="<#a> <#b> <#c> .", headers={"Content-Type": "text/turtle"}
            )
            assert r.status == 405, (method, target, r.status)
            assert "kept by the server" in await r.text()
    assert text == await (await pod.get(record)).text()
    for target in (record, POD + "consent/grants/"):
        r = await pod.options(target)
        assert set(r.headers["Allow"].split(", ")) == {"OPTIONS", "HEAD", "GET"}
        assert "Accept-Put" not in r.headers
        assert "Accept-Patch" not in r.headers


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"resources": []}, "at least one resource"),
        ({"resources": ["https://elsewhere.example/x"]}, "URL on this server"),
        ({"resources": [url("/other/doc")]}, "not a resource of this pod"),
        ({"resources": [url(POD + "consent/grants/")]}, "not a resource of this pod"),
        ({"modes": ["control"]}, "modes must be"),
        ({"modes": []}, "one or more of the modes"),
        ({"purposes": []}, "one to 10 purposes"),
        ({"purposes": ["advertising"]}, "purpose IRIs"),
        ({"expires": iso(time.time() - 5)}, "end in the future"),
        ({"expires": "tomorrow"}, "not a date and time"),
        ({"expires": "2030-01-01T00:00:00"}, "time zone"),
        ({"inherit": "yes"}, "true or false"),
        ({"recipient": "bob"}, "recipient must be"),
    ],
)
async def test_bad_grants_are_refused_with_a_reason_and_nothing_stored(
    pod: PodClient, bob: Agent, changes: dict[str, Any], reason: str
) -> None:
    body = {"recipient": bob.webid, "client": CLIENT_ID, **terms()}
    body.update(changes)
    r = await pod.post(API, json=body)
    assert r.status == 400
    assert reason in await r.text()
    assert (await (await pod.get(API)).json())["grants"] == []


async def test_only_the_owner_manages_a_storages_grants(pod: PodClient, bob: Agent) -> None:
    body = {"recipient": bob.webid, "client": CLIENT_ID, **terms()}
    r = await pod.post(API, json=body, as_agent=bob)
    assert r.status == 404
    assert (await pod.get(API, as_agent=bob)).status == 404
    assert (await pod.get(API, as_agent=None)).status == 401
    assert (await pod.get("/.kluis/consent/nobody/grants")).status == 404
    r = await pod.post(API, data="x", headers={"Content-Type": "text/plain"})
    assert r.status == 415


async def test_grants_are_read_again_by_a_new_process(
    aiohttp_client: ClientFactory,
    settings: Settings,
    backend_kind: str,
    alice: Agent,
    bob: Agent,
    pod: PodClient,
) -> None:
    if backend_kind != "fs":
        pytest.skip("only files outlive the process")
    await give(pod, bob)
    fresh: Application = create_app(settings, backend=FileBackend(settings.data_dir, fsync=False))
    later = PodClient(await aiohttp_client(fresh), alice)
    assert (await later.get(DOC, as_agent=bob)).status == 200
    listed = await (await later.get(API)).json()
    assert [g["recipient"] for g in listed["grants"]] == [bob.webid]


async def test_a_client_session_sees_its_grant_in_wac_allow(pod: PodClient, bob: Agent) -> None:
    await give(pod, bob, modes=["read", "append"])
    r = await pod.head(DOC, as_agent=bob)
    assert r.status == 200
    assert 'user="read append"' in r.headers["WAC-Allow"]
    assert 'public=""' in r.headers["WAC-Allow"]


async def test_a_grant_binds_a_client_id_that_is_not_a_url(
    pod: PodClient, bob: Agent, issuer: TestIssuer
) -> None:
    """Client credentials from Kluis's own identity provider have ids that are not IRIs."""
    own = Agent(issuer, "bob", key=bob.dpop_key)
    own.token = issuer.mint(webid=bob.webid, jkt=bob.jkt, client_id="kluis-cc-0123abcd")
    body = {"recipient": bob.webid, "client": "kluis-cc-0123abcd", **terms()}
    r = await pod.post(API, json=body)
    assert r.status == 201, await r.text()
    assert (await pod.get(DOC, as_agent=own)).status == 200
    assert (await pod.get(DOC, as_agent=bob)).status == 403  # another client
    record = await pod.get("/" + (await r.json())["id"].split("/", 3)[3])
    assert '"kluis-cc-0123abcd"' in await record.text()
