"""A publisher asks a person for access to part of their pod, for one purpose, and uses it while
it lasts.

Run against a `make serve` where the publisher has an account of its own, with its client
credentials (`kluis client create`), and a person's WebID on that server:

    .venv/bin/python examples/publisher.py http://localhost:3000/ \
        --client-id "$CLIENT_ID" --client-secret="$CLIENT_SECRET" \
        http://localhost:3000/alice/profile/card#me \
        http://localhost:3000/alice/preferences/personalisation.ttl

(`--client-secret=...` with `=`: a secret may begin with `-`.)

It finds where to ask in the person's profile (`kluis:accessRequests`), sends an access request
(Turtle; vocab/access-request-shapes.ttl says what one holds) for one purpose
(`--purpose`, a DPV purpose), waits for the person's decision by polling the request's status,
then reads what it was given, naming its purpose in a `Kluis-Purpose` header on every request.
It keeps reading (`--every`, `--for`) until access ends: when the person withdraws the grant or
it expires it says so and stops; it never asks again on its own after a no.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

try:
    import aiohttp
    import rdflib
    from dpop_client import Refused, SignedIn
except ImportError:
    sys.exit("run this with the Python in .venv (`make serve` makes it): .venv/bin/python ...")

RECOMMENDATIONS = "https://w3id.org/dpv#ProvidePersonalisedRecommendations"
ACCESS_REQUESTS = rdflib.URIRef("https://w3id.org/kluis#accessRequests")
PURPOSE_HEADER = "Kluis-Purpose"


async def call(me: SignedIn, method: str, url: str, **options: Any) -> tuple[int, Any]:
    """One authenticated request: its status and its body (JSON when it is JSON)."""
    headers = {
        "Authorization": f"DPoP {me.token}",
        "DPoP": me.dpop.proof(method, url, me.token),
        **options.pop("headers", {}),
    }
    async with me.session.request(method, url, headers=headers, **options) as r:
        if r.content_type in ("application/json", "application/problem+json"):
            return r.status, await r.json()
        return r.status, await r.text()


async def where_to_ask(session: aiohttp.ClientSession, webid: str) -> str:
    """The access request endpoint the person's profile names."""
    async with session.get(webid, headers={"Accept": "text/turtle"}) as r:
        if r.status != 200:
            raise Refused(f"cannot read the profile {webid}: {r.status}")
        profile = rdflib.Graph().parse(data=await r.text(), format="turtle", publicID=str(r.url))
    found = profile.value(rdflib.URIRef(webid), ACCESS_REQUESTS)
    if found is None:
        raise Refused(f"{webid} names no place to ask for access (kluis:accessRequests)")
    return str(found)


def access_request(resources: list[str], purpose: str, until: datetime, text: str) -> str:
    named = ", ".join(f"<{r}>" for r in resources)
    return f"""@prefix vc: <http://www.w3.org/ns/solid/vc#> .
@prefix gc: <https://w3id.org/GConsent#> .
@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix cred: <https://www.w3.org/2018/credentials#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<> a vc:SolidAccessRequest ;
    gc:forPersonalData {named} ;
    acl:mode acl:Read ;
    gc:forPurpose <{purpose}> ;
    cred:expirationDate "{until.isoformat().replace("+00:00", "Z")}"^^xsd:dateTime ;
    rdfs:comment "{text}"@en .
"""


async def ask(me: SignedIn, endpoint: str, body: str) -> dict[str, Any]:
    status, answer = await call(
        me, "POST", endpoint, data=body, headers={"Content-Type": "text/turtle"}
    )
    if status not in (200, 201):
        detail = answer.get("detail") if isinstance(answer, dict) else answer
        raise Refused(f"the request was refused ({status}): {detail}")
    return dict(answer)


async def decision(
    me: SignedIn, request: dict[str, Any], *, poll: float, wait: float
) -> dict[str, Any]:
    """The request's status once the person decided, or as it stands after `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        status, answer = await call(me, "GET", request["id"])
        if status != 200:
            raise Refused(f"cannot follow the request ({status}): {answer}")
        if answer["status"] != "pending" or time.monotonic() >= deadline:
            return dict(answer)
        await asyncio.sleep(poll)


async def use(
    me: SignedIn, request: dict[str, Any], purpose: str, *, every: float, last: float
) -> str:
    """Read what was granted every `every` seconds for `last` seconds, or until access ends;
    how it ended."""
    granted = request["granted"]["resources"]
    until = time.monotonic() + last
    while True:
        for resource in granted:
            status, body = await call(me, "GET", resource, headers={PURPOSE_HEADER: purpose})
            if status == 200:
                print(f"read {resource}: {len(body)} characters")
                continue
            # 403: look at why before doing anything else; access is not asked for again.
            _, now = await call(me, "GET", request["id"])
            reason = body.get("detail") if isinstance(body, dict) else body
            print(f"access ended ({now['status']}): {reason}")
            return str(now["status"])
        if time.monotonic() >= until:
            return "still granted"
        await asyncio.sleep(every)


async def main(args: argparse.Namespace) -> None:
    async with aiohttp.ClientSession() as session:
        me = await SignedIn.sign_in(session, args.server, args.client_id, args.client_secret)
        endpoint = await where_to_ask(session, args.webid)
        until = datetime.now(UTC) + timedelta(days=args.days)
        body = access_request(args.resources, args.purpose, until, args.text)
        request = await ask(me, endpoint, body)
        print(f"asked: {request['id']} ({request['status']})")
        request = await decision(me, request, poll=args.poll, wait=args.wait)
        print(f"decision: {request['status']}")
        if request["status"] != "granted":
            if request.get("reason"):
                print(f"reason: {request['reason']}")
            return
        granted = request["granted"]
        count = f"{len(granted['resources'])} of {len(args.resources)}"
        print(f"granted {count} until {granted['expires']}")
        ended = await use(me, request, args.purpose, every=args.every, last=args.last)
        print(f"done: {ended}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("server", help="the server's base URL, e.g. http://localhost:3000/")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("webid", help="the WebID of the person to ask")
    parser.add_argument("resources", nargs="+", help="URLs of what to ask for")
    parser.add_argument("--purpose", default=RECOMMENDATIONS, help="a DPV purpose IRI")
    parser.add_argument("--days", type=float, default=30, help="how long to ask for")
    parser.add_argument("--text", default="We use this to recommend articles to you.")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between status checks")
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for a decision")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between reads")
    parser.add_argument(
        "--for", dest="last", type=float, default=60.0, help="seconds to keep reading"
    )
    args = parser.parse_args()
    try:
        asyncio.run(main(args))
    except Refused as exc:
        sys.exit(f"publisher.py: {exc}")
