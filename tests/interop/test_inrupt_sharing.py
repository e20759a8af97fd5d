"""Interoperability: sharing with `@inrupt/solid-client`'s universalAccess against Kluis.

A real Kluis process serves two accounts with pods; alice's pod holds a document with no ACL of
its own. `sharing.mjs` (beside this file) logs both in with client credentials, grants bob Read
as alice with `universalAccess.setAgentAccess` (which writes a new ACL copied from the pod's, with
`acl:default` on a document and the rule IRIs of the pod's ACL), has bob read, revokes, and has
bob refused. Python then checks the ACL Kluis stored is the one Inrupt's library wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import aiohttp
import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import RDF

from tests.interop.conftest import Server, client_credentials, person, run_script

SCRIPT: Final = Path(__file__).parent / "sharing.mjs"
ACL: Final = Namespace("http://www.w3.org/ns/auth/acl#")

pytestmark = pytest.mark.slow


async def test_inrupt_universal_access_shares_and_revokes(node: str, kluis: Server) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await person(kluis, http, "alice")
        bob = await person(kluis, http, "bob")
        alice_token = await client_credentials(kluis, http, alice)
        doc = alice.pod_root + "shared/doc"
        async with http.put(
            doc,
            data="<#it> <https://schema.org/name> 'to share' .",
            headers={"Content-Type": "text/turtle", **alice_token.headers("PUT", doc)},
        ) as r:
            assert r.status == 201, await r.text()

    summary, steps = await run_script(
        node,
        SCRIPT,
        kluis,
        {
            **alice.script_options(kluis),
            "agent-client-id": bob.client_id,
            "agent-client-secret": bob.client_secret,
            "agent-webid": bob.webid,
            "resource": doc,
        },
    )
    assert list(steps) == [
        "owner login",
        "agent login",
        "agent refused before sharing",
        "share",
        "agent reads",
        "owner keeps access",
        "revoke",
        "agent refused after revoking",
    ]
    assert steps["agent reads"]["status"] == 200
    assert steps["agent refused after revoking"]["status"] == 403
    assert summary["granted"]["read"] is True

    # The ACL as Inrupt's library wrote it: the pod's rules under their own IRIs (in the pod's
    # ACL document), with acl:default naming the document, and still alice's.
    acl_url = doc + ".acl"
    async with aiohttp.ClientSession() as http:
        token = await client_credentials(kluis, http, alice)
        async with http.get(
            acl_url, headers={"Accept": "text/turtle", **token.headers("GET", acl_url)}
        ) as r:
            assert r.status == 200, await r.text()
            turtle = await r.text()
    graph = Graph().parse(data=turtle, format="turtle", publicID=acl_url)
    rules = set(graph.subjects(RDF.type, ACL.Authorization))
    owner_rule = URIRef(alice.pod_root + ".acl#owner")
    assert owner_rule in rules, turtle
    assert (owner_rule, ACL.default, URIRef(doc)) in graph, turtle
    assert (owner_rule, ACL.agent, URIRef(alice.webid)) in graph, turtle
    bob_modes = {
        m for r in graph.subjects(ACL.agent, URIRef(bob.webid)) for m in graph.objects(r, ACL.mode)
    }
    assert ACL.Read not in bob_modes, turtle
