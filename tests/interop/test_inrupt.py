"""Interoperability: Inrupt's JavaScript Solid clients, from the npm registry, against Kluis.

A real Kluis process serves two accounts with pods. `inrupt.mjs` (beside this file) logs in as
the first with client credentials through `@inrupt/solid-client-authn-node` (DPoP-bound token),
then writes, updates, reads and lists RDF and files in its pod with `@inrupt/solid-client`, and
is refused the second pod's private resource. The JavaScript packages and the fixtures come
from conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import aiohttp
import pytest
from rdflib import Graph, Literal, URIRef

from tests.interop.conftest import Server, client_credentials, person, run_script

SCRIPT: Final = Path(__file__).parent / "inrupt.mjs"

pytestmark = pytest.mark.slow


async def test_inrupt_clients_log_in_read_and_write(node: str, kluis: Server) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await person(kluis, http, "alice")
        bob = await person(kluis, http, "bob")
        # Something private in bob's pod, written by bob.
        secret = bob.pod_root + "private/secret.ttl"
        bob_token = await client_credentials(kluis, http, bob)
        async with http.put(
            secret,
            data="<#it> <https://schema.org/name> 'bob only' .",
            headers={"Content-Type": "text/turtle", **bob_token.headers("PUT", secret)},
        ) as r:
            assert r.status == 201, await r.text()
        async with http.get(secret) as r:
            assert r.status == 401  # private: anonymous readers are turned away

    summary, steps = await run_script(
        node,
        SCRIPT,
        kluis,
        {
            **alice.script_options(kluis),
            "forbidden": secret,
        },
    )
    assert list(steps) == [
        "login",
        "pods from profile",
        "create container",
        "write RDF",
        "read RDF",
        "update RDF",
        "write file",
        "read file",
        "list container",
        "other pod is forbidden",
        "delete file",
    ]
    assert steps["login"]["webId"] == alice.webid
    assert steps["pods from profile"]["pods"] == [alice.pod_root]
    assert steps["read file"]["contentType"].startswith("text/plain")
    container = summary["container"]
    assert steps["list container"]["contains"] == [container + "hello.txt", container + "note"]
    assert steps["other pod is forbidden"]["status"] == 403

    # What the JavaScript client wrote is what Kluis stored: read it back as alice, from Python.
    note = container + "note"
    async with aiohttp.ClientSession() as http:
        alice_token = await client_credentials(kluis, http, alice)
        async with http.get(
            note, headers={"Accept": "text/turtle", **alice_token.headers("GET", note)}
        ) as r:
            assert r.status == 200, await r.text()
            turtle = await r.text()
    graph = Graph().parse(data=turtle, format="turtle", publicID=note)
    it = URIRef(note + "#it")
    assert graph.value(it, URIRef("https://schema.org/name")) == Literal("Kluis interop")
    assert graph.value(it, URIRef("https://schema.org/version")) == Literal(2)
