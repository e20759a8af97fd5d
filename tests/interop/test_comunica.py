"""Interoperability: Comunica's SPARQL engine for Solid, from the npm registry, against Kluis.

A real Kluis process serves two accounts with pods. Python seeds private documents in the first
pod; `comunica.mjs` (beside this file) logs in as its owner with client credentials through
`@inrupt/solid-client-authn-node` and hands the session to `@comunica/query-sparql-solid`, which
queries one document, joins two, reads the WebID profile, updates a document with INSERT DATA and
DELETE/INSERT WHERE (PATCH, as Kluis advertises `Accept-Patch: application/sparql-update`),
creates a document with INSERT DATA (PUT, as the 404 says `Allow: ... PUT`), and is refused the
second pod's private document; then it queries anonymously, a public profile and a private
document. Python reads the written documents back. The fixtures come from conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

from tests.interop.conftest import Server, Token, client_credentials, person, run_script

SCRIPT: Final = Path(__file__).parent / "comunica.mjs"
SCHEMA: Final = Namespace("https://schema.org/")

pytestmark = pytest.mark.slow


async def _put_turtle(http: aiohttp.ClientSession, token: Token, url: str, turtle: str) -> None:
    async with http.put(
        url,
        data=turtle,
        headers={"Content-Type": "text/turtle", **token.headers("PUT", url)},
    ) as r:
        assert r.status == 201, await r.text()


async def _get_graph(http: aiohttp.ClientSession, token: Token, url: str) -> Graph:
    async with http.get(url, headers={"Accept": "text/turtle", **token.headers("GET", url)}) as r:
        assert r.status == 200, await r.text()
        turtle = await r.text()
    return Graph().parse(data=turtle, format="turtle", publicID=url)


def _writes(step: dict[str, Any]) -> list[tuple[str, str | None, int]]:
    """The method, body type and status of each write Comunica sent during `step`."""
    return [
        (r["method"], r.get("contentType"), r["status"])
        for r in step["requests"]
        if r["method"] not in ("GET", "HEAD")
    ]


async def test_comunica_queries_and_updates_a_pod(node: str, kluis: Server) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await person(kluis, http, "alice")
        bob = await person(kluis, http, "bob")
        data = alice.pod_root + "comunica/"
        people, ages, notes, new_doc = (data + n for n in ("people", "ages", "notes", "new"))
        alice_token = await client_credentials(kluis, http, alice)
        await _put_turtle(
            http,
            alice_token,
            people,
            "@prefix schema: <https://schema.org/>.\n"
            "<#ann> schema:name 'Ann'; schema:email <mailto:ann@example.org>.\n"
            "<#bert> schema:name 'Bert'; schema:email <mailto:bert@example.org>.\n",
        )
        await _put_turtle(
            http,
            alice_token,
            ages,
            "@prefix schema: <https://schema.org/>.\n"
            f"<{people}#ann> schema:age 34.\n<{people}#bert> schema:age 51.\n",
        )
        await _put_turtle(http, alice_token, notes, "<#n0> <https://schema.org/text> 'seed'.\n")
        async with http.get(people) as r:
            assert r.status == 401  # private: anonymous readers are turned away
        # Something private in bob's pod, written by bob.
        secret = bob.pod_root + "private/secret.ttl"
        await _put_turtle(
            http,
            await client_credentials(kluis, http, bob),
            secret,
            "<#it> <https://schema.org/name> 'bob only' .",
        )

    _, steps = await run_script(
        node,
        SCRIPT,
        kluis,
        {
            **alice.script_options(kluis),
            "people": people,
            "ages": ages,
            "notes": notes,
            "new-doc": new_doc,
            "forbidden": secret,
        },
    )
    assert list(steps) == [
        "login",
        "select private document",
        "join two documents",
        "query the profile",
        "insert data",
        "delete/insert where",
        "read back the updates",
        "insert data into a new document",
        "other pod is refused",
        "anonymous: public profile",
        "anonymous: private document is refused",
    ]
    assert steps["login"]["webId"] == alice.webid
    assert steps["join two documents"]["rows"] == [
        {"name": "Bert", "age": "51"},
        {"name": "Ann", "age": "34"},
    ]
    assert steps["query the profile"]["rows"] == [{"issuer": kluis.base, "storage": alice.pod_root}]
    # Existing documents advertise `Accept-Patch: application/sparql-update`: Comunica patches.
    for name in ("insert data", "delete/insert where"):
        assert _writes(steps[name]) == [("PATCH", "application/sparql-update", 204)]
    # A missing one answers 404 with `Allow: ... PUT` and `Accept-Put: text/turtle, ...`.
    assert _writes(steps["insert data into a new document"]) == [("PUT", "text/turtle", 201)]
    assert "403" in steps["other pod is refused"]["message"]
    assert "401" in steps["anonymous: private document is refused"]["message"]

    # What Comunica wrote is what Kluis stored: read it back as alice, from Python.
    async with aiohttp.ClientSession() as http:
        alice_token = await client_credentials(kluis, http, alice)
        notes_graph = await _get_graph(http, alice_token, notes)
        new_graph = await _get_graph(http, alice_token, new_doc)
    expected_notes = Graph()
    expected_notes.add((URIRef(notes + "#n0"), SCHEMA.text, Literal("seed")))
    expected_notes.add((URIRef(notes + "#n1"), SCHEMA.text, Literal("second")))
    expected_notes.add((URIRef(notes + "#n1"), SCHEMA.position, Literal(1)))
    assert isomorphic(notes_graph, expected_notes), notes_graph.serialize(format="nt")
    expected_new = Graph()
    expected_new.add((URIRef(new_doc + "#it"), SCHEMA.name, Literal("made by Comunica")))
    assert isomorphic(new_graph, expected_new), new_graph.serialize(format="nt")
