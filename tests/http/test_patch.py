"""PATCH with N3 Patch and SPARQL Update over HTTP (Solid Protocol §n3-patch)."""

from __future__ import annotations

import pytest
from aiohttp import web
from rdflib import Graph, Literal, Namespace, URIRef

from pod.feed import Change, Event, ResourceChanged
from pod.http.keys import FEED
from tests.conftest import POD, Client, url

EX = Namespace("http://www.example.org/terms#")
N3 = {"Content-Type": "text/n3"}
SPARQL = {"Content-Type": "application/sparql-update"}
PREFIXES = """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
@prefix ex: <http://www.example.org/terms#>.
"""
DOC = """@prefix ex: <http://www.example.org/terms#>.
<#garcia> ex:familyName "Garcia"; ex:givenName "Claudia".
<#lee> ex:familyName "Lee"; ex:givenName "Kim".
"""


async def read(client: Client, path: str) -> Graph:
    r = await client.get(path)
    assert r.status == 200
    return Graph().parse(data=await r.text(), format="turtle", publicID=url(path))


@pytest.fixture
async def doc(client: Client) -> str:
    r = await client.put(POD + "people", data=DOC, headers={"Content-Type": "text/turtle"})
    assert r.status == 201
    return POD + "people"


async def test_n3_patch_with_where_insert_delete(client: Client, doc: str) -> None:
    patch = (
        PREFIXES
        + """_:rename a solid:InsertDeletePatch;
      solid:where   { ?person ex:familyName "Garcia". };
      solid:inserts { ?person ex:givenName "Alex". };
      solid:deletes { ?person ex:givenName "Claudia". }."""
    )
    r = await client.patch(doc, data=patch, headers=N3)
    assert r.status == 204, await r.text()
    g = await read(client, doc)
    garcia = URIRef(url(doc + "#garcia"))
    assert (garcia, EX.givenName, Literal("Alex")) in g
    assert (garcia, EX.givenName, Literal("Claudia")) not in g
    assert (URIRef(url(doc + "#lee")), EX.givenName, Literal("Kim")) in g


async def test_n3_patch_where_must_match_exactly_one(client: Client, doc: str) -> None:
    before = await (await client.get(doc)).read()
    two = (
        PREFIXES
        + """_:p a solid:InsertDeletePatch;
      solid:where { ?person ex:familyName ?name. }; solid:inserts { ?person ex:seen true. }."""
    )
    r = await client.patch(doc, data=two, headers=N3)
    assert r.status == 409
    none = (
        PREFIXES
        + """_:p a solid:InsertDeletePatch;
      solid:where { ?person ex:familyName "Nobody". }; solid:inserts { ?person ex:seen true. }."""
    )
    r = await client.patch(doc, data=none, headers=N3)
    assert r.status == 409
    assert await (await client.get(doc)).read() == before


async def test_n3_patch_delete_must_exist(client: Client, doc: str) -> None:
    patch = (
        PREFIXES
        + """_:p a solid:InsertDeletePatch;
      solid:deletes { <#garcia> ex:givenName "Nope". }."""
    )
    r = await client.patch(doc, data=patch, headers=N3)
    assert r.status == 409


async def test_n3_patch_creates_missing_resource(client: Client) -> None:
    patch = PREFIXES + "_:p a solid:InsertDeletePatch; solid:inserts { <#new> ex:x 1. }."
    r = await client.patch(POD + "fresh/doc", data=patch, headers=N3)
    assert r.status == 201
    g = await read(client, POD + "fresh/doc")
    assert (URIRef(url(POD + "fresh/doc#new")), EX.x, Literal(1)) in g


@pytest.mark.parametrize(
    "bad",
    [
        "_:p solid:inserts { <#a> ex:b _:c. }.",  # not typed InsertDeletePatch
        "_:p a solid:InsertDeletePatch; solid:inserts { <#a> ex:b _:c. }.",  # blank node
        "_:p a solid:InsertDeletePatch; solid:inserts { ?x ex:b 1. }.",  # unbound variable
        "_:p a solid:InsertDeletePatch; solid:inserts { <#a> ex:b 1. }, { <#a> ex:b 2. }.",
        "_:p a solid:InsertDeletePatch. _:q a solid:InsertDeletePatch.",  # two patches
        "_:p a solid:InsertDeletePatch; solid:inserts { { <#a> ex:b 1. } ex:c 2. }.",  # nested
        "_:p a solid:InsertDeletePatch; solid:inserts <#notaformula>.",
    ],
)
async def test_n3_patch_structure_violations_are_422(client: Client, doc: str, bad: str) -> None:
    r = await client.patch(doc, data=PREFIXES + bad, headers=N3)
    assert r.status == 422, await r.text()


async def test_sparql_insert_and_delete_data(client: Client, doc: str) -> None:
    update = """PREFIX ex: <http://www.example.org/terms#>
    DELETE DATA { <#lee> ex:givenName "Kim" . } ;
    INSERT DATA { <#lee> ex:givenName "Kimberly" . }"""
    r = await client.patch(doc, data=update, headers=SPARQL)
    assert r.status == 204, await r.text()
    g = await read(client, doc)
    lee = URIRef(url(doc + "#lee"))
    assert (lee, EX.givenName, Literal("Kimberly")) in g
    assert (lee, EX.givenName, Literal("Kim")) not in g


async def test_sparql_delete_insert_where(client: Client, doc: str) -> None:
    update = """PREFIX ex: <http://www.example.org/terms#>
    DELETE { ?p ex:givenName ?g } INSERT { ?p ex:givenName "X" }
    WHERE { ?p ex:familyName "Garcia"; ex:givenName ?g }"""
    r = await client.patch(doc, data=update, headers=SPARQL)
    assert r.status == 204, await r.text()
    g = await read(client, doc)
    assert (URIRef(url(doc + "#garcia")), EX.givenName, Literal("X")) in g


@pytest.mark.parametrize(
    ("update", "named"),
    [
        ("LOAD <http://example.org/data>", "LOAD"),
        ("CLEAR DEFAULT", "CLEAR"),
        ("DROP ALL", "DROP"),
        ("CREATE GRAPH <http://g>", "CREATE"),
        ("ADD DEFAULT TO <http://g>", "ADD"),
        ("INSERT DATA { GRAPH <http://g> { <#a> <#b> <#c> } }", "GRAPH"),
        (
            "INSERT { <a> <b> ?o } WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
            "SERVICE",
        ),
        ("INSERT { <#a> <#b> ?o } WHERE { GRAPH ?g { ?s ?p ?o } }", "GRAPH"),
        ("WITH <http://g> INSERT { <#a> <#b> <#c> } WHERE { }", "WITH"),
        ("INSERT { <#a> <#b> <#c> } USING <http://g> WHERE { }", "USING"),
        ("INSERT { <#a> <#b> ?o } WHERE { ?s ?p ?o FILTER(?o != 1) }", "FILTER"),
        ("INSERT { <#a> <#b> ?o } WHERE { ?s ?p ?o OPTIONAL { ?s <#x> ?y } }", "OPTIONAL"),
        ("INSERT { <#a> <#b> ?o } WHERE { { ?s <#x> ?o } UNION { ?s <#y> ?o } }", "UNION"),
        ("INSERT { <#a> <#b> ?o } WHERE { ?s ?p ?o MINUS { ?s <#x> ?o } }", "MINUS"),
        ("INSERT { <#a> <#b> ?o } WHERE { ?s ?p ?x BIND(1 AS ?o) }", "BIND"),
        ("INSERT { <#a> <#b> ?o } WHERE { VALUES ?o { 1 2 } }", "VALUES"),
        ("INSERT { <#a> <#b> ?o } WHERE { SELECT ?o WHERE { ?s ?p ?o } }", "SELECT"),
        ("INSERT { <#a> <#b> ?o } WHERE { ?s <#x>/<#y> ?o }", "property paths"),
        ("INSERT { <#a> <#b> ?o } WHERE { ?s ^<#x> ?o }", "property paths"),
        ("INSERT { <#a> <#b> ?o } WHERE { ?s <#x>* ?o }", "property paths"),
        ("DELETE DATA { <#a> <#b> _:c }", "blank nodes"),
        ("DELETE WHERE { <#a> <#b> [] }", "blank nodes"),
        ("DELETE { ?s <#b> _:c } WHERE { ?s ?p ?o }", "blank nodes"),
        ("INSERT DATA { <#a> <#b> ?c }", "variables"),
    ],
)
async def test_sparql_unsupported_operations_are_422_naming_them(
    client: Client, doc: str, update: str, named: str
) -> None:
    before = await (await client.get(doc)).read()
    r = await client.patch(doc, data=update, headers=SPARQL)
    assert r.status == 422, await r.text()
    assert named in (await r.json())["detail"]
    assert await (await client.get(doc)).read() == before


async def test_patch_on_non_rdf_is_refused(client: Client) -> None:
    await client.put(POD + "note.txt", data="hello", headers={"Content-Type": "text/plain"})
    patch = PREFIXES + "_:p a solid:InsertDeletePatch; solid:inserts { <#a> ex:b 1. }."
    r = await client.patch(POD + "note.txt", data=patch, headers=N3)
    assert r.status == 415
    assert await (await client.get(POD + "note.txt")).text() == "hello"


async def test_patch_keeps_exact_literal_forms(client: Client) -> None:
    await client.put(
        POD + "nums",
        data='<#a> <#n> "01"^^<http://www.w3.org/2001/XMLSchema#integer> .',
        headers={"Content-Type": "text/turtle"},
    )
    patch = (
        PREFIXES
        + """_:p a solid:InsertDeletePatch;
      solid:deletes { <#a> <#n> "01"^^<http://www.w3.org/2001/XMLSchema#integer> . }."""
    )
    r = await client.patch(POD + "nums", data=patch, headers=N3)
    assert r.status == 204, await r.text()


# --- a patch that changes nothing; documents kept parsed between patches ---------------------

GARCIA = PREFIXES + '_:p a solid:InsertDeletePatch; solid:inserts {{ <#garcia> ex:{p} "{o}" }}.'


async def test_a_patch_that_changes_nothing_writes_nothing(
    client: Client, doc: str, app: web.Application
) -> None:
    """Inserting what is there already changes nothing: no write, no new version, no event
    (RFC 5789 §2: the answer is still a success, with the ETag of what is stored)."""
    before = await client.get(doc)
    body = await before.read()
    heard: list[Event] = []
    app[FEED].subscribe(heard.append)
    for patch, kind in (
        (GARCIA.format(p="familyName", o="Garcia"), N3),
        ('INSERT DATA { <#lee> <http://www.example.org/terms#givenName> "Kim" }', SPARQL),
    ):
        r = await client.patch(doc, data=patch, headers=kind)
        assert r.status == 204, await r.text()
        assert r.headers["ETag"] == before.headers["ETag"]
    assert heard == []
    after = await client.get(doc)
    assert after.headers["ETag"] == before.headers["ETag"]
    assert await after.read() == body
    # A patch that does change the document still writes it, and says so.
    r = await client.patch(doc, data=GARCIA.format(p="nick", o="Clau"), headers=N3)
    assert r.status == 204, await r.text()
    assert r.headers["ETag"] != before.headers["ETag"]
    assert [(e.change, e.path) for e in heard if isinstance(e, ResourceChanged)] == [
        (Change.UPDATE, doc)
    ]


async def test_a_patch_reads_a_document_replaced_since_the_last_patch(
    client: Client, doc: str
) -> None:
    garcia = URIRef(url(doc + "#garcia"))
    r = await client.patch(doc, data=GARCIA.format(p="nick", o="Clau"), headers=N3)
    assert r.status == 204, await r.text()
    replaced = '@prefix ex: <http://www.example.org/terms#>. <#garcia> ex:nick "Alex".'
    r = await client.put(doc, data=replaced, headers={"Content-Type": "text/turtle"})
    assert r.status == 204
    # What the first patch inserted is gone with the PUT: deleting it again is a conflict.
    delete_clau = PREFIXES + (
        '_:p a solid:InsertDeletePatch; solid:deletes { <#garcia> ex:nick "Clau" }.'
    )
    r = await client.patch(doc, data=delete_clau, headers=N3)
    assert r.status == 409, await r.text()
    r = await client.patch(doc, data=delete_clau.replace("Clau", "Alex"), headers=N3)
    assert r.status == 204, await r.text()
    assert set(await read(client, doc)) == set()
    assert (await client.delete(doc)).status == 204
    r = await client.patch(doc, data=GARCIA.format(p="nick", o="Clau"), headers=N3)
    assert r.status == 201, await r.text()
    assert set(await read(client, doc)) == {(garcia, EX.nick, Literal("Clau"))}
