"""PATCH documents: Solid N3 Patch and SPARQL Update, parsed into a Patch and applied to triples.

Imports errors, vocab, ldp.rdf. rdflib parses both languages (N3 formulas, the SPARQL grammar);
N3 Patch matching runs on pyoxigraph terms directly, so the stored document is never converted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import pyoxigraph as ox
import rdflib
from pyparsing import ParseException
from rdflib.graph import QuotedGraph
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.plugins.sparql.algebra import translateUpdate
from rdflib.plugins.sparql.parser import parseUpdate
from rdflib.plugins.sparql.sparql import Update
from rdflib.term import BNode, Literal, Node, URIRef, Variable

from pod.errors import Conflict, InvalidPatch, InvalidRdf, UnsupportedMediaType
from pod.ldp.rdf import N3, to_rdflib
from pod.vocab import RDF, SOLID

SPARQL_UPDATE: Final = "application/sparql-update"
PATCH_TYPES: Final = (N3, SPARQL_UPDATE)

# Literals must keep their exact lexical form ("01" stays "01") or deletes would not match.
rdflib.NORMALIZE_LITERALS = False


@dataclass(frozen=True, slots=True)
class Var:
    """A variable of an N3 Patch formula (`?x`, or a blank node in `solid:where`)."""

    name: str


PatternTerm: TypeAlias = "ox.NamedNode | ox.BlankNode | ox.Literal | Var"
Pattern: TypeAlias = "tuple[PatternTerm, PatternTerm, PatternTerm]"
Triples: TypeAlias = "list[ox.Triple]"


@dataclass(frozen=True, slots=True)
class Patch:
    """A parsed patch: what it touches (for access control) and how to apply it.

    `where` is true when the patch reads the document to decide what to change.
    """

    language: str
    where: bool
    inserts: bool
    deletes: bool
    _apply: Callable[[Triples], Triples]

    def apply(self, triples: Triples) -> Triples:
        """The document after the patch. Raises Conflict when the patch does not fit it."""
        return self._apply(triples)


def parse_patch(data: bytes, content_type: str, *, base: str) -> Patch:
    """Parse a PATCH body of type `text/n3` or `application/sparql-update`.

    Raises UnsupportedMediaType, InvalidRdf (does not parse: 400) or InvalidPatch (parses but
    breaks the language's rules: 422).
    """
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRdf(f"patch body is not UTF-8: {exc}") from exc
    if media in (N3, "application/n3", "text/rdf+n3"):
        return _parse_n3_patch(text, base)
    if media == SPARQL_UPDATE:
        return _parse_sparql_update(text, base)
    raise UnsupportedMediaType(
        f"PATCH bodies must be {' or '.join(PATCH_TYPES)}, not {media or 'untyped'}",
        accepted=PATCH_TYPES,
    )


# --- N3 Patch (Solid Protocol §n3-patch) -------------------------------------------------


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

    where_f = formula(SOLID.where, "solid:where")
    inserts_f = formula(SOLID.inserts, "solid:inserts")
    deletes_f = formula(SOLID.deletes, "solid:deletes")
    where = _patterns(where_f, "solid:where", blank_as_variable=True)
    inserts = _patterns(inserts_f, "solid:inserts", blank_as_variable=False)
    deletes = _patterns(deletes_f, "solid:deletes", blank_as_variable=False)

    bound = {term for pattern in where for term in pattern if isinstance(term, Var)}
    for name, patterns in (("solid:inserts", inserts), ("solid:deletes", deletes)):
        unbound = {t.name for p in patterns for t in p if isinstance(t, Var) and t not in bound}
        if unbound:
            names = ", ".join(sorted("?" + n for n in unbound))
            raise InvalidPatch(f"{name} uses variables not bound in solid:where: {names}")

    def apply(triples: Triples) -> Triples:
        return _apply_n3(triples, where, inserts, deletes)

    return Patch("n3", bool(where), bool(inserts), bool(deletes), apply)


def _bad_syntax_message(exc: BadSyntax) -> str:
    lines = getattr(exc, "lines", None)
    message = getattr(exc, "message", None) or str(exc)
    return f"line {lines + 1}: {message}" if isinstance(lines, int) else str(message)


def _patterns(formula: QuotedGraph | None, name: str, *, blank_as_variable: bool) -> list[Pattern]:
    if formula is None:
        return []
    out: list[Pattern] = []
    for triple in formula.triples((None, None, None)):
        converted: list[PatternTerm] = []
        for term in triple:
            if isinstance(term, QuotedGraph):
                raise InvalidPatch(f"{name} may not contain nested formulae")
            if isinstance(term, Variable):
                converted.append(Var(str(term)))
            elif isinstance(term, BNode):
                if not blank_as_variable:
                    # Solid Protocol #server-patch-n3-invalid: no blank nodes in inserts/deletes.
                    raise InvalidPatch(f"{name} may not contain blank nodes")
                converted.append(Var("_:" + str(term)))
            else:
                converted.append(_to_ox(term, name))
        s, p, o = converted
        if isinstance(s, ox.Literal) or isinstance(p, ox.Literal | ox.BlankNode):
            raise InvalidPatch(f"{name} has a literal or blank node in an impossible position")
        out.append((s, p, o))
    return out


def _to_ox(term: Node, where: str) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    try:
        if isinstance(term, URIRef):
            return ox.NamedNode(str(term))
        if isinstance(term, Literal):
            if term.language:
                return ox.Literal(str(term), language=term.language)
            if term.datatype is not None:
                return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
            return ox.Literal(str(term))
        if isinstance(term, BNode):
            return ox.BlankNode(str(term)) if str(term).isalnum() else ox.BlankNode()
    except ValueError as exc:
        raise InvalidPatch(f"{where} holds an invalid term {term!r}: {exc}") from exc
    raise InvalidPatch(f"{where} holds an unsupported term {term!r}")


def _apply_n3(
    triples: Triples, where: list[Pattern], inserts: list[Pattern], deletes: list[Pattern]
) -> Triples:
    current = set(triples)
    binding: dict[Var, Any] = {}
    if where:
        named = sorted(
            {t for p in where for t in p if isinstance(t, Var) and t.name[:2] != "_:"},
            key=lambda v: v.name,
        )
        distinct: dict[tuple[Any, ...], dict[Var, Any]] = {}
        for match in _match(where, _Index(current), {}):
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
    to_delete = [_substitute(p, binding) for p in deletes]
    missing = [t for t in to_delete if t not in current]
    if missing:
        raise Conflict(
            f"cannot delete {len(missing)} triple(s) not in the document, e.g. {missing[0]}"
        )
    current.difference_update(to_delete)
    current.update(_substitute(p, binding) for p in inserts)
    return list(current)


def _substitute(pattern: Pattern, binding: dict[Var, Any]) -> ox.Triple:
    s, p, o = (binding[t] if isinstance(t, Var) else t for t in pattern)
    if isinstance(s, ox.Literal) or not isinstance(p, ox.NamedNode):
        raise Conflict("the patch would put a literal or blank node where RDF does not allow it")
    try:
        return ox.Triple(s, p, o)
    except TypeError as exc:  # a variable bound to a literal used as a subject, say
        raise Conflict(f"the patch would create an impossible triple: {exc}") from exc


class _Index:
    """Triples indexed by subject, predicate and object, for pattern matching."""

    def __init__(self, triples: Iterable[ox.Triple]) -> None:
        self.by: tuple[dict[Any, list[ox.Triple]], ...] = ({}, {}, {})
        self.all = list(triples)
        for t in self.all:
            for position, term in enumerate((t.subject, t.predicate, t.object)):
                self.by[position].setdefault(term, []).append(t)

    def candidates(self, pattern: Pattern, binding: dict[Var, Any]) -> list[ox.Triple]:
        best: list[ox.Triple] | None = None
        for position, term in enumerate(pattern):
            value = binding.get(term) if isinstance(term, Var) else term
            if value is not None:
                found = self.by[position].get(value, [])
                if best is None or len(found) < len(best):
                    best = found
        return self.all if best is None else best


def _match(
    patterns: list[Pattern], index: _Index, binding: dict[Var, Any]
) -> Iterator[dict[Var, Any]]:
    if not patterns:
        yield binding
        return
    # Most-bound pattern first keeps the join small.
    ordered = sorted(
        patterns, key=lambda p: -sum(1 for t in p if not isinstance(t, Var) or t in binding)
    )
    first, rest = ordered[0], ordered[1:]
    for triple in index.candidates(first, binding):
        extended = dict(binding)
        for term, value in zip(
            first, (triple.subject, triple.predicate, triple.object), strict=True
        ):
            if isinstance(term, Var):
                bound = extended.get(term)
                if bound is None:
                    extended[term] = value
                elif bound != value:
                    break
            elif term != value:
                break
        else:
            yield from _match(rest, index, extended)


# --- SPARQL Update ------------------------------------------------------------------------

_SPARQL_ALLOWED: Final = frozenset({"InsertData", "DeleteData", "DeleteWhere", "Modify"})


def _parse_sparql_update(text: str, base: str) -> Patch:
    try:
        update = translateUpdate(parseUpdate(text), base=base)
    except ParseException as exc:
        raise InvalidRdf(
            f"invalid SPARQL Update: line {exc.lineno}, column {exc.col}: {exc.msg}"
        ) from exc
    except Exception as exc:  # the SPARQL translator raises assorted errors on odd input
        raise InvalidRdf(f"invalid SPARQL Update: {exc}") from exc
    where = inserts = deletes = False
    for op in update.algebra:
        if op.name not in _SPARQL_ALLOWED:
            raise InvalidPatch(
                f"SPARQL {op.name} is not supported; use INSERT DATA, DELETE DATA or "
                "DELETE/INSERT ... WHERE"
            )
        if _field(op, "withClause") is not None or _field(op, "using"):
            raise InvalidPatch("WITH and USING are not supported: a resource is one graph")
        delete, insert = _field(op, "delete"), _field(op, "insert")
        for part in (op, delete, insert):
            if part is not None and _field(part, "quads"):
                raise InvalidPatch("GRAPH blocks are not supported: a resource is one graph")
        if _contains(op, "ServiceGraphPattern"):
            raise InvalidPatch("SERVICE is not supported")
        if _contains(_field(op, "where"), "Graph"):
            raise InvalidPatch("GRAPH patterns are not supported: a resource is one graph")
        if op.name == "InsertData":
            inserts = inserts or bool(_field(op, "triples"))
        elif op.name == "DeleteData":
            deletes = deletes or bool(_field(op, "triples"))
        elif op.name == "DeleteWhere":
            where = deletes = True
        else:  # Modify: DELETE/INSERT ... WHERE
            where = True
            deletes = deletes or bool(delete is not None and _field(delete, "triples"))
            inserts = inserts or bool(insert is not None and _field(insert, "triples"))

    def apply(triples: Triples) -> Triples:
        return _apply_sparql(triples, update)

    return Patch("sparql", where, inserts, deletes, apply)


def _field(node: Any, name: str) -> Any:
    # rdflib's CompValue.get() answers the key itself for a missing key; read the dict directly.
    return dict.get(node, name)


def _contains(node: Any, name: str) -> bool:
    if getattr(node, "name", None) == name:
        return True
    if isinstance(node, dict):
        return any(_contains(v, name) for v in node.values())
    if isinstance(node, list | tuple):
        return any(_contains(v, name) for v in node)
    return False


def _apply_sparql(triples: Triples, update: Update) -> Triples:
    graph = rdflib.Graph()
    for t in triples:
        graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    try:
        graph.update(update)
    except Exception as exc:  # evaluation errors (type errors in expressions, ...)
        raise Conflict(f"SPARQL Update could not be applied: {exc}") from exc
    blanks: dict[BNode, ox.BlankNode] = {}
    out = []
    for s, p, o in graph:
        out.append(
            ox.Triple(_from_rdflib(s, blanks), _from_rdflib(p, blanks), _from_rdflib(o, blanks))
        )
    return out


def _from_rdflib(term: Node, blanks: dict[BNode, ox.BlankNode]) -> Any:
    if isinstance(term, BNode):
        if term not in blanks:
            blanks[term] = ox.BlankNode(str(term)) if str(term).isalnum() else ox.BlankNode()
        return blanks[term]
    return _to_ox(term, "the SPARQL Update result")
