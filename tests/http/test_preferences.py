"""Preferences as linked data with a shape (issue 14, part 1): containers constrained by a SHACL
shape (LDP 1.0 §4.2.1.6 ldp:constrainedBy), the bundled preferences shape, and the preferences/
container of new pods. Over HTTP, once per storage backend."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox
import rdflib
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pod.accounts.pods import PREFERENCES, STARTER_PREFERENCES, provision_pod
from pod.acl.defaults import owner_acl
from pod.http.keys import STORE
from pod.ldp import rdf
from pod.paths import acl_of
from tests.conftest import Client, url
from tests.support import Agent

SHAPES = url("/.kluis/vocab/preferences-shapes.ttl")
CONSTRAINED_BY = "http://www.w3.org/ns/ldp#constrainedBy"
TURTLE = {"Content-Type": "text/turtle"}
PREFIXES = """
@prefix kluis: <https://w3id.org/kluis#> .
@prefix schema: <http://schema.org/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix dpv: <https://w3id.org/dpv#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
BASE = "kluis:personalisedAdvertising false ; kluis:personalisedRecommendations false"


def doc(body: str) -> str:
    return PREFIXES + body


def prefs(extra: str) -> str:
    return doc(f"<#p> a kluis:Preferences ; {BASE} ; {extra} .")


# (what is wrong, document, a word the reason must name)
MALFORMED: list[tuple[str, str, str]] = [
    ("empty document", doc(""), "Preferences"),
    ("no Preferences node", doc("<#p> kluis:personalisedAdvertising false ."), "Preferences"),
    (
        "advertising choice missing",
        doc("<#p> a kluis:Preferences ; kluis:personalisedRecommendations false ."),
        "personalisedAdvertising",
    ),
    (
        "recommendations choice missing",
        doc("<#p> a kluis:Preferences ; kluis:personalisedAdvertising false ."),
        "personalisedRecommendations",
    ),
    (
        "advertising as a string",
        doc(
            '<#p> a kluis:Preferences ; kluis:personalisedAdvertising "false" ; '
            "kluis:personalisedRecommendations false ."
        ),
        "personalisedAdvertising",
    ),
    (
        "advertising both true and false",
        doc(
            "<#p> a kluis:Preferences ; kluis:personalisedAdvertising false, true ; "
            "kluis:personalisedRecommendations false ."
        ),
        "personalisedAdvertising",
    ),
    (
        "recommendations as a number",
        doc(
            "<#p> a kluis:Preferences ; kluis:personalisedAdvertising false ; "
            "kluis:personalisedRecommendations 0 ."
        ),
        "personalisedRecommendations",
    ),
    ("language not a tag", prefs('schema:knowsLanguage "english!!"'), "knowsLanguage"),
    ("language as an IRI", prefs("schema:knowsLanguage <http://ex.org/nl>"), "knowsLanguage"),
    ("language as a number", prefs("schema:knowsLanguage 31"), "knowsLanguage"),
    ("topic as text", prefs('foaf:topic_interest "football"'), "topic_interest"),
    ("newsletter as text", prefs('kluis:newsletter "the morning mail"'), "newsletter"),
    ("unknown accessibility need", prefs('schema:accessibilityFeature "xray"'), "accessibility"),
    (
        "accessibility need as an IRI",
        prefs("schema:accessibilityFeature <http://ex.org/captions>"),
        "accessibility",
    ),
    ("empty content warning", prefs('kluis:contentWarning ""'), "contentWarning"),
    ("content warning too long", prefs(f'kluis:contentWarning "{"x" * 201}"'), "contentWarning"),
    ("content warning as a number", prefs("kluis:contentWarning 3"), "contentWarning"),
    ("misspelt choice (closed shape)", prefs("kluis:personalisedAdvertizing true"), "Advertizing"),
    ("modified not a date", prefs('dct:modified "yesterday"'), "modified"),
    (
        "two data subjects",
        prefs("dpv:hasDataSubject <http://ex.org/a#me>, <http://ex.org/b#me>"),
        "hasDataSubject",
    ),
]


async def constrain(client: Client, container: str, shapes: str = SHAPES) -> None:
    body = f"<> <{CONSTRAINED_BY}> <{shapes}> ."
    response = await client.put(container, data=body, headers=TURTLE)
    assert response.status in (201, 204), await response.text()


def constrained_by(response: Any) -> list[str]:
    return [
        str(link["url"])
        for rel, link in response.links.items()
        if str(rel) == CONSTRAINED_BY  # aiohttp keys links by rel
    ]


async def test_twenty_malformed_preferences_are_refused_with_reasons(client: Client) -> None:
    assert len(MALFORMED) == 20
    await constrain(client, "/pod/prefs/")
    for what, body, named in MALFORMED:
        response = await client.put("/pod/prefs/doc.ttl", data=body, headers=TURTLE)
        assert response.status == 422, what
        problem = await response.json()
        assert named in problem["detail"], (what, problem["detail"])
        assert problem["violations"], what
        for violation in problem["violations"]:
            assert violation["message"], what
        assert constrained_by(response) == [SHAPES], what
        assert (await client.get("/pod/prefs/doc.ttl")).status == 404, what  # nothing stored


async def test_checking_a_shape_leaves_n3_patches_exact(client: Client) -> None:
    """pyshacl's entry point turns rdflib's literal normalisation back on, process-wide, when it
    returns; a later N3 Patch then read "01"^^xsd:integer as "1" and missed the stored triple."""
    await constrain(client, "/pod/prefs/")
    bad = doc('<#p> a kluis:Preferences ; schema:knowsLanguage "??" .')
    assert (await client.put("/pod/prefs/doc.ttl", data=bad, headers=TURTLE)).status == 422
    number = '"01"^^<http://www.w3.org/2001/XMLSchema#integer>'
    await client.put("/pod/nums", data=f"<#a> <#n> {number} .", headers=TURTLE)
    patch = (
        "@prefix solid: <http://www.w3.org/ns/solid/terms#>.\n"
        f"_:p a solid:InsertDeletePatch; solid:deletes {{ <#a> <#n> {number} . }}."
    )
    response = await client.patch("/pod/nums", data=patch, headers={"Content-Type": "text/n3"})
    assert response.status == 204, await response.text()


async def test_violations_name_focus_node_path_and_message(client: Client) -> None:
    await constrain(client, "/pod/prefs/")
    body = doc('<#p> a kluis:Preferences ; schema:knowsLanguage "??" .')
    response = await client.put("/pod/prefs/doc.ttl", data=body, headers=TURTLE)
    assert response.status == 422
    violations = (await response.json())["violations"]
    paths = {v["path"] for v in violations}
    assert paths == {
        "https://w3id.org/kluis#personalisedAdvertising",
        "https://w3id.org/kluis#personalisedRecommendations",
        "http://schema.org/knowsLanguage",
    }
    assert {v["focusNode"] for v in violations} == {url("/pod/prefs/doc.ttl#p")}


async def test_a_refused_replacement_or_patch_leaves_the_document_as_it_was(
    client: Client,
) -> None:
    await constrain(client, "/pod/prefs/")
    good = prefs('schema:knowsLanguage "nl"')
    assert (await client.put("/pod/prefs/doc.ttl", data=good, headers=TURTLE)).status == 201
    bad = doc("<#p> a kluis:Preferences .")
    assert (await client.put("/pod/prefs/doc.ttl", data=bad, headers=TURTLE)).status == 422
    patch = (
        "@prefix solid: <http://www.w3.org/ns/solid/terms#> .\n"
        "_:p a solid:InsertDeletePatch ; solid:inserts { <#p> "
        '<http://schema.org/accessibilityFeature> "xray" } .'
    )
    response = await client.patch(
        "/pod/prefs/doc.ttl", data=patch, headers={"Content-Type": "text/n3"}
    )
    assert response.status == 422
    assert "accessibility" in (await response.json())["detail"]
    stored = await client.get("/pod/prefs/doc.ttl")
    assert await stored.text() == good


async def test_non_rdf_documents_and_containers_are_refused_in_a_constrained_container(
    client: Client,
) -> None:
    await constrain(client, "/pod/prefs/")
    response = await client.put(
        "/pod/prefs/photo.png", data=b"\x89PNG", headers={"Content-Type": "image/png"}
    )
    assert response.status == 422
    response = await client.post(
        "/pod/prefs/",
        headers={"Link": '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"'},
    )
    assert response.status == 422
    assert (await client.put("/pod/prefs/sub/", data=b"")).status == 422


async def test_no_container_is_made_inside_a_constrained_one_on_the_way(client: Client) -> None:
    await constrain(client, "/pod/prefs/")
    body = doc('<#p> a kluis:Preferences ; kluis:personalisedAdvertising "yes" .')
    response = await client.put("/pod/prefs/sub/doc.ttl", data=body, headers=TURTLE)
    assert response.status == 422
    assert (await client.get("/pod/prefs/sub/")).status == 404  # nothing created
    assert (await client.get("/pod/prefs/sub/doc.ttl")).status == 404
    # outside a constrained container, missing containers are still made on the way
    response = await client.put("/pod/free/sub/doc.ttl", data=body, headers=TURTLE)
    assert response.status == 201


async def test_a_post_into_a_constrained_container_is_checked(client: Client) -> None:
    await constrain(client, "/pod/prefs/")
    bad = await client.post("/pod/prefs/", data=doc(""), headers=TURTLE)
    assert bad.status == 422
    good = await client.post("/pod/prefs/", data=prefs('schema:knowsLanguage "en"'), headers=TURTLE)
    assert good.status == 201


async def test_unconstrained_containers_take_anything(client: Client) -> None:
    response = await client.put("/pod/other/doc.ttl", data=doc(""), headers=TURTLE)
    assert response.status == 201
    assert constrained_by(await client.get("/pod/other/")) == []


async def test_the_container_links_its_shape_and_the_shape_is_served(client: Client) -> None:
    await constrain(client, "/pod/prefs/")
    for method in ("GET", "HEAD", "OPTIONS"):
        response = await client.request(method, "/pod/prefs/")
        assert constrained_by(response) == [SHAPES], method
    served = await client.get("/.kluis/vocab/preferences-shapes.ttl", as_agent=None)
    assert served.status == 200
    assert served.headers["Content-Type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=await served.text(), format="turtle", publicID=SHAPES)
    assert (rdflib.URIRef(SHAPES + "#PreferencesShape"), None, None) in graph
    vocabulary = await client.get("/.kluis/vocab/kluis.ttl", as_agent=None)
    assert vocabulary.status == 200
    assert (await client.get("/.kluis/vocab/nope.ttl", as_agent=None)).status == 404


async def test_lifting_the_constraint_lets_anything_in(client: Client) -> None:
    await constrain(client, "/pod/prefs/")
    assert (await client.put("/pod/prefs/x.ttl", data=doc(""), headers=TURTLE)).status == 422
    assert (await client.put("/pod/prefs/", data=b"", headers=TURTLE)).status == 204
    assert (await client.put("/pod/prefs/x.ttl", data=doc(""), headers=TURTLE)).status == 201


async def test_shapes_that_cannot_be_used_are_refused_when_declared(client: Client) -> None:
    await client.put(
        "/pod/shapes/empty.ttl", data=doc("<#x> a kluis:Preferences ."), headers=TURTLE
    )
    for shapes in (
        "https://elsewhere.example/shapes.ttl",  # never fetched
        url("/.kluis/vocab/missing.ttl"),
        url("/pod/shapes/missing.ttl"),
        url("/pod/shapes/empty.ttl"),  # RDF, but no shape in it
    ):
        body = f"<> <{CONSTRAINED_BY}> <{shapes}> ."
        response = await client.put("/pod/prefs/", data=body, headers=TURTLE)
        assert response.status == 422, shapes
        assert shapes in (await response.json())["detail"]
    assert constrained_by(await client.get("/pod/")) == []


async def test_a_shape_in_the_same_pod_is_used_and_its_loss_is_a_409(client: Client) -> None:
    shape = (
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "@prefix ex: <http://ex.org/> .\n"
        "<#S> a sh:NodeShape ; sh:targetClass ex:Note ; "
        "sh:property [ sh:path ex:text ; sh:minCount 1 ; "
        "sh:datatype <http://www.w3.org/2001/XMLSchema#string> ] ."
    )
    assert (await client.put("/pod/shapes/note.ttl", data=shape, headers=TURTLE)).status == 201
    await constrain(client, "/pod/notes/", url("/pod/shapes/note.ttl"))
    note = '<#n> a <http://ex.org/Note> ; <http://ex.org/text> "hello" .'
    assert (await client.put("/pod/notes/a.ttl", data=note, headers=TURTLE)).status == 201
    bad = "<#n> a <http://ex.org/Note> ."
    assert (await client.put("/pod/notes/b.ttl", data=bad, headers=TURTLE)).status == 422
    # A changed shape is used at once (the change feed drops the parsed one).
    looser = shape.replace("sh:minCount 1 ; ", "")
    assert (await client.put("/pod/shapes/note.ttl", data=looser, headers=TURTLE)).status == 204
    assert (await client.put("/pod/notes/b.ttl", data=bad, headers=TURTLE)).status == 201
    assert (await client.delete("/pod/shapes/note.ttl")).status == 204
    response = await client.put("/pod/notes/c.ttl", data=note, headers=TURTLE)
    assert response.status == 409
    assert "note.ttl" in (await response.json())["detail"]


async def test_new_pods_get_a_constrained_preferences_container(
    client: Client, alice: Agent
) -> None:
    store = client.app[STORE]
    await provision_pod(store, "carol", issuer="https://idp.example")
    # Let alice in (the container is the owner's only), to look over HTTP.
    root = "/carol/" + PREFERENCES
    acl = owner_acl(store.url(root), alice.webid)
    await store.put(acl_of(root), data=acl, content_type=rdf.TURTLE, relative=True)
    assert constrained_by(await client.get(root)) == [SHAPES]
    starter = await client.get("/carol/" + STARTER_PREFERENCES)
    assert starter.status == 200
    text = await starter.text()
    graph = rdflib.Graph().parse(data=text, format="turtle", publicID=url(starter.url.path))
    false = rdflib.Literal(False)
    kluis = rdflib.Namespace("https://w3id.org/kluis#")
    assert set(graph.objects(None, kluis.personalisedAdvertising)) == {false}
    assert set(graph.objects(None, kluis.personalisedRecommendations)) == {false}
    # Written back as it is, it still conforms; broken, it is refused.
    path = "/carol/" + STARTER_PREFERENCES
    assert (await client.put(path, data=text, headers=TURTLE)).status == 204
    assert (await client.put(path, data=doc(""), headers=TURTLE)).status == 422


# --- generated valid documents: no false refusals ---------------------------------------------

_KLUIS = "https://w3id.org/kluis#"
_FEATURES = [
    "alternativeText",
    "audioDescription",
    "braille",
    "captions",
    "closedCaptions",
    "describedMath",
    "highContrastAudio",
    "highContrastDisplay",
    "largePrint",
    "longDescription",
    "openCaptions",
    "signLanguage",
    "tactileGraphic",
    "transcript",
]
_TAGS = st.from_regex(r"\A[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}\Z")
_IRIS = st.builds(lambda n: f"http://topics.example/{n}", st.integers(0, 10**6))
_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=200)


@st.composite
def valid_preferences(draw: st.DrawFn) -> bytes:
    me = ox.NamedNode(url("/pod/prefs/doc.ttl") + "#p")

    def t(p: str, o: ox.NamedNode | ox.Literal) -> ox.Triple:
        return ox.Triple(me, ox.NamedNode(p), o)

    def boolean(value: bool) -> ox.Literal:
        return ox.Literal(str(value).lower(), datatype=ox.NamedNode(str(rdflib.XSD.boolean)))

    triples = [
        t(str(rdflib.RDF.type), ox.NamedNode(_KLUIS + "Preferences")),
        t(_KLUIS + "personalisedAdvertising", boolean(draw(st.booleans()))),
        t(_KLUIS + "personalisedRecommendations", boolean(draw(st.booleans()))),
    ]
    language = ox.NamedNode(str(rdflib.XSD.language))
    for tag in draw(st.lists(_TAGS, max_size=3)):
        typed = draw(st.booleans())
        literal = ox.Literal(tag, datatype=language) if typed else ox.Literal(tag)
        triples.append(t("http://schema.org/knowsLanguage", literal))
    for iri in draw(st.lists(_IRIS, max_size=3)):
        triples.append(t("http://xmlns.com/foaf/0.1/topic_interest", ox.NamedNode(iri)))
    for iri in draw(st.lists(_IRIS, max_size=2)):
        triples.append(t(_KLUIS + "newsletter", ox.NamedNode(iri)))
    for feature in draw(st.lists(st.sampled_from(_FEATURES), max_size=3)):
        triples.append(t("http://schema.org/accessibilityFeature", ox.Literal(feature)))
    for warning in draw(st.lists(st.one_of(_TEXT, _IRIS), max_size=2)):
        is_iri = warning.startswith("http://topics.example/")
        value = ox.NamedNode(warning) if is_iri else ox.Literal(warning)
        triples.append(t(_KLUIS + "contentWarning", value))
    if draw(st.booleans()):
        triples.append(t("https://w3id.org/dpv#hasDataSubject", ox.NamedNode(url("/me#i"))))
    if draw(st.booleans()):
        stamp = ox.Literal("2026-12-01T10:00:00Z", datatype=ox.NamedNode(str(rdflib.XSD.dateTime)))
        triples.append(t("http://purl.org/dc/terms/modified", stamp))
    return rdf.serialize(triples, rdf.TURTLE)


def generated(count: int) -> list[bytes]:
    documents: list[bytes] = []

    @hypothesis_settings(max_examples=count, deadline=None, database=None)
    @given(valid_preferences())
    def collect(document: bytes) -> None:
        documents.append(document)

    collect()
    return documents


async def test_no_false_refusals_of_generated_valid_preferences(client: Client) -> None:
    await constrain(client, "/pod/prefs/")
    documents = generated(60)
    assert len(documents) >= 30
    refused = []
    for document in documents:
        response = await client.put("/pod/prefs/doc.ttl", data=document, headers=TURTLE)
        if response.status not in (201, 204):
            refused.append((document, response.status, await response.text()))
    assert refused == []


async def test_a_quoted_triple_is_refused_with_a_reason(client: Client) -> None:
    """RDF 1.2 quoted triples parse, but no SHACL 1.0 shape can check them: 422, not a 500."""
    await constrain(client, "/pod/prefs/")
    body = prefs('schema:knowsLanguage "nl"') + "<< <#p> <#a> <#b> >> <#said> <#me> .\n"
    response = await client.put("/pod/prefs/quoted.ttl", data=body, headers=TURTLE)
    assert response.status == 422
    assert "quoted triple" in await response.text()
    assert (await client.get("/pod/prefs/quoted.ttl")).status == 404
