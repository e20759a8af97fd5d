"""PATCH documents: Solid N3 Patch and SPARQL Update, parsed into one model and applied to triples.

Imports errors, vocab, ldp.rdf. pyoxigraph reads the common N3 Patch (ground triples, no
variables) in microseconds; rdflib reads every other one (variables, blank nodes, anything to
refuse) and the SPARQL grammar. Both become a Patch of Operations (where, deletes, inserts) over
pyoxigraph terms, and one matcher applies them within a work budget, so that no patch can make
the server work without bound (issue 10). rdflib's SPARQL grammar is slow on hostile input, so
the server parses SPARQL Update in a worker process with a time limit (`SPARQL_PARSE_SECONDS`,
pod.ldp.isolation).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Iterator, Set
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, final

import pyoxigraph as ox
import rdflib
from rdflib.graph import QuotedGraph
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.term import BNode, Literal, Node, URIRef, Variable

from pod.errors import Conflict, InvalidPatch, InvalidRdf, UnsupportedMediaType
from pod.ldp.rdf import N3
from pod.vocab import RDF, SOLID

SPARQL_UPDATE: Final = "application/sparql-update"
PATCH_TYPES: Final = (N3, SPARQL_UPDATE)
_N3_TYPES: Final = frozenset({N3, "application/n3", "text/rdf+n3"})

# The most matching work one patch may take: candidate triples tried, patterns weighed while
# choosing the next one to match, and template triples filled in. A step costs one to three
# microseconds, so the worst patch stops within about a third of a second (measured for issue
# 10), while a where clause that names a subject or an object takes a few steps per matching
# triple, even in a document of 50,000 triples.
MATCH_BUDGET: Final = 100_000
# The longest a SPARQL Update may take to parse (in its worker process). A body at the default
# max_patch_bytes (64 KiB) of plain INSERT DATA takes about 0.8 s; hostile shapes of that size
# take up to half a minute, and are cut off here (422).
SPARQL_PARSE_SECONDS: Final = 5.0
# The largest N3 Patch read on the event loop (see `parse_patch_quickly`).
INLINE_N3_BYTES: Final = 2048

# Literals must keep their exact lexical form ("01" stays "01") or deletes would not match.
rdflib.NORMALIZE_LITERALS = False


@dataclass(frozen=True, slots=True)
class Var:
    """A variable: `?x` (name "x"), or a blank node of a where clause (name "_:b")."""

    name: str


@dataclass(frozen=True, slots=True)
class Fresh:
    """A blank node of an insert template: a new blank node for each solution."""

    label: str


Term: TypeAlias = "ox.NamedNode | ox.Literal | Var | Fresh"
Pattern: TypeAlias = "tuple[Term, Term, Term]"
Value: TypeAlias = "ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple"
Binding: TypeAlias = "dict[Var, Value]"


@dataclass(frozen=True, slots=True)
class Operation:
    """One step of a patch: match `where`, then delete and insert the templates per solution."""

    where: tuple[Pattern, ...] = ()
    deletes: tuple[Pattern, ...] = ()
    inserts: tuple[Pattern, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class Patch:
    """A parsed patch: what it touches (for access control) and how to apply it.

    `language` is "n3" (one operation, Solid Protocol §n3-patch semantics: exactly one match,
    every delete must exist) or "sparql" (operations in order, SPARQL 1.1 Update §3.1.3).
    """

    language: str
    operations: tuple[Operation, ...]

    @property
    def where(self) -> bool:
        """The patch reads the document to decide what to change."""
        return any(op.where for op in self.operations)

    @property
    def inserts(self) -> bool:
        return any(op.inserts for op in self.operations)

    @property
    def deletes(self) -> bool:
        return any(op.deletes for op in self.operations)

    def apply(self, triples: Iterable[ox.Triple], *, budget: int = MATCH_BUDGET) -> list[ox.Triple]:
        """The document after the patch.

        Raises Conflict when an N3 Patch does not fit the document, and InvalidPatch when
        matching needs more than `budget` steps.
        """
        document = triples if isinstance(triples, Set) else set(triples)
        after = self.changes(document, budget=budget)
        return list(document if after is None else after)

    def changes(
        self, triples: Set[ox.Triple], *, budget: int = MATCH_BUDGET
    ) -> Set[ox.Triple] | None:
        """The document after the patch, or None when the patch leaves it as it was (so that
        nothing need be written). `triples` itself is never modified: it may be shared.

        Raises as `apply`.
        """
        graph = _Graph(triples)
        work = _Work(budget)
        for op in self.operations:
            if self.language == "n3":
                _apply_n3(op, graph, work)
            else:
                _apply_sparql(op, graph, work)
        if graph.all is triples or graph.all == triples:
            return None
        return graph.all


def patch_media_type(content_type: str) -> str:
    """The patch language of a Content-Type; raises UnsupportedMediaType for any other type."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _N3_TYPES:
        return N3
    if media == SPARQL_UPDATE:
        return SPARQL_UPDATE
    raise UnsupportedMediaType(
        f"PATCH bodies must be {' or '.join(PATCH_TYPES)}, not {media or 'untyped'}",
        accepted=PATCH_TYPES,
    )


def parse_patch(data: bytes, content_type: str, *, base: str) -> Patch:
    """Parse a PATCH body of type `text/n3` or `application/sparql-update`.

    Raises UnsupportedMediaType, InvalidRdf (does not parse: 400) or InvalidPatch (parses but
    breaks the language's rules, or uses what Kluis does not support: 422).
    """
    media = patch_media_type(content_type)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRdf(f"patch body is not UTF-8: {exc}") from exc
    if media == N3:
        return parse_ground_n3_patch(text, base=base) or _parse_n3_patch(text, base)
    return Patch("sparql", parse_sparql_update(text, base))


def parse_patch_quickly(data: bytes, content_type: str, *, base: str) -> Patch | None:
    """What `parse_patch` gives, when it takes so little time that it may run on the event loop:
    a small N3 Patch of ground triples (pyoxigraph reads one of INLINE_N3_BYTES in about a third
    of a millisecond). None for every other body, which `parse_patch` must read off the loop.
    """
    if len(data) > INLINE_N3_BYTES or patch_media_type(content_type) != N3:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return parse_ground_n3_patch(text, base=base)


# --- N3 Patch (Solid Protocol §n3-patch) -------------------------------------------------

_RDF_TYPE: Final = ox.NamedNode(str(RDF.type))
_INSERT_DELETE_PATCH: Final = ox.NamedNode(str(SOLID.InsertDeletePatch))
_WHERE: Final = ox.NamedNode(str(SOLID.where))
_INSERTS: Final = ox.NamedNode(str(SOLID.inserts))
_DELETES: Final = ox.NamedNode(str(SOLID.deletes))


def parse_ground_n3_patch(text: str, *, base: str) -> Patch | None:
    """The N3 Patch `text` if it is a valid one made of ground triples, read by pyoxigraph
    (about a hundred times faster than rdflib); None for every other body, which rdflib's reader
    then judges, so that there is one set of rules and one wording of every refusal.

    None covers: what pyoxigraph 0.5 cannot read (variables, `=>`, syntax errors), any blank
    node inside a formula (pyoxigraph gives an empty formula as a bare blank node, so `{}`
    nested in a formula could not be told from `[]`), a formula given as an empty `{}` for the
    same reason, and anything the rules below refuse.
    """
    try:
        quads = ox.parse(text, ox.RdfFormat.N3, base_iri=base)
        # pyoxigraph gives a formula's triples as quads named by a blank node of its own.
        top: list[ox.Triple] = []
        formulas: dict[object, list[ox.Triple]] = {}
        for quad in quads:
            if isinstance(quad.graph_name, ox.DefaultGraph):
                top.append(quad.triple)
            else:
                formulas.setdefault(quad.graph_name, []).append(quad.triple)
    except (SyntaxError, ValueError):
        return None
    patch_nodes: set[object] = set()
    typed: set[object] = set()
    values: dict[ox.NamedNode, list[object]] = {_WHERE: [], _INSERTS: [], _DELETES: []}
    for t in top:
        if t.predicate == _RDF_TYPE and t.object == _INSERT_DELETE_PATCH:
            patch_nodes.add(t.subject)
            typed.add(t.subject)
        elif t.predicate in values:
            patch_nodes.add(t.subject)
            values[t.predicate].append(t.object)
    # Solid Protocol #server-patch-n3-single: exactly one patch resource, of the right type.
    if len(patch_nodes) != 1 or typed != patch_nodes:
        return None
    parts: list[tuple[Pattern, ...]] = []
    for predicate in (_WHERE, _INSERTS, _DELETES):
        given = values[predicate]
        if not given:
            parts.append(())
            continue
        formula = formulas.get(given[0]) if len(given) == 1 else None
        if formula is None:
            return None
        patterns = _ground_patterns(formula, formulas)
        if patterns is None:
            return None
        parts.append(patterns)
    where, inserts, deletes = parts
    return Patch("n3", (Operation(where, deletes, inserts),))


def _ground_patterns(
    formula: list[ox.Triple], formulas: dict[object, list[ox.Triple]]
) -> tuple[Pattern, ...] | None:
    out: list[Pattern] = []
    for t in formula:
        s, p, o = t.subject, t.predicate, t.object
        # Blank nodes (and nested formulas, which are blank nodes here) and quoted triples go
        # the long way.
        if not isinstance(s, ox.NamedNode) or not isinstance(o, ox.NamedNode | ox.Literal):
            return None
        if isinstance(o, ox.Literal):
            form = _PLAIN_NUMBERS.get(o.datatype.value)
            if form is not None and not form.fullmatch(o.value):
                return None
        out.append((s, p, o))
    return tuple(dict.fromkeys(out))  # a formula is a set of triples, as rdflib gives it


# rdflib's N3 reader rewrites some numbers written bare (`01` becomes "1", `+.5` "0.5"), where
# pyoxigraph keeps the text as written (as Turtle and N3 say: the lexical form is the token),
# and pyoxigraph cannot tell `01` from `"01"^^xsd:integer`, which rdflib keeps. So a number in
# any other form than these goes the long way, and both readers give every patch the same terms.
_XSD: Final = "http://www.w3.org/2001/XMLSchema#"
_PLAIN_NUMBERS: Final = {
    _XSD + "integer": re.compile(r"0|-?[1-9][0-9]*"),
    _XSD + "decimal": re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+"),
    _XSD + "double": re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?[eE][+-]?[0-9]+"),
}


def _parse_n3_patch(text: str, base: str) -> Patch:
    graph = rdflib.Graph()
    try:
        graph.parse(data=text, format="n3", publicID=base)
    except BadSyntax as exc:
        raise InvalidRdf(f"invalid N3: {_bad_syntax_message(exc)}") from exc
    except Exception as exc:  # rdflib's N3 parser raises assorted errors on hostile input
        raise InvalidRdf(f"invalid N3: {exc}") from exc

    patch_nodes = {s for s, _, _ in graph.triples((None, RDF.type, SOLID.InsertDeletePatch))}
    for predicate in (SOLID.where, SOLID.inserts, SOLID.deletes):
        patch_nodes.update(s for s, _, _ in graph.triples((None, predicate, None)))
    # Solid Protocol #server-patch-n3-single: exactly one patch resource.
    if len(patch_nodes) != 1:
        raise InvalidPatch(
            f"an N3 Patch must contain exactly one patch resource, found {len(patch_nodes)}"
        )
    (patch_node,) = patch_nodes
    if (patch_node, RDF.type, SOLID.InsertDeletePatch) not in graph:
        raise InvalidPatch("the patch resource must have type solid:InsertDeletePatch")

    def formula(predicate: URIRef, name: str) -> QuotedGraph | None:
        values = list(graph.objects(patch_node, predicate))
        if len(values) > 1:
            raise InvalidPatch(f"the patch has more than one {name}")
        if not values:
            return None
        if not isinstance(values[0], QuotedGraph):
            raise InvalidPatch(f"{name} must be a formula: {{ ... }}")
        return values[0]

    where = _n3_patterns(formula(SOLID.where, "solid:where"), "solid:where", in_where=True)
    inserts = _n3_patterns(formula(SOLID.inserts, "solid:inserts"), "solid:inserts")
    deletes = _n3_patterns(formula(SOLID.deletes, "solid:deletes"), "solid:deletes")

    bound = {term for pattern in where for term in pattern if isinstance(term, Var)}
    for name, patterns in (("solid:inserts", inserts), ("solid:deletes", deletes)):
        unbound = {t.name for p in patterns for t in p if isinstance(t, Var) and t not in bound}
        if unbound:
            names = ", ".join(sorted("?" + n for n in unbound))
            raise InvalidPatch(f"{name} uses variables not bound in solid:where: {names}")
    return Patch("n3", (Operation(where, deletes, inserts),))


def _bad_syntax_message(exc: BadSyntax) -> str:
    lines = getattr(exc, "lines", None)
    message = getattr(exc, "message", None) or str(exc)
    return f"line {lines + 1}: {message}" if isinstance(lines, int) else str(message)


def _n3_patterns(
    formula: QuotedGraph | None, name: str, *, in_where: bool = False
) -> tuple[Pattern, ...]:
    if formula is None:
        return ()
    out: list[Pattern] = []
    for triple in formula.triples((None, None, None)):
        converted: list[Term] = []
        for term in triple:
            if isinstance(term, QuotedGraph):
                raise InvalidPatch(f"{name} may not contain nested formulae")
            if isinstance(term, Variable):
                converted.append(Var(str(term)))
            elif isinstance(term, BNode):
                if not in_where:
                    # Solid Protocol #server-patch-n3-invalid: no blank nodes in inserts/deletes.
                    raise InvalidPatch(f"{name} may not contain blank nodes")
                converted.append(Var("_:" + str(term)))
            else:
                converted.append(_n3_term(term, name))
        s, p, o = converted
        if isinstance(s, ox.Literal) or isinstance(p, ox.Literal):
            raise InvalidPatch(f"{name} has a literal or blank node in an impossible position")
        out.append((s, p, o))
    return tuple(out)


def _n3_term(term: Node, where: str) -> ox.NamedNode | ox.Literal:
    try:
        if isinstance(term, URIRef):
            return ox.NamedNode(str(term))
        if isinstance(term, Literal):
            if term.language:
                return ox.Literal(str(term), language=term.language)
            if term.datatype is not None:
                return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
            return ox.Literal(str(term))
    except ValueError as exc:
        raise InvalidPatch(f"{where} holds an invalid term {term!r}: {exc}") from exc
    raise InvalidPatch(f"{where} holds an unsupported term {term!r}")


# --- SPARQL Update (https://www.w3.org/TR/sparql11-update/) --------------------------------
#
# rdflib's grammar parses the update; its parse tree is translated here, in one pass over it,
# into the patch model. (rdflib's own translateUpdate is quadratic in the number of triples:
# it concatenates them pairwise and re-sorts the rest after each one.) Supported: INSERT DATA,
# DELETE DATA, DELETE WHERE and DELETE/INSERT ... WHERE whose where clause is a basic graph
# pattern (triples), as NSS supports; operations separated by `;`. Everything else is refused
# with 422, naming it. rdflib's parser is slow on hostile input (up to hundreds of microseconds
# per byte) and cannot be interrupted, so the server runs this in a worker process with a time
# limit (pod.ldp.isolation); the body is capped by max_patch_bytes before that.

_ALTERNATIVES: Final = "use INSERT DATA, DELETE DATA, DELETE WHERE or DELETE/INSERT ... WHERE"
_NOT_TRIPLES: Final = {
    "Filter": "FILTER expressions",
    "OptionalGraphPattern": "OPTIONAL patterns",
    "MinusGraphPattern": "MINUS patterns",
    "Bind": "BIND expressions",
    "InlineData": "VALUES blocks",
    "GraphGraphPattern": "GRAPH patterns (a resource is one graph)",
    "ServiceGraphPattern": "SERVICE patterns",
    "SubSelect": "subqueries (SELECT)",
    "GroupOrUnionGraphPattern": "nested group patterns and UNION",
}
_TEMPLATE_NAMES: Final = {
    "insert-data": "INSERT DATA",
    "delete-data": "DELETE DATA",
    "delete-where": "DELETE WHERE",
    "delete": "a DELETE template",
    "insert": "an INSERT template",
    "where": "a WHERE clause",
}


# Brackets, and the tokens in which a bracket is not one: strings (long and short), IRIs and
# comments (SPARQL 1.1 §19.8: STRING_LITERAL*, IRIREF; §19.4: comments).
_NESTING_TOKENS: Final = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n\r]|\\.)*"'
    r"|'(?:[^'\\\n\r]|\\.)*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>'
    r"|#[^\n\r]*"
    r"|[()\[\]{}]",
    re.DOTALL,
)
MAX_SPARQL_NESTING: Final = 100


def check_sparql_nesting(text: str) -> None:
    """Refuse an update nesting brackets more than MAX_SPARQL_NESTING deep, before parsing.

    rdflib's grammar takes seconds over a few thousand nested brackets (and more under a
    tracer), holding the one parser process; no update Kluis can apply nests anywhere near this
    deep. Counting brackets outside strings, IRIs and comments is a bound, not a parse: input it
    lets through still meets the real parser.
    """
    depth = 0
    for match in _NESTING_TOKENS.finditer(text):
        token = match.group()
        if token in ("(", "[", "{"):
            depth += 1
            if depth > MAX_SPARQL_NESTING:
                raise InvalidRdf(
                    "invalid SPARQL Update: it nests too deeply "
                    f"(more than {MAX_SPARQL_NESTING} levels of brackets)"
                )
        elif token in (")", "]", "}"):
            depth = max(depth - 1, 0)


def parse_sparql_update(text: str, base: str) -> tuple[Operation, ...]:
    """The operations of a SPARQL Update. Raises InvalidRdf (400: it does not parse) or
    InvalidPatch (422: it uses what Kluis does not support, or breaks SPARQL's rules)."""
    # Imported here, not with the module: rdflib's SPARQL grammar (pyparsing) holds about 7 MB,
    # and SPARQL Updates are parsed in the isolated worker process (pod.ldp.isolation), so the
    # server process never needs it.
    from pyparsing import ParseException
    from rdflib.plugins.sparql.algebra import translatePName, translatePrologue, traverse
    from rdflib.plugins.sparql.parser import parseUpdate

    check_sparql_nesting(text)
    try:
        tree = parseUpdate(text)
    except ParseException as exc:
        raise InvalidRdf(
            f"invalid SPARQL Update: line {exc.lineno}, column {exc.col}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise InvalidRdf("invalid SPARQL Update: it nests too deeply") from exc
    except Exception as exc:  # the grammar's parse actions raise assorted errors on odd input
        raise InvalidRdf(f"invalid SPARQL Update: {exc}") from exc
    translation = _SparqlTranslation()
    prologue = None
    operations: list[Operation] = []
    # An empty update (no operation) is valid SPARQL; rdflib then gives no request, and a
    # prologue after the last operation has none either.
    for declarations, request in zip(tree.prologue or [], tree.request or [], strict=False):
        try:
            prologue = translatePrologue(declarations, base, None, prologue)
            # Prefixed names and relative IRIs become absolute IRIs (one walk of the tree).
            request = traverse(
                request, visitPost=functools.partial(translatePName, prologue=prologue)
            )
        except RecursionError as exc:
            raise InvalidRdf("invalid SPARQL Update: it nests too deeply") from exc
        except Exception as exc:  # an undeclared prefix, an invalid IRI
            raise InvalidRdf(f"invalid SPARQL Update: {exc}") from exc
        operations.append(translation.operation(request))
    return tuple(operations)


class _SparqlTranslation:
    """rdflib's parse tree of one update → Operations, checking what SPARQL and Kluis allow."""

    def __init__(self) -> None:
        self.data_labels: set[str] = set()  # blank node labels of earlier INSERT DATA

    def operation(self, op: Any) -> Operation:
        name = str(op.name)
        if name == "InsertData":
            labels: set[str] = set()
            inserts = self._quads(op, "insert-data", labels)
            reused = labels & self.data_labels
            if reused:
                # SPARQL 1.1 Query §19.6: a label may not appear in two INSERT DATA.
                raise InvalidPatch(f"blank node _:{sorted(reused)[0]} is used in two INSERT DATA")
            self.data_labels |= labels
            return Operation(inserts=inserts)
        if name == "DeleteData":
            return Operation(deletes=self._quads(op, "delete-data"))
        if name == "DeleteWhere":
            patterns = self._quads(op, "delete-where")
            return Operation(where=patterns, deletes=patterns)
        if name == "Modify":
            if _field(op, "withClause") is not None:
                raise InvalidPatch("WITH is not supported: a resource is one graph")
            if _field(op, "using"):
                raise InvalidPatch("USING is not supported: a resource is one graph")
            delete, insert = _field(op, "delete"), _field(op, "insert")
            deletes = () if delete is None else self._quads(delete, "delete")
            inserts = () if insert is None else self._quads(insert, "insert")
            return Operation(self._where(_field(op, "where")), deletes, inserts)
        raise InvalidPatch(f"SPARQL {name.upper()} ({name}) is not supported; {_ALTERNATIVES}")

    def _quads(
        self, node: Any, context: str, labels: set[str] | None = None
    ) -> tuple[Pattern, ...]:
        quads = _field(node, "quads")
        if quads is None:
            return ()
        if _field(quads, "quadsNotTriples"):
            raise InvalidPatch("GRAPH blocks are not supported: a resource is one graph")
        return self._triples(_field(quads, "triples") or [], context, labels)

    def _where(self, where: Any) -> tuple[Pattern, ...]:
        if where is None:
            return ()
        if where.name != "GroupGraphPatternSub":
            raise InvalidPatch(_not_triples(where))
        patterns: list[Pattern] = []
        for part in _field(where, "part") or []:
            if part.name != "TriplesBlock":
                raise InvalidPatch(_not_triples(part))
            patterns += self._triples(_field(part, "triples") or [], "where", None)
        return tuple(patterns)

    def _triples(
        self, blocks: list[list[Any]], context: str, labels: set[str] | None
    ) -> tuple[Pattern, ...]:
        """rdflib gives each block of triples as one flat list of terms: s, p, o, s, p, o..."""
        out: list[Pattern] = []
        for block in blocks:
            if len(block) % 3:
                raise InvalidRdf("invalid SPARQL Update: a triple is incomplete")
            for i in range(0, len(block), 3):
                s = self._term(block[i], context, labels)
                p = self._term(_predicate(block[i + 1]), context, labels)
                o = self._term(block[i + 2], context, labels)
                if isinstance(s, ox.Literal):
                    raise InvalidPatch(f"a literal cannot be a subject: {s}")
                if isinstance(p, ox.Literal | Fresh) or (isinstance(p, Var) and p.name[:2] == "_:"):
                    raise InvalidPatch("a predicate must be an IRI or a variable")
                out.append((s, p, o))
        return tuple(out)

    @staticmethod
    def _term(term: Any, context: str, labels: set[str] | None) -> Term:
        if isinstance(term, Variable):
            if context.endswith("-data"):
                raise InvalidPatch(f"{_TEMPLATE_NAMES[context]} may not contain variables")
            return Var(str(term))
        if isinstance(term, BNode):
            if context.startswith("delete"):
                # SPARQL 1.1 Update §3.1.2/§3.1.3: no blank nodes in DELETE DATA, DELETE
                # WHERE or a DELETE template (they could never match anything).
                raise InvalidPatch(
                    f"{_TEMPLATE_NAMES[context]} may not contain blank nodes; match them with "
                    "a variable in DELETE { ... } WHERE { ... }"
                )
            if labels is not None:
                labels.add(str(term))
            # A blank node is a variable in a where clause, a new node in an insert template.
            return Var("_:" + str(term)) if context == "where" else Fresh(str(term))
        if isinstance(term, URIRef | Literal):
            try:
                return _n3_term(term, _TEMPLATE_NAMES[context])
            except InvalidPatch as exc:
                raise InvalidRdf(f"invalid SPARQL Update: {exc.message}") from exc
        raise InvalidPatch(f"{_TEMPLATE_NAMES[context]} holds an unsupported term {term!r}")


def _predicate(term: Any) -> Any:
    """A where clause's predicate comes as a path: keep it only if it is one IRI (or `a`)."""
    while getattr(term, "name", None) in ("PathAlternative", "PathSequence", "PathElt"):
        part = _field(term, "part")
        if isinstance(part, list):
            if len(part) != 1:
                raise InvalidPatch(_PROPERTY_PATHS)
            part = part[0]
        if term.name == "PathElt" and _field(term, "mod") is not None:
            raise InvalidPatch(_PROPERTY_PATHS)
        term = part
    if getattr(term, "name", None) is not None:  # ^, !, and the other path forms
        raise InvalidPatch(_PROPERTY_PATHS)
    return term


_PROPERTY_PATHS: Final = "property paths are not supported: use one predicate per triple"


def _not_triples(part: Any) -> str:
    name = str(part.name)
    what = _NOT_TRIPLES.get(name, name)
    if name == "GroupOrUnionGraphPattern":
        graphs = _field(part, "graph") or []
        if len(graphs) == 1 and getattr(graphs[0], "name", None) == "SubSelect":
            what = _NOT_TRIPLES["SubSelect"]
    return f"{what} are not supported: a WHERE clause may hold only triple patterns"


def _field(node: Any, name: str) -> Any:
    # rdflib's CompValue.get() answers the key itself for a missing key; read the dict directly.
    return dict.get(node, name)


# --- applying: one matcher, with a work budget ---------------------------------------------


class _Work:
    """Counts the steps a patch takes and stops it when it has taken its budget."""

    __slots__ = ("budget", "left")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.left = budget

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise InvalidPatch(
                f"the patch needs more matching work than the server allows (a budget of "
                f"{self.budget:,} steps); make its where patterns more specific: name a "
                "subject or an object, and connect every variable to the others"
            )


_NO_TRIPLES: Final[frozenset[ox.Triple]] = frozenset()


class _Graph:
    """The document being patched: a set of triples, indexed by subject, by predicate and by
    object as matching first needs each index, and kept indexed through later changes.

    The set it is given is copied only on the first change, so that a patch that changes
    nothing costs nothing for the size of the document, and the set may be shared (a cache's).
    """

    def __init__(self, triples: Set[ox.Triple]) -> None:
        self.all: Set[ox.Triple] = triples
        self._own: set[ox.Triple] | None = None
        self.by: list[dict[object, set[ox.Triple]] | None] = [None, None, None]

    def _mine(self) -> set[ox.Triple]:
        if self._own is None:
            self._own = set(self.all)
            self.all = self._own
        return self._own

    def _index(self, position: int) -> dict[object, set[ox.Triple]]:
        index = self.by[position]
        if index is None:
            index = self.by[position] = {}
            for t in self.all:
                index.setdefault(_TERM_AT[position](t), set()).add(t)
        return index

    def add(self, triples: Iterable[ox.Triple]) -> None:
        for t in triples:
            if t not in self.all:
                self._mine().add(t)
                for position, index in enumerate(self.by):
                    if index is not None:
                        index.setdefault(_TERM_AT[position](t), set()).add(t)

    def remove(self, triples: Iterable[ox.Triple]) -> None:
        for t in triples:
            if t in self.all:
                self._mine().discard(t)
                for position, index in enumerate(self.by):
                    if index is not None:
                        term = _TERM_AT[position](t)
                        bucket = index[term]
                        bucket.discard(t)
                        if not bucket:
                            del index[term]

    def candidates(self, pattern: Pattern, binding: Binding) -> Collection[ox.Triple]:
        """The triples that may match `pattern` under `binding`: the one triple it names when
        all its terms are known, else the smallest index bucket of a known term."""
        values = [binding.get(term) if isinstance(term, Var) else term for term in pattern]
        s, p, o = values
        if s is not None and p is not None and o is not None:
            try:
                triple = ox.Triple(s, p, o)  # type: ignore[arg-type]
            except TypeError:  # a literal bound where RDF allows none: no such triple
                return _NO_TRIPLES
            return (triple,) if triple in self.all else _NO_TRIPLES
        best: Collection[ox.Triple] | None = None
        for position, value in enumerate(values):
            if value is not None:
                found = self._index(position).get(value, _NO_TRIPLES)
                if best is None or len(found) < len(best):
                    best = found
        return self.all if best is None else best

    def solutions(self, where: tuple[Pattern, ...], work: _Work) -> Iterator[Binding]:
        """Every binding of the variables in `where` that makes all its patterns triples of the
        graph, depth first: at each step the pattern with the fewest candidates goes next.

        Iterative, so that a long where clause cannot exhaust the stack. Every candidate tried
        and every pattern weighed spends a step of `work`. Callers change the graph only once
        they are done with the walk.
        """
        # Patterns without variables are only checked, once each, and leave the walk.
        ground = [p for p in where if not any(isinstance(t, Var) for t in p)]
        work.spend(len(ground))
        if not all(self.candidates(p, {}) for p in ground):
            return
        where = tuple(p for p in where if any(isinstance(t, Var) for t in p))
        if not where:
            yield {}
            return
        first, candidates, rest = self._choose(where, {}, work)
        stack: list[tuple[Pattern, Iterator[ox.Triple], Binding, tuple[Pattern, ...]]] = [
            (first, iter(candidates), {}, rest)
        ]
        while stack:
            pattern, untried, binding, rest = stack[-1]
            for triple in untried:
                work.spend(1)
                extended = _unify(pattern, triple, binding)
                if extended is None:
                    continue
                if not rest:
                    yield extended
                    continue
                following, candidates, remaining = self._choose(rest, extended, work)
                stack.append((following, iter(candidates), extended, remaining))
                break
            else:
                stack.pop()

    def _choose(
        self, patterns: tuple[Pattern, ...], binding: Binding, work: _Work
    ) -> tuple[Pattern, Collection[ox.Triple], tuple[Pattern, ...]]:
        work.spend(len(patterns))
        best_at, best = 0, self.candidates(patterns[0], binding)
        for at in range(1, len(patterns)):
            if not best:
                break
            found = self.candidates(patterns[at], binding)
            if len(found) < len(best):
                best_at, best = at, found
        return patterns[best_at], best, patterns[:best_at] + patterns[best_at + 1 :]


_TERM_AT: Final = (
    lambda t: t.subject,
    lambda t: t.predicate,
    lambda t: t.object,
)


def _unify(pattern: Pattern, triple: ox.Triple, binding: Binding) -> Binding | None:
    extended = binding
    for term, value in zip(pattern, (triple.subject, triple.predicate, triple.object), strict=True):
        if isinstance(term, Var):
            bound = extended.get(term)
            if bound is None:
                if extended is binding:
                    extended = dict(binding)
                extended[term] = value
            elif bound != value:
                return None
        elif term != value:
            return None
    return extended


def _apply_n3(op: Operation, graph: _Graph, work: _Work) -> None:
    binding: Binding = {}
    if op.where:
        named = sorted(
            {t for p in op.where for t in p if isinstance(t, Var) and not t.name.startswith("_:")},
            key=lambda v: v.name,
        )
        distinct: dict[tuple[object, ...], Binding] = {}
        for match in graph.solutions(op.where, work):
            distinct.setdefault(tuple(match[v] for v in named), match)
            if len(distinct) > 1:
                break
        # Solid Protocol #server-patch-n3-semantics: exactly one mapping, else 409.
        if len(distinct) != 1:
            found = "no" if not distinct else "more than one"
            raise Conflict(
                f"solid:where matched {found} set of bindings; it must match exactly one"
            )
        binding = next(iter(distinct.values()))
    work.spend(len(op.deletes) + len(op.inserts))
    to_delete = [_n3_triple(p, binding) for p in op.deletes]
    missing = [t for t in to_delete if t not in graph.all]
    if missing:
        raise Conflict(
            f"cannot delete {len(missing)} triple(s) not in the document, e.g. {missing[0]}"
        )
    to_insert = [_n3_triple(p, binding) for p in op.inserts]
    graph.remove(to_delete)
    graph.add(to_insert)


def _n3_triple(pattern: Pattern, binding: Binding) -> ox.Triple:
    s, p, o = (binding[t] if isinstance(t, Var) else t for t in pattern)
    if isinstance(s, ox.Literal | Fresh) or not isinstance(p, ox.NamedNode) or isinstance(o, Fresh):
        raise Conflict("the patch would put a literal or blank node where RDF does not allow it")
    return ox.Triple(s, p, o)


def _apply_sparql(op: Operation, graph: _Graph, work: _Work) -> None:
    """SPARQL 1.1 Update §3.1.3: the where clause is evaluated once; then the deletes of every
    solution are removed, then the inserts of every solution added. Template triples with an
    unbound variable or a literal subject are left out; a missing delete is no error."""
    per_solution = len(op.deletes) + len(op.inserts)
    to_delete: list[ox.Triple] = []
    to_insert: list[ox.Triple] = []
    for binding in graph.solutions(op.where, work):
        work.spend(per_solution)
        for pattern in op.deletes:
            triple = _instantiate(pattern, binding, {})
            if triple is not None:
                to_delete.append(triple)
        fresh: dict[str, ox.BlankNode] = {}
        for pattern in op.inserts:
            triple = _instantiate(pattern, binding, fresh)
            if triple is not None:
                to_insert.append(triple)
    graph.remove(to_delete)
    graph.add(to_insert)


def _instantiate(
    pattern: Pattern, binding: Binding, fresh: dict[str, ox.BlankNode]
) -> ox.Triple | None:
    terms: list[Value] = []
    for term in pattern:
        if isinstance(term, Var):
            value = binding.get(term)
            if value is None:
                return None
            terms.append(value)
        elif isinstance(term, Fresh):
            node = fresh.get(term.label)
            if node is None:
                node = fresh[term.label] = ox.BlankNode()
            terms.append(node)
        else:
            terms.append(term)
    s, p, o = terms
    if isinstance(s, ox.Literal) or not isinstance(p, ox.NamedNode):
        return None
    return ox.Triple(s, p, o)
