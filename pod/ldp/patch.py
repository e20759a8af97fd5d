"""PATCH documents: Solid N3 Patch and SPARQL Update, parsed into one model and applied to triples.

Imports errors, vocab, ldp.rdf. rdflib parses N3 (its formulas); SPARQL Update is parsed here, by
a linear tokenizer and parser for the subset Kluis supports, because rdflib's SPARQL grammar
costs up to half a millisecond per byte of hostile input (issue 10). Both languages become a
Patch of Operations (where, deletes, inserts) over pyoxigraph terms, and one matcher applies
them within a work budget, so that no patch can make the server work without bound.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Final, TypeAlias, final
from urllib.parse import urljoin

import pyoxigraph as ox
import rdflib
from rdflib.graph import QuotedGraph
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.term import BNode, Literal, Node, URIRef, Variable

from pod.errors import Conflict, InvalidPatch, InvalidRdf, UnsupportedMediaType
from pod.ldp.rdf import N3
from pod.vocab import RDF, SOLID, XSD

SPARQL_UPDATE: Final = "application/sparql-update"
PATCH_TYPES: Final = (N3, SPARQL_UPDATE)
_N3_TYPES: Final = frozenset({N3, "application/n3", "text/rdf+n3"})

# The most matching work one patch may take: candidate triples tried, patterns weighed while
# choosing the next one to match, and template triples filled in. A step costs one to three
# microseconds, so the worst patch stops within about a third of a second (measured for issue
# 10), while a where clause that names a subject or an object takes a few steps per matching
# triple, even in a document of 50,000 triples.
MATCH_BUDGET: Final = 100_000
# Deeper nesting of [ ] and ( ) in SPARQL Update is refused: the parser recurses on them.
MAX_NESTING: Final = 32

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
        graph = _Graph(triples)
        work = _Work(budget)
        for op in self.operations:
            if self.language == "n3":
                _apply_n3(op, graph, work)
            else:
                _apply_sparql(op, graph, work)
        return list(graph.all)


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
        return _parse_n3_patch(text, base)
    return Patch("sparql", _SparqlParser(text, base).parse())


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


# --- SPARQL Update (https://www.w3.org/TR/sparql11-update/; grammar: SPARQL 1.1 Query §19) ---
#
# Supported: INSERT DATA, DELETE DATA, DELETE WHERE and DELETE/INSERT ... WHERE whose where
# clause is a basic graph pattern (triples), as NSS supports; operations separated by `;`.
# Everything else is refused with 422, naming it. The tokenizer scans every character a bounded
# number of times and the parser recurses only into [ ] and ( ), at most MAX_NESTING deep, so
# parsing is linear in the size of the body.

_PN_CHARS_BASE: Final = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U: Final = _PN_CHARS_BASE + "_"
_PN_CHARS: Final = _PN_CHARS_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX: Final = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX: Final = re.compile(f"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?")
_PN_LOCAL: Final = re.compile(
    f"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
)
_LOCAL_ESCAPE: Final = re.compile(r"\\(.)")
_CODEPOINT_ESCAPE: Final = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_SKIP: Final = re.compile(r"(?:[ \t\r\n]+|#[^\r\n]*)+")
_IRIREF: Final = re.compile(r'<([^<>"{}|^`\\\x00-\x20]*)>')
_ECHAR: Final = r"""\\[tbnrf"'\\]"""
_STRINGS: Final = (
    re.compile(f'"""((?:(?:"|"")?(?:[^"\\\\]|{_ECHAR}))*)"""'),
    re.compile(f"'''((?:(?:'|'')?(?:[^'\\\\]|{_ECHAR}))*)'''"),
    re.compile(f'"((?:[^"\\\\\\n\\r]|{_ECHAR})*)"'),
    re.compile(f"'((?:[^'\\\\\\n\\r]|{_ECHAR})*)'"),
)
_ECHARS: Final = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f"}
_ECHAR_RE: Final = re.compile(r"\\(.)")
_VAR: Final = re.compile(
    f"[?$]([{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*)"
)
_BNODE_LABEL: Final = re.compile(f"_:([{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?)")
_LANGTAG: Final = re.compile(r"@([a-zA-Z]+(?:-[a-zA-Z0-9]+)*)")
_NUMBER: Final = re.compile(
    r"[+-]?(?:(?P<double>[0-9]+\.[0-9]*[eE][+-]?[0-9]+|\.[0-9]+[eE][+-]?[0-9]+"
    r"|[0-9]+[eE][+-]?[0-9]+)|(?P<decimal>[0-9]*\.[0-9]+)|[0-9]+)"
)
_NAME_START: Final = re.compile(f"[{_PN_CHARS_BASE}:]")
_NAME_RUN: Final = re.compile(f"(?:[{_PN_CHARS}.:]|{_PLX})+")
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_WORD: Final = re.compile(r"[A-Za-z]+")

_RDF_FIRST: Final = ox.NamedNode(str(RDF.first))
_RDF_REST: Final = ox.NamedNode(str(RDF.rest))
_RDF_NIL: Final = ox.NamedNode(str(RDF.nil))
_RDF_TYPE: Final = ox.NamedNode(str(RDF.type))
_XSD_INTEGER: Final = ox.NamedNode(str(XSD.integer))
_XSD_DECIMAL: Final = ox.NamedNode(str(XSD.decimal))
_XSD_DOUBLE: Final = ox.NamedNode(str(XSD.double))
_XSD_BOOLEAN: Final = ox.NamedNode(str(XSD.boolean))

_ALTERNATIVES: Final = "use INSERT DATA, DELETE DATA, DELETE WHERE or DELETE/INSERT ... WHERE"
_GRAPH_MANAGEMENT: Final = frozenset({"LOAD", "CLEAR", "DROP", "ADD", "MOVE", "COPY", "CREATE"})
_NOT_TRIPLES: Final = {
    "OPTIONAL": "OPTIONAL patterns",
    "MINUS": "MINUS patterns",
    "FILTER": "FILTER expressions",
    "BIND": "BIND expressions",
    "VALUES": "VALUES blocks",
    "GRAPH": "GRAPH patterns (a resource is one graph)",
    "SERVICE": "SERVICE patterns",
    "SELECT": "subqueries (SELECT)",
}
_PATH_OPERATORS: Final = frozenset("/|^*+?!")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # iri, pname, bnode, var, string, lang, number, word, punct, end
    value: str
    pos: int
    extra: str = ""  # pname: the local name; number: its datatype


def _tokens(text: str) -> list[_Token]:
    """SPARQL's terminals (SPARQL 1.1 Query §19.8); each character is looked at a bounded
    number of times, so this is linear in the length of `text`."""
    out: list[_Token] = []
    pos, end = 0, len(text)
    colon_free_until = 0
    while True:
        skipped = _SKIP.match(text, pos)
        if skipped:
            pos = skipped.end()
        if pos >= end:
            out.append(_Token("end", "", pos))
            return out
        char = text[pos]
        if char == "<":
            m = _IRIREF.match(text, pos)
            if m:
                out.append(_Token("iri", m.group(1), pos))
                pos = m.end()
                continue
        elif char in "\"'":
            for pattern in _STRINGS:
                m = pattern.match(text, pos)
                if m:
                    out.append(_Token("string", _unescape_string(m.group(1)), pos))
                    pos = m.end()
                    break
            else:
                raise _syntax_error(text, pos, "a closed string with valid escapes")
            continue
        elif char in "?$":
            m = _VAR.match(text, pos)
            if m:
                out.append(_Token("var", m.group(1), pos))
                pos = m.end()
                continue
        elif char == "_" and text.startswith("_:", pos):
            m = _BNODE_LABEL.match(text, pos)
            if m is None:
                raise _syntax_error(text, pos, "a blank node label after _:")
            out.append(_Token("bnode", m.group(1), pos))
            pos = m.end()
            continue
        elif char == "@":
            m = _LANGTAG.match(text, pos)
            if m:
                out.append(_Token("lang", m.group(1), pos))
                pos = m.end()
                continue
        elif char == "^" and text.startswith("^^", pos):
            out.append(_Token("punct", "^^", pos))
            pos += 2
            continue
        elif char in "0123456789+-.":
            m = _NUMBER.match(text, pos)
            if m:
                kind = "double" if m["double"] else "decimal" if m["decimal"] else "integer"
                out.append(_Token("number", m.group(0), pos, kind))
                pos = m.end()
                continue
        elif _NAME_START.match(char):
            pos, colon_free_until = _name_token(text, pos, out, colon_free_until)
            continue
        out.append(_Token("punct", char, pos))
        pos += 1


def _name_token(text: str, pos: int, out: list[_Token], colon_free_until: int) -> tuple[int, int]:
    """A keyword or a prefixed name at `pos`: where it ends, and up to where the text from here
    is known to hold no colon (so that no run of name characters is scanned twice, and
    `a.a.a.a...` stays linear)."""
    if pos < colon_free_until:
        return _word_token(text, pos, out), colon_free_until
    m = _NAME_RUN.match(text, pos)
    assert m is not None  # the first character is a name character
    run = m.group(0).rstrip(".")  # neither a prefix nor a local name ends in "."
    if ":" not in run:
        return _word_token(text, pos, out), m.end()
    prefix, local = run.split(":", 1)
    if prefix and not _PN_PREFIX.fullmatch(prefix):
        raise _syntax_error(text, pos, f"a valid prefix, not {prefix!r}")
    if local and not _PN_LOCAL.fullmatch(local):
        raise _syntax_error(text, pos, f"a valid local name, not {local!r}")
    out.append(_Token("pname", prefix, pos, _LOCAL_ESCAPE.sub(r"\1", local)))
    return pos + len(run), colon_free_until


def _word_token(text: str, pos: int, out: list[_Token]) -> int:
    word = _WORD.match(text, pos)
    end = word.end() if word else pos + 1
    out.append(_Token("word", text[pos:end], pos))
    return end


def _unescape_string(raw: str) -> str:
    if "\\" not in raw:
        return raw
    return _ECHAR_RE.sub(lambda m: _ECHARS.get(m.group(1), m.group(1)), raw)


def _syntax_error(text: str, pos: int, expected: str) -> InvalidRdf:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    found = text[pos : pos + 20].split("\n", 1)[0] or "the end"
    return InvalidRdf(
        f"invalid SPARQL Update: line {line}, column {column}: expected {expected}, found {found!r}"
    )


class _SparqlParser:
    """Recursive descent over the tokens of the supported subset, building Operations."""

    def __init__(self, text: str, base: str) -> None:
        try:
            # SPARQL 1.1 Query §19.2: codepoint escapes are replaced before parsing.
            self.text = _CODEPOINT_ESCAPE.sub(_codepoint, text)
        except ValueError as exc:
            raise InvalidRdf(f"invalid SPARQL Update: {exc}") from exc
        self.tokens = _tokens(self.text)
        self.at = 0
        self.base = base
        self.prefixes: dict[str, str] = {}
        self.blanks = 0
        self.context = ""  # where, insert, delete, insert-data, delete-data, delete-where
        self.triples: list[Pattern] = []
        self.data_labels: set[str] = set()  # blank node labels of earlier INSERT DATA
        self.op_labels: set[str] = set()

    def parse(self) -> tuple[Operation, ...]:
        operations: list[Operation] = []
        while True:
            self._prologue()
            if self._peek().kind == "end":
                break
            operations.append(self._operation())
            if not self._accept(";"):
                break
        if self._peek().kind != "end":
            raise self._error("';' or the end of the update")
        return tuple(operations)

    # --- tokens

    def _peek(self) -> _Token:
        return self.tokens[self.at]

    def _next(self) -> _Token:
        token = self.tokens[self.at]
        if token.kind != "end":
            self.at += 1
        return token

    def _accept(self, punct: str) -> bool:
        token = self.tokens[self.at]
        if token.kind == "punct" and token.value == punct:
            self.at += 1
            return True
        return False

    def _expect(self, punct: str) -> None:
        if not self._accept(punct):
            raise self._error(f"'{punct}'")

    def _keyword(self) -> str:
        """The upper-cased keyword at the current token, or ""."""
        token = self.tokens[self.at]
        return token.value.upper() if token.kind == "word" else ""

    def _error(self, expected: str) -> InvalidRdf:
        return _syntax_error(self.text, self._peek().pos, expected)

    # --- prologue and operations

    def _prologue(self) -> None:
        while True:
            keyword = self._keyword()
            if keyword == "BASE":
                self._next()
                self.base = self._iri(self._expect_kind("iri", "an IRI in <>").value)
            elif keyword == "PREFIX":
                self._next()
                name = self._expect_kind("pname", "a prefix such as ex:")
                if name.extra:
                    raise _syntax_error(self.text, name.pos, "a prefix ending in ':'")
                iri = self._expect_kind("iri", "an IRI in <>")
                self.prefixes[name.value] = self._iri(iri.value)
            else:
                return

    def _expect_kind(self, kind: str, expected: str) -> _Token:
        if self._peek().kind != kind:
            raise self._error(expected)
        return self._next()

    def _operation(self) -> Operation:
        keyword = self._keyword()
        self.op_labels = set()
        if keyword in _GRAPH_MANAGEMENT:
            raise InvalidPatch(f"SPARQL {keyword} is not supported; {_ALTERNATIVES}")
        if keyword == "WITH":
            raise InvalidPatch("WITH is not supported: a resource is one graph")
        if keyword == "INSERT":
            self._next()
            if self._keyword() == "DATA":
                self._next()
                inserts = self._template("insert-data")
                if self.op_labels & self.data_labels:
                    # SPARQL 1.1 Query §19.6: a label may not appear in two INSERT DATA.
                    label = sorted(self.op_labels & self.data_labels)[0]
                    raise InvalidPatch(f"blank node _:{label} is used in two INSERT DATA")
                self.data_labels |= self.op_labels
                return Operation(inserts=inserts)
            return self._modify((), self._template("insert"))
        if keyword == "DELETE":
            self._next()
            if self._keyword() == "DATA":
                self._next()
                return Operation(deletes=self._template("delete-data"))
            if self._keyword() == "WHERE":
                self._next()
                patterns = self._template("delete-where")
                return Operation(where=patterns, deletes=patterns)
            deletes = self._template("delete")
            if self._keyword() != "INSERT":
                return self._modify(deletes, ())
            self._next()
            return self._modify(deletes, self._template("insert"))
        raise self._error("INSERT or DELETE")

    def _modify(self, deletes: tuple[Pattern, ...], inserts: tuple[Pattern, ...]) -> Operation:
        keyword = self._keyword()
        if keyword == "USING":
            raise InvalidPatch("USING is not supported: a resource is one graph")
        if keyword != "WHERE":
            raise self._error("WHERE")
        self._next()
        return Operation(self._where(), deletes, inserts)

    # --- triples

    def _template(self, context: str) -> tuple[Pattern, ...]:
        """QuadData or QuadPattern: triples in { }, without GRAPH blocks."""
        self._expect("{")
        self.context, self.triples = context, []
        while not self._accept("}"):
            if self._keyword() == "GRAPH":
                raise InvalidPatch("GRAPH blocks are not supported: a resource is one graph")
            self._triples_same_subject()
            if not self._accept("."):
                self._expect("}")
                break
        return tuple(self.triples)

    def _where(self) -> tuple[Pattern, ...]:
        """A GroupGraphPattern that is a basic graph pattern."""
        self._expect("{")
        self.context, self.triples = "where", []
        while not self._accept("}"):
            keyword = self._keyword()
            if keyword in _NOT_TRIPLES:
                raise InvalidPatch(
                    f"{_NOT_TRIPLES[keyword]} are not supported: a WHERE clause may hold only "
                    "triple patterns"
                )
            if self._peek().kind == "punct" and self._peek().value == "{":
                self._next()
                what = (
                    _NOT_TRIPLES["SELECT"]
                    if self._keyword() == "SELECT"
                    else "nested group patterns and UNION"
                )
                raise InvalidPatch(
                    f"{what} are not supported: a WHERE clause may hold only triple patterns"
                )
            self._triples_same_subject()
            if not self._accept("."):
                token = self._peek()
                if self._keyword() in _NOT_TRIPLES or (token.kind, token.value) == ("punct", "{"):
                    continue  # refused, naming it, at the top of the loop
                self._expect("}")
                break
        return tuple(self.triples)

    def _triples_same_subject(self) -> None:
        token = self._peek()
        if token.kind == "punct" and token.value in "[(":
            subject = self._node(0)
            if not self._ends_triples():
                self._property_list(subject, 0)
            return
        subject = self._term()
        if isinstance(subject, ox.Literal):
            raise InvalidPatch(f"a literal cannot be a subject: {subject}")
        self._property_list(subject, 0)

    def _ends_triples(self) -> bool:
        token = self._peek()
        return token.kind == "end" or (token.kind == "punct" and token.value in ".}")

    def _property_list(self, subject: Term, depth: int) -> None:
        """PropertyListNotEmpty: verb objects (; verb objects)*."""
        while True:
            verb = self._verb()
            while True:
                self.triples.append((subject, verb, self._node(depth)))
                if not self._accept(","):
                    break
            if not self._accept(";"):
                return
            while self._accept(";"):
                pass
            token = self._peek()
            if token.kind == "end" or (token.kind == "punct" and token.value in ".}]"):
                return

    def _verb(self) -> Term:
        token = self._peek()
        if self.context == "where" and token.kind == "punct" and token.value in "^!(":
            raise InvalidPatch("property paths are not supported: use one predicate per triple")
        if token.kind == "word" and token.value == "a":
            self._next()
            verb: Term = _RDF_TYPE
        elif token.kind in ("iri", "pname", "var"):
            verb = self._term()
        else:
            raise self._error("a predicate: an IRI, a prefixed name, a variable or 'a'")
        after = self._peek()
        if self.context == "where" and after.kind == "punct" and after.value in _PATH_OPERATORS:
            raise InvalidPatch("property paths are not supported: use one predicate per triple")
        return verb

    def _node(self, depth: int) -> Term:
        """GraphNode: a term, a blank node property list [ ... ] or a collection ( ... )."""
        token = self._peek()
        if token.kind != "punct" or token.value not in "[(":
            return self._term()
        if depth >= MAX_NESTING:
            raise self._error(f"at most {MAX_NESTING} levels of nested blank nodes and lists")
        self._next()
        if token.value == "[":
            node = self._blank(None)
            if not self._accept("]"):
                self._property_list(node, depth + 1)
                self._expect("]")
            return node
        if self._accept(")"):
            return _RDF_NIL
        head = current = self._blank(None)
        while True:
            self.triples.append((current, _RDF_FIRST, self._node(depth + 1)))
            if self._accept(")"):
                self.triples.append((current, _RDF_REST, _RDF_NIL))
                return head
            following = self._blank(None)
            self.triples.append((current, _RDF_REST, following))
            current = following

    def _term(self) -> Term:
        token = self._peek()
        kind = token.kind
        if kind == "punct" and token.value == "[":
            raise InvalidPatch("a blank node property list [ ... ] cannot be a predicate")
        if kind not in ("iri", "pname", "var", "bnode", "string", "number") and not (
            kind == "word" and token.value.lower() in ("true", "false")
        ):
            raise self._error("an IRI, a prefixed name, a literal, a variable or a blank node")
        self._next()
        if kind == "iri":
            return ox.NamedNode(self._iri(token.value))
        if kind == "pname":
            return ox.NamedNode(self._pname(token))
        if kind == "var":
            if self.context.endswith("-data"):
                raise InvalidPatch(f"{self._operation_name()} may not contain variables")
            return Var(token.value)
        if kind == "bnode":
            return self._blank(token.value)
        if kind == "string":
            return self._literal(token.value)
        if kind == "number":
            return ox.Literal(token.value, datatype=_NUMBER_TYPES[token.extra])
        return ox.Literal(token.value.lower(), datatype=_XSD_BOOLEAN)

    def _literal(self, lexical: str) -> ox.Literal:
        token = self._peek()
        try:
            if token.kind == "lang":
                self._next()
                return ox.Literal(lexical, language=token.value)
            if self._accept("^^"):
                datatype = self._next()
                if datatype.kind == "iri":
                    return ox.Literal(lexical, datatype=ox.NamedNode(self._iri(datatype.value)))
                if datatype.kind == "pname":
                    return ox.Literal(lexical, datatype=ox.NamedNode(self._pname(datatype)))
                self.at -= 1
                raise self._error("a datatype IRI after ^^")
            return ox.Literal(lexical)
        except ValueError as exc:
            raise _syntax_error(self.text, token.pos, f"a valid literal ({exc})") from exc

    def _blank(self, label: str | None) -> Var | Fresh:
        """A blank node: a variable in a where clause, a new node in an insert template."""
        if self.context.startswith("delete"):
            # SPARQL 1.1 Update §3.1.2/§3.1.3: no blank nodes in DELETE DATA, DELETE WHERE or a
            # DELETE template (they could never match anything).
            raise InvalidPatch(
                f"{self._operation_name()} may not contain blank nodes; match them with a "
                "variable in DELETE { ... } WHERE { ... }"
            )
        if label is None:
            self.blanks += 1
            label = f"#{self.blanks}"  # "#" cannot appear in a label, so this one is unique
        else:
            self.op_labels.add(label)
        return Var("_:" + label) if self.context == "where" else Fresh(label)

    def _operation_name(self) -> str:
        return {
            "insert-data": "INSERT DATA",
            "delete-data": "DELETE DATA",
            "delete-where": "DELETE WHERE",
            "delete": "a DELETE template",
        }.get(self.context, "the update")

    def _iri(self, value: str) -> str:
        iri = value if _SCHEME.match(value) else urljoin(self.base, value)
        try:
            ox.NamedNode(iri)
        except ValueError as exc:
            raise InvalidRdf(f"invalid SPARQL Update: invalid IRI <{value}>: {exc}") from exc
        return iri

    def _pname(self, token: _Token) -> str:
        namespace = self.prefixes.get(token.value)
        if namespace is None:
            raise InvalidRdf(f"invalid SPARQL Update: the prefix {token.value}: is not declared")
        iri = namespace + token.extra
        try:
            ox.NamedNode(iri)
        except ValueError as exc:
            raise InvalidRdf(f"invalid SPARQL Update: invalid IRI <{iri}>: {exc}") from exc
        return iri


_NUMBER_TYPES: Final = {"integer": _XSD_INTEGER, "decimal": _XSD_DECIMAL, "double": _XSD_DOUBLE}


def _codepoint(m: re.Match[str]) -> str:
    code = int(m.group(1) or m.group(2), 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise ValueError(f"{m.group(0)} is not a Unicode scalar value")
    return chr(code)


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
    object as matching first needs each index, and kept indexed through later changes."""

    def __init__(self, triples: Iterable[ox.Triple]) -> None:
        self.all: set[ox.Triple] = set(triples)
        self.by: list[dict[object, set[ox.Triple]] | None] = [None, None, None]

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
                self.all.add(t)
                for position, index in enumerate(self.by):
                    if index is not None:
                        index.setdefault(_TERM_AT[position](t), set()).add(t)

    def remove(self, triples: Iterable[ox.Triple]) -> None:
        for t in triples:
            if t in self.all:
                self.all.discard(t)
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
