"""A crash during approvals leaves each grant whole or absent (issue 14: "kill -9 during approval
leaves either a whole grant or none"), on a real `kluis serve` with file storage and fsync.

Approving writes one record, the grant, under the request's own id (pod.vault.requests): the
file backend writes it to a temporary file and renames it into place. So after a kill -9 at any
moment every request is either granted, with a grant that reads back whole, or still pending,
and can be approved then."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import rdflib

from tests.examples.conftest import EXAMPLES  # noqa: F401 - puts examples/ on the path
from tests.support import free_port
from tests.support import wait_until_serving as wait_up
from tests.test_cli import account_with_client, server

PURPOSES = [
    "https://w3id.org/dpv#" + name
    for name in (
        "ProvidePersonalisedRecommendations",
        "Personalisation",
        "ServicePersonalisation",
        "UserInterfacePersonalisation",
        "ServiceUsageAnalytics",
        "Marketing",
        "DirectMarketing",
        "CommunicationManagement",
        "ResearchAndDevelopment",
        "AcademicResearch",
        "NonCommercialResearch",
        "CommercialResearch",
    )
]


def _ask(resource: str, purpose: str) -> str:
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    return f"""@prefix vc: <http://www.w3.org/ns/solid/vc#> .
@prefix gc: <https://w3id.org/GConsent#> .
@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix cred: <https://www.w3.org/2018/credentials#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<> a vc:SolidAccessRequest ; gc:forPersonalData <{resource}> ; acl:mode acl:Read ;
   gc:forPurpose <{purpose}> ; cred:expirationDate "{until}"^^xsd:dateTime .
"""


async def test_a_kill_during_approvals_leaves_whole_grants_or_none(tmp_path: Path) -> None:
    from dpop_client import SignedIn

    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    options = (
        *("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(tmp_path / "data")),
        *("--password-cost", "10", "--access-log", "false"),
    )
    api = base + ".kluis/consent/eve/"
    resource = base + "eve/preferences/personalisation.ttl"
    async with aiohttp.ClientSession() as session:
        with server(*options) as proc:
            await wait_up(base, proc)
            eve, news = account_with_client(base, "eve"), account_with_client(base, "news")
            asker = await SignedIn.sign_in(session, base, news["clientId"], news["clientSecret"])
            for purpose in PURPOSES:
                await asker.request(
                    "POST",
                    api + "requests",
                    data=_ask(resource, purpose),
                    headers={"Content-Type": "text/turtle"},
                )
            owner = await SignedIn.sign_in(session, base, eve["clientId"], eve["clientSecret"])
            requests = json.loads(await owner.request("GET", api + "requests"))["requests"]
            assert len(requests) == len(PURPOSES)

            async def approve(request: dict[str, Any]) -> None:
                with contextlib.suppress(aiohttp.ClientError):  # the server died under it
                    await owner.request("POST", request["id"], json={"action": "approve"})

            approvals = [asyncio.create_task(approve(r)) for r in requests]
            # Killed as soon as one approval is answered: others are under way or not begun.
            await asyncio.wait(approvals, return_when=asyncio.FIRST_COMPLETED)
            proc.kill()
            proc.wait()
            await asyncio.gather(*approvals, return_exceptions=True)
        with server(*options) as proc:
            await wait_up(base, proc)
            owner = await SignedIn.sign_in(session, base, eve["clientId"], eve["clientSecret"])
            after = json.loads(await owner.request("GET", api + "requests"))["requests"]
            assert len(after) == len(PURPOSES)
            statuses = [r["status"] for r in after]
            assert set(statuses) <= {"granted", "pending"}
            print("after the kill:", {s: statuses.count(s) for s in set(statuses)})
            # Every grant record reads back whole: parse each record in the consent container.
            grants_dir = base + "eve/consent/grants/"
            listing = rdflib.Graph().parse(
                data=await owner.request("GET", grants_dir, headers={"Accept": "text/turtle"}),
                format="turtle",
                publicID=grants_dir,
            )
            records = 0
            for pair in listing.objects(None, rdflib.URIRef("http://www.w3.org/ns/ldp#contains")):
                inner = rdflib.Graph().parse(
                    data=await owner.request("GET", str(pair), headers={"Accept": "text/turtle"}),
                    format="turtle",
                    publicID=str(pair),
                )
                for record in inner.objects(
                    None, rdflib.URIRef("http://www.w3.org/ns/ldp#contains")
                ):
                    text = await owner.request("GET", str(record))
                    graph = rdflib.Graph().parse(data=text, format="turtle", publicID=str(record))
                    assert (
                        None,
                        rdflib.URIRef("https://w3id.org/GConsent#isProvidedTo"),
                        None,
                    ) in graph
                    records += 1
            assert records == sum(r["status"] == "granted" for r in after)
            for request in after:
                if request["status"] == "granted":
                    assert request["granted"] == request["asked"]
                else:  # nothing half-done stands in the way of approving it now
                    await owner.request("POST", request["id"], json={"action": "approve"})
            final = json.loads(await owner.request("GET", api + "requests"))["requests"]
            assert {r["status"] for r in final} == {"granted"}
            reader = await SignedIn.sign_in(session, base, news["clientId"], news["clientSecret"])
            assert "personalisedRecommendations" in await reader.request("GET", resource)
