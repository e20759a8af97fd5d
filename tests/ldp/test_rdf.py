"""Property tests for RDF serialization and parsing and for patches (`pod.ldp.rdf`, `.patch`).

Random small graphs (IRIs with unicode, literals with language tags, datatypes and characters that
need escaping, blank nodes) are serialized with `rdf.serialize` in every format Kluis speaks and
parsed back with `rdf.parse`; the result must be isomorphic (`rdflib.compare.isomorphic`). INSERT
DATA / DELETE DATA (SPARQL Update) and N3 Patch inserts/deletes must behave like set union and
difference on random documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import pyoxigraph as ox
import pytest
import rdflib
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rdflib.compare import isomorphic

from pod.errors import Conflict, InvalidRdf, PodError
from pod.ldp import rdf
from pod.ldp.patch import SPARQL_UPDATE, parse_patch
from pod.vocab import COMMON_PREFIXES, LDP

PROPERTY = settings(max_examples=100, deadline=None, database=None)
# For tests whose every example makes several round trips (one per format or format pair).
SEVERAL = settings(max_examples=50, deadline=None, database=None)

BASE = "http://pod.example/pod/doc"
NS = "http://example.org/ns#"
RES = "http://example.org/res/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING = XSD + "string"
PREFIXES = {"ex": NS, "res": RES, "foaf": "http://xmlns.com/foaf/0.1/"}

# --- strategies -------------------------------------------------------------------------------

# IRIs come from fixed pools: drawing them character by character made generation the slowest
# part of these tests, and the pools hold the shapes that matter (unicode, percent-encoding,
# query, fragment, trailing '/' or '#', a URN, the document itself).
SUBJECT_IRIS = [
    NS + "s",
    NS + "ünïcödé",
    NS + "_x-1.2",
    RES,
    RES + "a/b/c",
    RES + "é/ü/😀",
    RES + "100%25",
    RES + "a?q=1&r=2",
    RES + "doc#frag",
    RES + "doc#",
    RES + "(x)!$&'*+,;=:@~",
    "http://example.org/",
    "https://example.org/a/b/",
    "http://example.org/ns#",
    "http://[::1]:8080/x",
    "http://user@example.org:8443/p",
    "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    "mailto:alice@example.org",
    "http://xmlns.com/foaf/0.1/Person",
    "http://例え.テスト/パス",
    BASE,
    BASE + "#me",
    "http://pod.example/pod/",
    "http://pod.example/other/doc",
]
# Predicates end in an XML NCName, which RDF/XML needs to write them as element names.
PREDICATE_IRIS = [
    NS + "p",
    NS + "q",
    NS + "ünï",
    NS + "_under-score.dot",
    RES + "a/b/name",
    RES + "é/ü/Ω",
    "http://xmlns.com/foaf/0.1/name",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
    "http://www.w3.org/ns/ldp#contains",
    "http://example.org/ns#a1",
]
# Predicates RDF/XML cannot write (no NCName at the end) but every other format can.
AWKWARD_PREDICATES = ["http://example.org/p/", "http://example.org/p#", "http://example.org/1st"]
subject_iris = st.sampled_from(SUBJECT_IRIS)
predicate_iris = st.sampled_from(PREDICATE_IRIS)
awkward_predicates = st.sampled_from(AWKWARD_PREDICATES)
# Text that needs escaping in every syntax, mixed with arbitrary unicode.
_special = st.sampled_from(
    [
        '"',
        "'",
        "\\",
        "\n",
        "\r",
        "\t",
        "<",
        ">",
        "&",
        "]]>",
        "@",
        "\u00e9",
        "😀",
        "\u2028",
        '"""',
        "^^",
        " ",
        "#",
        "_:b",
        "\ufeff",
    ]
)
xml_safe_text = st.lists(
    st.one_of(
        _special,
        # XML 1.0 has no control characters but tab and newlines, and no U+FFFE / U+FFFF.
        st.text(
            st.characters(exclude_categories=["Cc", "Cs"], exclude_characters="\ufffe\uffff"),
            max_size=6,
        ),
    ),
    max_size=5,
).map("".join)
any_text = st.lists(
    st.one_of(
        _special,
        st.text(max_size=6),
        st.sampled_from(["\x00", "\x01", "\x07", "\x1f", "\x7f", "\x0b", "\x0c"]),
    ),
    max_size=5,
).map("".join)
languages = st.sampled_from(["en", "nl", "en-us", "zh-hant-tw", "de-ch-1996", "x-private"])
typed = st.one_of(
    st.integers(-(10**20), 10**20).map(lambda i: (str(i), XSD + "integer")),
    st.sampled_from(
        [
            ("true", XSD + "boolean"),
            ("0", XSD + "boolean"),
            ("2024-05-12", XSD + "date"),
            ("042", XSD + "integer"),
            ("+1.50", XSD + "decimal"),
            ("1E3", XSD + "double"),
            ("NaN", XSD + "double"),
            ("not a number", XSD + "integer"),
            ("<b>bold</b>", "http://www.w3.org/1999/02/22-rdf-syntax-ns#XMLLiteral"),
        ]
    ),
)


def literals(text: st.SearchStrategy[str]) -> st.SearchStrategy[ox.Literal]:
    return st.one_of(
        text.map(ox.Literal),
        st.builds(lambda t, lang: ox.Literal(t, language=lang), text, languages),
        typed.map(lambda lex_dt: ox.Literal(lex_dt[0], datatype=ox.NamedNode(lex_dt[1]))),
        st.builds(
            lambda t: ox.Literal(t, datatype=ox.NamedNode("http://example.org/dt#custom")), text
        ),
    )


@st.composite
def graphs(draw: st.DrawFn, *, xml_safe: bool = True, max_size: int = 10) -> list[ox.Triple]:
    blanks = [ox.BlankNode() for _ in range(3)]
    blank = st.sampled_from(blanks)
    subject = st.one_of(subject_iris.map(ox.NamedNode), blank)
    predicate = (predicate_iris if xml_safe else predicate_iris | awkward_predicates).map(
        ox.NamedNode
    )
    obj = st.one_of(
        subject_iris.map(ox.NamedNode), blank, literals(xml_safe_text if xml_safe else any_text)
    )
    return draw(st.lists(st.builds(ox.Triple, subject, predicate, obj), max_size=max_size))


@st.composite
def ground_graphs(draw: st.DrawFn, *, max_size: int = 8) -> list[ox.Triple]:
    obj = st.one_of(subject_iris.map(ox.NamedNode), literals(any_text))
    triples = st.builds(
        ox.Triple, subject_iris.map(ox.NamedNode), predicate_iris.map(ox.NamedNode), obj
    )
    return draw(st.lists(triples, max_size=max_size, unique=True))


# --- helpers ----------------------------------------------------------------------------------


def _term(term: object) -> rdflib.term.Node:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    assert isinstance(term, ox.Literal)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    if term.datatype.value == XSD_STRING:
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value), normalize=False)


def to_rdflib(triples: Iterable[ox.Triple]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for t in triples:
        graph.add((_term(t.subject), _term(t.predicate), _term(t.object)))
    return graph


def assert_isomorphic(got: Iterable[ox.Triple], expected: Iterable[ox.Triple], data: bytes) -> None:
    g_got, g_expected = to_rdflib(got), to_rdflib(expected)
    assert isomorphic(g_got, g_expected), (
        f"not isomorphic\nserialized:\n{data.decode(errors='replace')}\n"
        f"expected:\n{g_expected.serialize(format='nt')}\ngot:\n{g_got.serialize(format='nt')}"
    )


def nt(triples: Iterable[ox.Triple]) -> str:
    return rdf.serialize(list(triples), rdf.N_TRIPLES).decode()


# pyld rewrites the lexical form of xsd:double literals ("1E3" -> "1.0E3") when it reads JSON-LD.
DOUBLE = [
    ox.Triple(
        ox.NamedNode(NS + "s"),
        ox.NamedNode(NS + "p"),
        ox.Literal("1E3", datatype=ox.NamedNode(XSD + "double")),
    )
]

FORMATS = [
    pytest.param(rdf.TURTLE, id="turtle"),
    pytest.param(rdf.JSON_LD, id="json-ld"),
    pytest.param(rdf.N_TRIPLES, id="n-triples"),
    pytest.param(rdf.RDF_XML, id="rdf-xml"),
    pytest.param(rdf.N3, id="n3"),
    pytest.param(rdf.N_QUADS, id="n-quads"),
    pytest.param(rdf.TRIG, id="trig"),
]

# --- serialize -> parse round trips -------------------------------------------------------------


@pytest.mark.parametrize("media", FORMATS)
@PROPERTY
@given(triples=graphs())
@example(triples=DOUBLE)
def test_serialize_then_parse_is_isomorphic(media: str, triples: list[ox.Triple]) -> None:
    for prefixes in (None, PREFIXES):
        data = rdf.serialize(triples, media, prefixes=prefixes)
        parsed = rdf.parse(data, media, base=BASE)
        assert_isomorphic(parsed.triples, triples, data)


@SEVERAL
@given(triples=graphs(xml_safe=False))
@example(triples=DOUBLE)
@example(triples=[ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode(NS + "p"), ox.Literal("\x00"))])
@example(
    triples=[
        ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode("http://example.org/p/"), ox.Literal("x"))
    ]
)
def test_control_characters_and_any_predicate_round_trip(triples: list[ox.Triple]) -> None:
    # Every format but RDF/XML can carry any literal and any predicate IRI.
    for media in (rdf.TURTLE, rdf.JSON_LD, rdf.N_TRIPLES, rdf.N3):
        data = rdf.serialize(triples, media, prefixes=PREFIXES)
        assert_isomorphic(rdf.parse(data, media, base=BASE).triples, triples, data)


@PROPERTY
@given(triples=graphs(xml_safe=False, max_size=4))
@example(
    triples=[
        ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode("http://example.org/p/"), ox.Literal("x"))
    ]
)
@example(
    triples=[ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode(NS + "p"), ox.Literal("bell\x07"))]
)
@example(  # a class without an XML local name: pyoxigraph would write the typed node `<res:>`
    triples=[
        ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode(RDF_TYPE), ox.NamedNode(RES)),
        ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode(NS + "p"), ox.Literal("x")),
    ]
)
@example(triples=[ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode(RDF_TYPE), ox.NamedNode(RES))])
@example(
    triples=[ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode(NS + "p"), ox.Literal("cr\r\nlf"))]
)
def test_rdf_xml_output_is_well_formed_or_refused(triples: list[ox.Triple]) -> None:
    # Some graphs have no RDF/XML form (a predicate without a local name, a literal with a
    # character XML 1.0 forbids), and a carriage return must be written as `&#13;` or an XML
    # parser reads it as a line feed. Then serialize must refuse with a PodError (a 406 for GET);
    # what it must never do is hand a client XML that other parsers reject. pyoxigraph's own
    # parser is lenient about its output, so an independent one (rdflib's, on expat) judges.
    try:
        data = rdf.serialize(triples, rdf.RDF_XML, prefixes=PREFIXES)
    except PodError:
        return
    try:
        parsed = rdflib.Graph().parse(data=data, format="xml", publicID=BASE)
    except Exception as exc:
        pytest.fail(f"serialize produced RDF/XML that does not parse: {exc!r}\n{data!r}")
    assert isomorphic(parsed, to_rdflib(triples)), data


# RDF/XML has one root element and JSON-LD is one JSON value: no proper prefix of either is a
# document. A Turtle-like or line-based document may be cut after a complete statement and stay
# valid, but only there.
ENCLOSED = {rdf.RDF_XML, rdf.JSON_LD}
TRUNCATED_XML = (
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    b'xmlns:ex="http://example.org/ns#">\n<rdf:Description rdf:about="#a"><ex:p>x</ex:p>'
)


@pytest.mark.parametrize("media", FORMATS)
@settings(max_examples=20, deadline=None, database=None)
@given(triples=graphs(max_size=4))
@example(triples=DOUBLE)
def test_truncated_documents_are_refused(media: str, triples: list[ox.Triple]) -> None:
    # Every cut of a valid document, whichever parser is underneath: a truncated upload must be
    # a 400, never stored as the part of the graph that happened to arrive.
    data = rdf.serialize(triples, media, prefixes=PREFIXES)
    for cut in range(len(data.rstrip())):
        prefix = data[:cut]
        try:
            parsed = rdf.parse(prefix, media, base=BASE)
        except InvalidRdf:
            continue
        assert media not in ENCLOSED, f"accepted a truncated document ({parsed}):\n{prefix!r}"
        tail = prefix.rstrip()
        assert not tail or tail.endswith((b".", b"}")), f"accepted a cut statement:\n{prefix!r}"


@pytest.mark.parametrize(
    "data",
    [
        TRUNCATED_XML,
        TRUNCATED_XML + b"</rdf:Description>",
        b"",
        b"   \n",
        b'<?xml version="1.0"?>',
        TRUNCATED_XML + b"</rdf:Description></rdf:RDF><more/>",
    ],
)
def test_rdf_xml_that_is_not_well_formed_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidRdf, match="well-formed"):
        rdf.parse(data, rdf.RDF_XML, base=BASE)
    whole = rdf.parse(TRUNCATED_XML + b"</rdf:Description></rdf:RDF>", rdf.RDF_XML, base=BASE)
    assert len(whole.triples) == 1


@settings(max_examples=25, deadline=None, database=None)
@given(triples=graphs(max_size=6))
@example(triples=DOUBLE)
def test_conversion_between_formats_keeps_the_graph(triples: list[ox.Triple]) -> None:
    # What the store does: parse what a client sent in one format, serialize in another for GET.
    for source in rdf.RDF_TYPES:
        first = rdf.parse(rdf.serialize(triples, source, prefixes=PREFIXES), source, base=BASE)
        for target in rdf.RDF_TYPES:
            data = rdf.serialize(first.triples, target, prefixes=first.prefixes)
            parsed = rdf.parse(data, target, base=BASE)
            assert_isomorphic(parsed.triples, triples, f"{source} -> {target}\n".encode() + data)


# --- patches behave like set difference and union -----------------------------------------------

N3_PREFIXES = "@prefix solid: <http://www.w3.org/ns/solid/terms#> .\n"


def n3_patch(deletes: Iterable[ox.Triple], inserts: Iterable[ox.Triple]) -> bytes:
    return (
        N3_PREFIXES
        + "_:patch a solid:InsertDeletePatch ;\n"
        + f"  solid:deletes {{\n{nt(deletes)}}} ;\n"
        + f"  solid:inserts {{\n{nt(inserts)}}} .\n"
    ).encode()


@PROPERTY
@given(st.data(), ground_graphs(), ground_graphs(max_size=5))
def test_n3_patch_inserts_and_deletes_are_set_operations(
    data: st.DataObject, doc: list[ox.Triple], inserts: list[ox.Triple]
) -> None:
    deletes = data.draw(st.lists(st.sampled_from(doc), unique=True) if doc else st.just([]))
    patch = parse_patch(n3_patch(deletes, inserts), rdf.N3, base=BASE)
    assert not patch.where
    assert patch.inserts == bool(inserts)
    assert patch.deletes == bool(deletes)
    assert set(patch.apply(doc)) == (set(doc) - set(deletes)) | set(inserts)


@PROPERTY
@given(ground_graphs(), ground_graphs(max_size=4).filter(bool))
def test_n3_patch_deleting_a_missing_triple_is_a_conflict(
    doc: list[ox.Triple], deletes: list[ox.Triple]
) -> None:
    missing = [t for t in deletes if t not in doc]
    if not missing:
        return
    patch = parse_patch(n3_patch(deletes, []), rdf.N3, base=BASE)
    with pytest.raises(Conflict):
        patch.apply(doc)


@PROPERTY
@given(
    ground_graphs(),
    ground_graphs(max_size=5),
    ground_graphs(max_size=5),
    st.sampled_from(["delete-insert", "insert", "delete"]),
)
@example(
    doc=[],
    deletes=[],
    inserts=[ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode(NS + "p"), ox.Literal("\x01\\"))],
    blocks="insert",
)
def test_sparql_insert_and_delete_data_are_set_operations(
    doc: list[ox.Triple], deletes: list[ox.Triple], inserts: list[ox.Triple], blocks: str
) -> None:
    # SPARQL 1.1 Update §3.1.1-3.1.2: DELETE DATA of an absent triple is no error; the
    # operations run in order, so the result is (doc - deletes) | inserts.
    if blocks == "insert":
        deletes = []
    if blocks == "delete":
        inserts = []
    parts = []
    if blocks != "insert":
        parts.append(f"DELETE DATA {{\n{nt(deletes)}}}")
    if blocks != "delete":
        parts.append(f"INSERT DATA {{\n{nt(inserts)}}}")
    patch = parse_patch(" ;\n".join(parts).encode(), SPARQL_UPDATE, base=BASE)
    assert not patch.where
    assert patch.inserts == bool(inserts)
    assert patch.deletes == bool(deletes)
    assert set(patch.apply(doc)) == (set(doc) - set(deletes)) | set(inserts)


@PROPERTY
@given(graphs(max_size=8))
def test_patched_documents_serialize_and_parse_back(doc: list[ox.Triple]) -> None:
    # The store serializes a patch result as Turtle; blank nodes in the document must survive.
    patch = parse_patch(
        n3_patch(
            [], [ox.Triple(ox.NamedNode(NS + "s"), ox.NamedNode(NS + "added"), ox.Literal("x"))]
        ),
        rdf.N3,
        base=BASE,
    )
    result = patch.apply(doc)
    data = rdf.serialize(result, rdf.TURTLE, prefixes=PREFIXES)
    assert_isomorphic(rdf.parse(data, rdf.TURTLE, base=BASE).triples, result, data)


# --- stored documents: the server's own IRIs relative -------------------------------------

_SEGMENT = st.text(alphabet="abcxyz09-_.~", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
_SERVERS = st.sampled_from(
    ["http://localhost:3000/", "https://pod.example/", "https://example.org:8443/kluis/"]
)


@st.composite
def _own_iri(draw: st.DrawFn, server: str) -> str:
    segments = draw(st.lists(_SEGMENT, max_size=4))
    tail = draw(st.sampled_from(["", "/", "#me", "#a-b", "?q=1"]))
    return server + "/".join(segments) + (tail if segments else "")


@given(data=st.data(), server=_SERVERS, moved_to=_SERVERS)
@settings(max_examples=150, deadline=None)
def test_stored_turtle_keeps_its_meaning_wherever_it_is_read(
    data: st.DataObject, server: str, moved_to: str
) -> None:
    document = data.draw(_own_iri(server))
    own = st.builds(ox.NamedNode, _own_iri(server))
    other = st.sampled_from(
        [
            ox.NamedNode("http://xmlns.com/foaf/0.1/name"),  # same scheme, another host
            ox.NamedNode("https://schema.org/about"),
            ox.NamedNode("http://localhost:3001/other#it"),  # another port
            ox.NamedNode(server.rstrip("/")),  # the origin without the path
        ]
    )
    term = st.one_of(own, other)
    objects = st.one_of(term, st.builds(ox.Literal, st.text(max_size=8)))
    triples = data.draw(st.lists(st.builds(ox.Triple, term, term, objects), min_size=1, max_size=8))
    prefixes = {"me": document + "#", "foaf": "http://xmlns.com/foaf/0.1/"}
    stored = rdf.serialize_stored(triples, document=document, server=server, prefixes=prefixes)
    assert server.encode() not in stored.replace(server.rstrip("/").encode() + b">", b"")

    # Read from another scheme, host and port, the same path (a path change needs a migration).
    target = "{0.scheme}://{0.netloc}{1.path}".format(urlsplit(moved_to), urlsplit(server))

    def moved(t: Any) -> Any:
        if isinstance(t, ox.NamedNode) and t.value.startswith(server):
            return ox.NamedNode(target + t.value[len(server) :])
        return t

    here = target + document[len(server) :]
    read = rdf.parse(stored, rdf.TURTLE, base=here).triples
    assert set(read) == {ox.Triple(*(moved(x) for x in t)) for t in triples}


def test_stored_turtle_with_the_placeholder_scheme_stays_absolute() -> None:
    doc = "http://localhost:3000/a/b"
    triples = [
        ox.Triple(ox.NamedNode(doc), ox.NamedNode("http://x/p"), ox.NamedNode("x-kluis-here:/a"))
    ]
    stored = rdf.serialize_stored(triples, document=doc, server="http://localhost:3000/")
    assert set(rdf.parse(stored, rdf.TURTLE, base="https://elsewhere/a/b").triples) == {
        ox.Triple(ox.NamedNode(doc), ox.NamedNode("http://x/p"), ox.NamedNode("x-kluis-here:/a"))
    }


def _iris_by_walking(triples: list[ox.Triple]) -> set[str]:
    """What rdf.iris_of must find: every named node, and every literal's datatype."""
    found: set[str] = set()
    for t in triples:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.NamedNode):
                found.add(term.value)
            elif isinstance(term, ox.Literal):
                found.add(term.datatype.value)
    return found


_IRI_TEXT = st.text(
    st.one_of(
        st.characters(whitelist_categories=("Lu", "Ll", "Nd"), max_codepoint=0xFFFF),
        st.sampled_from("/-._~"),
    ),
    max_size=12,
)
_IRIS = st.builds(
    lambda path, fragment: ox.NamedNode(
        "http://example.org/" + path + ("" if fragment is None else "#" + fragment)
    ),
    _IRI_TEXT,
    st.none() | _IRI_TEXT,
)
# Literal text that looks like N-Triples: quotes, escapes, IRIs in angle brackets.
_LITERAL_TEXT = st.text(
    st.one_of(
        st.sampled_from(['"', "\\", "<", ">", "^", "@", "\n", " "]),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=20,
)
_LITERALS = st.one_of(
    st.builds(ox.Literal, _LITERAL_TEXT),
    st.builds(lambda text: ox.Literal(text, language="nl-be"), _LITERAL_TEXT),
    st.builds(lambda text, dt: ox.Literal(text, datatype=dt), _LITERAL_TEXT, _IRIS),
)
_TRIPLES = st.lists(
    st.builds(
        ox.Triple,
        st.one_of(_IRIS, st.just(ox.BlankNode("b"))),
        _IRIS,
        st.one_of(_IRIS, _LITERALS, st.just(ox.BlankNode("c"))),
    ),
    max_size=8,
)


@given(_TRIPLES)
@example(
    [
        ox.Triple(
            ox.NamedNode("http://a/s"), ox.NamedNode("http://a/p"), ox.Literal('<http://x/y> "q"')
        )
    ]
)
def test_the_iris_of_triples_are_read_off_their_n_triples(triples: list[ox.Triple]) -> None:
    assert rdf.iris_of(triples) == _iris_by_walking(triples)


@given(_TRIPLES, st.lists(st.sampled_from(["", "/", "#", "a", "a/", "é", "/a/", "ex"]), max_size=4))
@example(
    [
        ox.Triple(
            ox.NamedNode("http://example.org/a/b#c"),
            ox.NamedNode("http://example.org/a/b#c"),
            ox.Literal("x"),
        )
    ],
    ["", "a/", "a/b"],
)
def test_the_prefixes_chosen_are_those_some_iri_starts_with(
    triples: list[ox.Triple], tails: list[str]
) -> None:
    """used_prefixes by its definition: a prefix (preferred first, then the common ones) whose
    namespace begins some IRI of the triples, each namespace once."""
    preferred = {f"p{i}": "http://example.org/" + tail for i, tail in enumerate(tails)}
    iris = _iris_by_walking(triples)
    expected: dict[str, str] = {}
    for source in (preferred, COMMON_PREFIXES):
        for name, namespace in source.items():
            if name in expected or namespace in expected.values():
                continue
            if any(iri.startswith(namespace) for iri in iris):
                expected[name] = namespace
    assert rdf.used_prefixes(triples, preferred) == expected


def test_a_large_graph_is_served_as_expanded_json_ld() -> None:
    """Compaction (PyLD) costs about 80 µs a triple; above the limit the expanded form, the
    same graph, comes straight from pyoxigraph."""
    n = rdf.JSONLD_COMPACT_MAX_TRIPLES + 1
    triples = [
        ox.Triple(
            ox.NamedNode(f"http://ex.org/c/{i}"), ox.NamedNode(str(LDP.contains)), ox.Literal("x")
        )
        for i in range(n)
    ]
    prefixes = {"ldp": str(LDP)}
    data = rdf.serialize(triples, rdf.JSON_LD, prefixes=prefixes)
    assert b"@context" not in data
    assert set(rdf.parse(data, rdf.JSON_LD, base="http://ex.org/").triples) == set(triples)
    small = rdf.serialize(triples[:10], rdf.JSON_LD, prefixes=prefixes)
    assert b"@context" in small
