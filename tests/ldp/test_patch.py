"""The patch model and its matcher (`pod.ldp.patch`), without a server.

SPARQL Update: random small documents and random updates in the supported subset (INSERT DATA,
DELETE DATA, DELETE WHERE, DELETE/INSERT ... WHERE over triple patterns, several operations in
one request) must give a graph isomorphic to what a full SPARQL engine gives. The engine is
pyoxigraph's `Store.update`: rdflib's `Graph.update` deletes and inserts solution by solution,
which SPARQL 1.1 Update §3.1.3 does not allow (test_rdflib_is_no_oracle_for_delete_insert shows
where they differ). Then: what the parser refuses and how, what the work budget stops, and that
no text makes the parser fail other than with a 400 or a 422.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyoxigraph as ox
import pytest
import rdflib
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rdflib.compare import isomorphic

from pod.errors import Conflict, InvalidPatch, InvalidRdf
from pod.ldp import rdf
from pod.ldp.isolation import IsolatedWorker
from pod.ldp.patch import (
    INLINE_N3_BYTES,
    MATCH_BUDGET,
    MAX_SPARQL_NESTING,
    SPARQL_UPDATE,
    Fresh,
    Operation,
    Patch,
    Var,
    _parse_n3_patch,
    check_sparql_nesting,
    parse_ground_n3_patch,
    parse_patch,
    parse_patch_quickly,
)

PROPERTY = settings(max_examples=150, deadline=None, database=None)
BASE = "http://pod.example/pod/doc"
EX = "http://example.org/"
SOLID = "@prefix solid: <http://www.w3.org/ns/solid/terms#>.\n"


def sparql(text: str) -> tuple[Operation, ...]:
    return parse_patch(text.encode(), SPARQL_UPDATE, base=BASE).operations


def iri(name: str) -> ox.NamedNode:
    return ox.NamedNode(EX + name)


def to_rdflib(triples: Iterable[ox.Triple]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for t in triples:
        graph.add((rdf.to_rdflib(t.subject), rdf.to_rdflib(t.predicate), rdf.to_rdflib(t.object)))
    return graph


def oxigraph_update(doc: Iterable[ox.Triple], update: str) -> list[ox.Triple]:
    store = ox.Store()
    for t in doc:
        store.add(ox.Quad(t.subject, t.predicate, t.object))
    store.update(update, base_iri=BASE)
    return [ox.Triple(q.subject, q.predicate, q.object) for q in store]


# --- strategies: a few terms, so that patterns match often ---------------------------------------

SUBJECTS = ["s0", "s1", "s2"]
PREDICATES = ["p0", "p1"]
LITERALS = ['"a"', '"b"', "1", '"x"@en', "true"]
VARIABLES = ["?v0", "?v1", "?v2"]


def _ox_object(text: str) -> ox.NamedNode | ox.Literal:
    if text.startswith("ex:"):
        return iri(text[3:])
    return {
        '"a"': ox.Literal("a"),
        '"b"': ox.Literal("b"),
        "1": ox.Literal("1", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
        '"x"@en': ox.Literal("x", language="en"),
        "true": ox.Literal(
            "true", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean")
        ),
    }[text]


@st.composite
def documents(draw: st.DrawFn) -> list[ox.Triple]:
    blanks = [ox.BlankNode(), ox.BlankNode()]
    subjects = st.sampled_from([iri(s) for s in SUBJECTS] + blanks)
    objects = st.sampled_from(
        [iri(s) for s in SUBJECTS] + blanks + [_ox_object(lit) for lit in LITERALS]
    )
    predicates = st.sampled_from([iri(p) for p in PREDICATES])
    triples = draw(st.lists(st.tuples(subjects, predicates, objects), max_size=10))
    return [ox.Triple(s, p, o) for s, p, o in triples]


Text = tuple[str, str, str]


def _ground(draw: st.DrawFn) -> Text:
    return (
        "ex:" + draw(st.sampled_from(SUBJECTS)),
        "ex:" + draw(st.sampled_from(PREDICATES)),
        draw(st.sampled_from(["ex:" + s for s in SUBJECTS] + LITERALS)),
    )


def _pattern(draw: st.DrawFn, *, blanks: list[str]) -> Text:
    subject = draw(st.sampled_from(["ex:" + s for s in SUBJECTS] + VARIABLES + blanks))
    predicate = draw(st.sampled_from(["ex:" + p for p in PREDICATES] + VARIABLES[:1]))
    obj = draw(st.sampled_from(["ex:" + s for s in SUBJECTS] + LITERALS + VARIABLES + blanks))
    return subject, predicate, obj


def render(triples: list[Text]) -> str:
    """Triples as SPARQL, sharing subjects with ';' and predicates with ',' where they can."""
    out: list[str] = []
    for i, (s, p, o) in enumerate(triples):
        if i and triples[i - 1][0] == s:
            out.append((", " if triples[i - 1][1] == p else f" ;\n  {p} ") + o)
        else:
            out.append((" .\n" if i else "") + f"{s} {p} {o}")
    return "".join(out)


@st.composite
def operations(draw: st.DrawFn, index: int) -> str:
    kind = draw(st.sampled_from(["insert data", "delete data", "delete where", "modify"]))
    if kind == "insert data":
        triples = [_ground(draw) for _ in range(draw(st.integers(0, 4)))]
        if draw(st.booleans()):  # a blank node, new in the document
            triples.append((f"_:n{index}", "ex:p0", '"a"'))
        return f"INSERT DATA {{ {render(triples)} }}"
    if kind == "delete data":
        triples = [_ground(draw) for _ in range(draw(st.integers(0, 4)))]
        return f"DELETE DATA {{ {render(triples)} }}"
    patterns = [_pattern(draw, blanks=[]) for _ in range(draw(st.integers(1, 3)))]
    if kind == "delete where":
        return f"DELETE WHERE {{ {render(patterns)} }}"
    where = [_pattern(draw, blanks=[f"_:w{index}"]) for _ in range(draw(st.integers(0, 3)))]
    deletes = [_pattern(draw, blanks=[]) for _ in range(draw(st.integers(0, 2)))]
    inserts = [
        _pattern(draw, blanks=[f"_:i{index}", "[]"])
        for _ in range(draw(st.integers(0 if deletes else 1, 2)))
    ]
    text = f"DELETE {{ {render(deletes)} }} " if deletes else ""
    text += f"INSERT {{ {render(inserts)} }} " if inserts else ""
    return text + f"WHERE {{ {render(where)} }}"


@st.composite
def updates(draw: st.DrawFn) -> str:
    count = draw(st.integers(1, 3))
    ops = [draw(operations(i)) for i in range(count)]
    return f"PREFIX ex: <{EX}>\n" + " ;\n".join(ops)


# --- SPARQL Update: the same answers as a full engine --------------------------------------------


@PROPERTY
@given(doc=documents(), update=updates())
@example(
    doc=[ox.Triple(iri("s0"), iri("p0"), iri("s1")), ox.Triple(iri("s1"), iri("p0"), iri("s0"))],
    update=f"PREFIX ex: <{EX}> DELETE {{ ?v0 ex:p0 ?v1 }} INSERT {{ ?v1 ex:p0 ?v0 }} "
    "WHERE { ?v0 ex:p0 ?v1 }",
)
def test_sparql_update_agrees_with_a_full_engine(doc: list[ox.Triple], update: str) -> None:
    got = parse_patch(update.encode(), SPARQL_UPDATE, base=BASE).apply(doc)
    expected = oxigraph_update(doc, update)
    assert isomorphic(to_rdflib(got), to_rdflib(expected)), update


def test_rdflib_is_no_oracle_for_delete_insert() -> None:
    # Two solutions, each deleting what the other inserts: SPARQL 1.1 Update §3.1.3 deletes for
    # every solution first, then inserts, and both triples remain; rdflib keeps only one.
    doc = [ox.Triple(iri("s0"), iri("p0"), iri("s1")), ox.Triple(iri("s1"), iri("p0"), iri("s0"))]
    update = f"DELETE {{ ?a <{EX}p0> ?b }} INSERT {{ ?b <{EX}p0> ?a }} WHERE {{ ?a <{EX}p0> ?b }}"
    ours = parse_patch(update.encode(), SPARQL_UPDATE, base=BASE).apply(doc)
    assert set(ours) == set(doc) == set(oxigraph_update(doc, update))
    theirs = to_rdflib(doc)
    theirs.update(update)
    assert len(theirs) == 1


def test_blank_nodes_of_insert_templates_are_new_for_each_solution() -> None:
    doc = [
        ox.Triple(iri("s0"), iri("p0"), ox.Literal("a")),
        ox.Triple(iri("s1"), iri("p0"), ox.Literal("a")),
    ]
    patch = parse_patch(
        f'INSERT {{ ?s <{EX}has> [ <{EX}v> 1 ] }} WHERE {{ ?s <{EX}p0> "a" }}'.encode(),
        SPARQL_UPDATE,
        base=BASE,
    )
    result = patch.apply(doc)
    made = {t.object for t in result if t.predicate == iri("has")}
    assert len(made) == 2
    assert all(isinstance(node, ox.BlankNode) for node in made)


def test_operations_apply_in_order() -> None:
    update = f"""PREFIX ex: <{EX}>
    INSERT DATA {{ ex:s0 ex:p0 "a" }} ;
    DELETE {{ ?s ex:p0 "a" }} INSERT {{ ?s ex:p1 "b" }} WHERE {{ ?s ex:p0 "a" }}"""
    result = parse_patch(update.encode(), SPARQL_UPDATE, base=BASE).apply([])
    assert result == [ox.Triple(iri("s0"), iri("p1"), ox.Literal("b"))]


def test_parse_builds_the_patch_model() -> None:
    (insert_data, modify, delete_where) = sparql(
        f"""PREFIX ex: <{EX}> BASE <http://other.example/dir/>
        INSERT DATA {{ <x> a ex:T ; ex:list (1) }} ;
        DELETE {{ ?s ex:p0 ?o }} INSERT {{ ?s ex:p1 _:n }} WHERE {{ ?s ex:p0 ?o . _:b ex:p1 ?s }} ;
        DELETE WHERE {{ ?s ex:p1 ?o }}"""
    )
    x = ox.NamedNode("http://other.example/dir/x")
    rdf_ns = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    one = ox.Literal("1", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))
    # rdflib names the list's blank node; it is a new node in the document either way.
    list_node = next(t[2] for t in insert_data.inserts if t[1] == iri("list"))
    assert isinstance(list_node, Fresh)
    assert set(insert_data.inserts) == {
        (x, ox.NamedNode(rdf_ns + "type"), iri("T")),
        (list_node, ox.NamedNode(rdf_ns + "first"), one),
        (list_node, ox.NamedNode(rdf_ns + "rest"), ox.NamedNode(rdf_ns + "nil")),
        (x, iri("list"), list_node),
    }
    assert insert_data.where == insert_data.deletes == ()
    s, o = Var("s"), Var("o")
    assert modify == Operation(
        where=((s, iri("p0"), o), (Var("_:b"), iri("p1"), s)),
        deletes=((s, iri("p0"), o),),
        inserts=((s, iri("p1"), Fresh("n")),),
    )
    assert delete_where == Operation(where=((s, iri("p1"), o),), deletes=((s, iri("p1"), o),))


def test_literals_keep_their_lexical_form() -> None:
    # SPARQL 1.1 Query §4.1.2: a number is a typed literal with the lexical form as written.
    # (rdflib cannot negate such a literal, so -1.5 does not parse; see the closing note.)
    ((_, _, decimal), (_, _, double), (_, _, integer), (_, _, escaped)) = sparql(
        r'INSERT DATA { <a> <b> 1.50 . <a> <b> 1E3 . <a> <b> +01 . <a> <b> "tab\there \u00e9" }'
    )[0].inserts
    xsd = "http://www.w3.org/2001/XMLSchema#"
    assert [decimal, double, integer, escaped] == [
        ox.Literal("1.50", datatype=ox.NamedNode(xsd + "decimal")),
        ox.Literal("1E3", datatype=ox.NamedNode(xsd + "double")),
        ox.Literal("+01", datatype=ox.NamedNode(xsd + "integer")),
        ox.Literal("tab\there é"),
    ]


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ("LOAD <http://example.org/x>", "LOAD .Load. is not supported"),
        ("DELETE DATA { _:b <p> 1 }", "DELETE DATA may not contain blank nodes"),
        ("DELETE { ?s <p> ( 1 ) } WHERE { ?s <p> ?o }", "a DELETE template may not contain"),
        ("INSERT DATA { _:b <p> 1 } ; INSERT DATA { _:b <p> 2 }", "_:b is used in two INSERT DATA"),
        ('INSERT DATA { "lit" <p> 1 }', "a literal cannot be a subject"),
        ("INSERT { <a> <b> ?o } WHERE { ?s <p>|<q> ?o }", "property paths"),
        ("INSERT { <a> <b> ?o } WHERE { ?s ?p ?o . { ?s ?q ?o } }", "nested group patterns"),
    ],
)
def test_unsupported_sparql_is_invalid_patch(update: str, message: str) -> None:
    with pytest.raises(InvalidPatch, match=message):
        sparql(update)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ("INSERT DATA { <a> <b> <c> ", "line 1"),
        ("INSERT DATA {\n <a> <b> 'no end }", "line 1"),
        ("INSERT DATA { ex:a <b> <c> }", "prefix : ex"),
        ("INSERT DATA { <a b> <b> <c> }", "line 1"),
        ("INSERT DATA { <a> <b> <c> } GARBAGE", "line 1, column 29"),
        ("UPSERT DATA { <a> <b> <c> }", "line 1"),
        (r'INSERT DATA { <a> <b> "\UFFFFFFFF" }', "code point"),
        (r"INSERT DATA { <a\uD800> <b> 1 }", "invalid term"),
    ],
)
def test_malformed_sparql_is_invalid_rdf(update: str, message: str) -> None:
    with pytest.raises(InvalidRdf, match=message):
        sparql(update)


TOKENS = [
    "INSERT", "DELETE", "DATA", "WHERE", "WITH", "USING", "GRAPH", "PREFIX", "BASE", "a", "true",
    "{", "}", "(", ")", "[", "]", ".", ",", ";", "^^", "@en", "?x", "$y", "_:b", "<a>", "<#b>",
    "ex:c", ":d", "ex:", '"s"', "'''l'''", "1", "-2.5", "3e4", "FILTER", "OPTIONAL", "|", "/",
    "*", "^", "!", "#c\n", "\\u0041", "%41", "é",
]  # fmt: skip


@PROPERTY
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join),
        st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    )
)
def test_any_text_parses_or_is_refused_as_400_or_422(text: str) -> None:
    try:
        patch = parse_patch(("PREFIX ex: <http://e/> " + text).encode(), SPARQL_UPDATE, base=BASE)
    except (InvalidRdf, InvalidPatch):
        return
    patch.apply([ox.Triple(iri("s0"), iri("p0"), ox.Literal("a"))])


# --- the work budget ------------------------------------------------------------------------------


def _doc(size: int) -> list[ox.Triple]:
    return [ox.Triple(iri(f"s{i}"), iri(f"p{i % 7}"), ox.Literal(f"v{i}")) for i in range(size)]


def test_n3_where_with_disconnected_blank_nodes_runs_out_of_budget() -> None:
    # Issue 10: 120^3 combinations of three unrelated blank nodes.
    patch = parse_patch(
        (
            SOLID + "_:p a solid:InsertDeletePatch; solid:where { _:a _:b _:c. _:d _:e _:f. "
            "_:g _:h _:i. }; solid:inserts { <#x> <#y> <#z>. }."
        ).encode(),
        rdf.N3,
        base=BASE,
    )
    with pytest.raises(InvalidPatch, match=f"budget of {MATCH_BUDGET:,} steps"):
        patch.apply(_doc(120))


def test_sparql_where_with_disconnected_variables_runs_out_of_budget() -> None:
    patch = parse_patch(
        b"INSERT { <#a> <#b> <#c> } WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }",
        SPARQL_UPDATE,
        base=BASE,
    )
    with pytest.raises(InvalidPatch, match="more specific"):
        patch.apply(_doc(40))


def test_filling_templates_counts_against_the_budget() -> None:
    template = " ".join(f"<#s{i}> <#p> ?c ." for i in range(100))
    patch = parse_patch(
        f"INSERT {{ {template} }} WHERE {{ ?a ?b ?c }}".encode(), SPARQL_UPDATE, base=BASE
    )
    patch.apply(_doc(10), budget=2_000)  # 10 candidates + 10 x 100 template triples
    with pytest.raises(InvalidPatch, match="budget"):
        patch.apply(_doc(100), budget=2_000)


async def test_a_long_where_clause_does_not_exhaust_the_stack() -> None:
    # 1,500 patterns: rdflib's grammar recurses several frames per pattern, past Python's
    # default limit; the worker process the server parses in allows for it (pod.ldp.isolation).
    chain = f"<{EX}s0> <{EX}p0> ?v1 . " + " ".join(
        f"?v{i} <{EX}p0> ?v{i + 1} ." for i in range(1, 1500)
    )
    doc = [ox.Triple(iri(f"s{i}"), iri("p0"), iri(f"s{i + 1}")) for i in range(1500)]
    update = f"INSERT {{ <{EX}done> <{EX}p1> ?v1500 }} WHERE {{ {chain} }}".encode()
    worker = IsolatedWorker()
    try:
        patch = await worker.run(30, parse_patch, update, SPARQL_UPDATE, base=BASE)
    finally:
        await worker.close()
    with pytest.raises(InvalidPatch, match="budget"):  # it weighs every pattern at each step
        patch.apply(doc)
    assert ox.Triple(iri("done"), iri("p1"), iri("s1500")) in patch.apply(doc, budget=2_000_000)


def test_patches_that_name_a_subject_fit_the_budget_on_a_large_document() -> None:
    # 5,000 subjects with ten predicates each
    doc = [
        ox.Triple(iri(f"s{i % 5000}"), iri(f"p{i // 5000}"), ox.Literal(f"v{i}"))
        for i in range(50_000)
    ]
    n3 = parse_patch(
        (
            SOLID + f"_:p a solid:InsertDeletePatch; solid:where {{ <{EX}s42> <{EX}p2> ?v }};"
            f"solid:deletes {{ <{EX}s42> <{EX}p2> ?v }}; solid:inserts {{ <{EX}s42> <{EX}p2> 0 }}."
        ).encode(),
        rdf.N3,
        base=BASE,
    )
    assert len(n3.apply(doc)) == 50_000
    update = parse_patch(
        f"""PREFIX ex: <{EX}>
        DELETE {{ ?s ?p ?o }} INSERT {{ ?s ex:renamed ?o }}
        WHERE {{ ?s ex:p3 "v15042" . ?s ?p ?o }} ;
        DELETE {{ ex:s7 ?p ?o }} WHERE {{ ex:s7 ?p ?o }}""".encode(),
        SPARQL_UPDATE,
        base=BASE,
    )
    result = update.apply(doc)
    assert len(result) == 50_000 - 10
    assert sum(1 for t in result if t.predicate == iri("renamed")) == 10


def test_n3_semantics_are_kept() -> None:
    doc = _doc(3)
    two = (
        SOLID
        + "_:p a solid:InsertDeletePatch; solid:where { ?s ?p ?o }; solid:inserts { ?s <#q> 1 }."
    )
    with pytest.raises(Conflict, match="more than one"):
        parse_patch(two.encode(), rdf.N3, base=BASE).apply(doc)
    one = (
        SOLID + f'_:p a solid:InsertDeletePatch; solid:where {{ ?s <{EX}p1> "v1" }};'
        f'solid:deletes {{ ?s <{EX}p1> "v1" }}; solid:inserts {{ ?s <{EX}p1> "w" }}.'
    )
    assert ox.Triple(iri("s1"), iri("p1"), ox.Literal("w")) in parse_patch(
        one.encode(), rdf.N3, base=BASE
    ).apply(doc)
    missing = SOLID + f"_:p a solid:InsertDeletePatch; solid:deletes {{ <{EX}s9> <{EX}p0> 1 }}."
    with pytest.raises(Conflict, match="not in the document"):
        parse_patch(missing.encode(), rdf.N3, base=BASE).apply(doc)


# --- the nesting bound, before rdflib's grammar ---------------------------------------------


@pytest.mark.parametrize("opening", ["{ ", "( ", "[ <#p> "])
def test_sparql_nesting_beyond_the_bound_is_refused_before_parsing(opening: str) -> None:
    closing = {"{ ": "}", "( ": ")", "[ <#p> ": "]"}[opening]
    depth = MAX_SPARQL_NESTING + 1
    text = "INSERT DATA { <#s> <#p> " + opening * depth + "1" + closing * depth + " }"
    with pytest.raises(InvalidRdf, match="nests too deeply"):
        check_sparql_nesting(text)


@given(
    st.lists(
        st.sampled_from(["(", ")", "[", "]", "{", "}", "<", ">", "#", '"', "'", "\\", "\n", "x"]),
        max_size=300,
    )
)
def test_brackets_in_strings_iris_and_comments_do_not_count(chars: list[str]) -> None:
    noise = "".join(chars).replace("\n", " ")
    quoted = noise.replace("\\", "\\\\").replace('"', '\\"')
    text = (
        f'INSERT DATA {{ <#s> <#p> "{quoted}" . <#s> <#p> """{quoted}""" .'
        f" <#s> <#{'(' * 150}> 1 . # {noise}\n"
        f"<#s> <#p> ( ( 1 ) ) }}"
    )
    check_sparql_nesting(text)  # nests 3 deep, whatever the strings and comment hold


# --- N3 Patch: pyoxigraph's reading of ground patches against rdflib's -----------------------

N3_IRIS = ["ex:a", "<#a>", "<http://example.org/b>", "</pod/other#c>"]
N3_LITERALS = [
    '"v"',
    '"é\\t\\u00e9"',
    '"""two\nlines"""',
    '"v"@EN-us',
    '"v"^^ex:t',
    '"01"^^<http://www.w3.org/2001/XMLSchema#integer>',
    "1",
    "01",
    "-0",
    "+1",
    "1.50",
    ".5",
    "-0.5",
    "1e0",
    "1.e1",
    "01e1",
    "true",
]
N3_OTHERS = ["_:b", "[]", "[ ex:p ex:o ]", "?x", "{ ex:a ex:b ex:c }", "{}", "( ex:a )"]
N3_TERMS = [*N3_IRIS, "a", *N3_LITERALS, *N3_OTHERS]
PATCH_KEYS = ["solid:where", "solid:inserts", "solid:deletes"]


def _same_patch(ours: Patch, theirs: Patch) -> bool:
    """Equal up to the order of each formula's triples (a set, in N3)."""
    assert ours.language == theirs.language == "n3"
    return all(
        set(getattr(a, part)) == set(getattr(b, part))
        and len(getattr(a, part)) == len(getattr(b, part))
        for a, b in zip(ours.operations, theirs.operations, strict=True)
        for part in ("where", "deletes", "inserts")
    )


def assert_readers_agree(text: str) -> Patch | None:
    """pyoxigraph's reading is rdflib's whenever it gives one; when rdflib refuses a body,
    pyoxigraph gives none (rdflib then words the refusal). Returns pyoxigraph's reading."""
    ours = parse_ground_n3_patch(text, base=BASE)
    try:
        theirs = parse_patch(text.encode(), rdf.N3, base=BASE)  # ours first, then rdflib's
        slow = _parse_n3_patch(text, BASE)
    except (InvalidRdf, InvalidPatch):
        assert ours is None, text
        return None
    if ours is not None:
        assert theirs == ours
        assert _same_patch(ours, slow), text
    return ours


@st.composite
def n3_patches(draw: st.DrawFn) -> str:
    def term(usual: list[str]) -> str:
        # Mostly what a ground patch holds, so that both readers are often compared.
        return draw(st.sampled_from(usual if draw(st.integers(0, 19)) else N3_TERMS))

    def formula() -> str:
        size = draw(st.integers(0, 4)) if not draw(st.integers(0, 9)) else draw(st.integers(1, 4))
        triples = [
            (term(N3_IRIS), term([*N3_IRIS, "a"]), term([*N3_IRIS, *N3_LITERALS]))
            for _ in range(size)
        ]
        return "{ " + " . ".join(" ".join(t) for t in triples) + " }"

    node = draw(st.sampled_from(["_:p", "<#patch>", "[]"]))
    parts = []
    if draw(st.integers(0, 9)):
        parts.append("a solid:InsertDeletePatch")
    unique = bool(draw(st.integers(0, 9)))  # a key given twice is refused
    for key in draw(
        st.lists(st.sampled_from(PATCH_KEYS), max_size=3 + (not unique), unique=unique)
    ):
        value = formula() if draw(st.integers(0, 9)) else draw(st.sampled_from(N3_TERMS))
        parts.append(f"{key} {value}")
    body = f"{node} {'; '.join(parts)} ." if parts else ""
    if not draw(st.integers(0, 9)):
        body += " _:q a solid:InsertDeletePatch ."
    return SOLID + "@prefix ex: <http://example.org/>.\n" + body


@PROPERTY
@given(text=n3_patches())
def test_pyoxigraph_reads_n3_patches_as_rdflib_does(text: str) -> None:
    assert_readers_agree(text)


GROUND = SOLID + "@prefix ex: <http://example.org/>.\n"


@pytest.mark.parametrize(
    "body",
    [
        '_:p a solid:InsertDeletePatch; solid:inserts { <#s> <#p> "v" }.',
        "<#x> a solid:InsertDeletePatch; solid:deletes { ex:a ex:b 1, -2, 1.50, -0.5, 1e0 };"
        ' solid:inserts { ex:a a ex:C; ex:b "v"@EN-us, "w"^^ex:t, true, </pod/x> }.',
        "[] a solid:InsertDeletePatch; solid:where { ex:a ex:b ex:c }; solid:inserts { ex:a ex:d"
        ' """long\nstring""" }.',
        "_:p a solid:InsertDeletePatch; solid:inserts { ex:a ex:b ex:c }. ex:x ex:y ex:z.",
        "@base <http://other.example/dir/>. _:p a solid:InsertDeletePatch;"
        " solid:inserts { <a> <b> <../c> }.",
    ],
)
def test_ground_patches_are_read_by_pyoxigraph(body: str) -> None:
    assert assert_readers_agree(GROUND + body) is not None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            "_:p a solid:InsertDeletePatch; solid:where { ?a ex:b ?c };"
            " solid:deletes { ?a ex:b ?c }.",
            "variables",
        ),
        ("_:p a solid:InsertDeletePatch; solid:where { _:x ex:b ex:c }.", "a blank node"),
        ("_:p a solid:InsertDeletePatch; solid:inserts { [] ex:b ex:c }.", "a blank node (422)"),
        (
            "_:p a solid:InsertDeletePatch; solid:inserts { ex:a ex:b { ex:a ex:b ex:c } }.",
            "a nested formula (422)",
        ),
        ("_:p a solid:InsertDeletePatch; solid:where { ex:a ex:b {} }.", "a nested empty formula"),
        ("_:p a solid:InsertDeletePatch; solid:inserts {}.", "an empty formula"),
        ("_:p a solid:InsertDeletePatch; solid:inserts ex:a.", "not a formula (422)"),
        ("_:p solid:inserts { ex:a ex:b ex:c }.", "no type (422)"),
        (
            "_:p a solid:InsertDeletePatch; solid:inserts { ex:a ex:b ex:c }, { ex:a ex:b ex:d }.",
            "two inserts (422)",
        ),
        ("_:p a solid:InsertDeletePatch. _:q a solid:InsertDeletePatch.", "two patches (422)"),
        ("ex:a ex:b ex:c.", "no patch (422)"),
        ("_:p a solid:InsertDeletePatch; solid:inserts { ex:a ex:b 01 }.", "a number rewritten"),
        ("_:p a solid:InsertDeletePatch; solid:inserts { ex:a ex:b .5 }.", "a number rewritten"),
        ("_:p a solid:InsertDeletePatch; solid:inserts { ex:a ex:b ex:c", "a syntax error (400)"),
        ("{ ex:a ex:b ex:c } => { ex:a ex:b ex:d }.", "a rule (422)"),
    ],
)
def test_other_n3_patches_are_left_to_rdflib(body: str, why: str) -> None:
    assert parse_ground_n3_patch(GROUND + body, base=BASE) is None, why
    assert_readers_agree(GROUND + body)


def test_small_ground_n3_patches_are_read_at_once() -> None:
    body = (GROUND + "_:p a solid:InsertDeletePatch; solid:inserts { ex:a ex:b ex:c }.").encode()
    assert parse_patch_quickly(body, "text/n3; charset=utf-8", base=BASE) is not None
    assert parse_patch_quickly(body + b" " * INLINE_N3_BYTES, rdf.N3, base=BASE) is None
    assert parse_patch_quickly(body, SPARQL_UPDATE, base=BASE) is None
    assert parse_patch_quickly(b"\xff" + body, rdf.N3, base=BASE) is None


def test_a_patch_that_changes_nothing_says_so_and_copies_nothing() -> None:
    doc = frozenset({ox.Triple(iri("s0"), iri("p0"), ox.Literal("a"))})
    insert = GROUND + '_:p a solid:InsertDeletePatch; solid:inserts { ex:s0 ex:p0 "a" }.'
    patch = parse_patch(insert.encode(), rdf.N3, base=BASE)
    assert patch.changes(doc) is None
    assert patch.apply(doc) == list(doc)
    swap = (
        GROUND + '_:p a solid:InsertDeletePatch; solid:deletes { ex:s0 ex:p0 "a" };'
        ' solid:inserts { ex:s0 ex:p0 "a" }.'
    )
    assert parse_patch(swap.encode(), rdf.N3, base=BASE).changes(doc) is None
    other = insert.replace('"a"', '"b"')
    after = parse_patch(other.encode(), rdf.N3, base=BASE).changes(doc)
    assert after == doc | {ox.Triple(iri("s0"), iri("p0"), ox.Literal("b"))}
    assert len(doc) == 1  # the document given is never modified
