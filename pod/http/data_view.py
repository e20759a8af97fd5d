"""What the owner's "My data" pages show (issue 15 §2), without HTTP: a container's children
from its listing, an RDF document grouped by subject with the labels of its terms, and who can
see an item in words. `pod.http.data_page` serves them. Imports acl, ldp, errors, vocab.

Labels come from the vocabulary files bundled with the server (`vocab/labels.ttl` first, then
the labels Kluis's own files give its terms and the DPV purposes), read once: nothing is
fetched to show a page. A term without a label is shown by its local name, split at camelCase.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, final
from urllib.parse import urlsplit

import pyoxigraph as ox

from pod.acl.wac import Rule
from pod.errors import BadRequest
from pod.http.i18n import N_, Text
from pod.ldp import rdf
from pod.ldp.shapes import VOCAB_DIR
from pod.model import AccessMode
from pod.vocab import ACL, DCTERMS, FOAF, LDP, MEDIA_TYPES, RDF, RDFS, STAT

LABELS_FILE: Final = "labels.ttl"
# Read after labels.ttl, for the terms they define themselves (first label found wins).
_MORE_LABELS: Final = ("kluis.ttl", "purposes.ttl")
_LABEL_PREDICATES: Final = frozenset(
    {str(RDFS) + "label", "http://www.w3.org/2004/02/skos/core#prefLabel"}
)
_FALLBACK: Final = "en"
_TYPE: Final = str(RDF.type)
_CONTAINS: Final = str(LDP.contains)
_SIZE: Final = str(STAT.size)
_MODIFIED: Final = str(DCTERMS.modified)
_MEDIA: Final = str(MEDIA_TYPES)
_MEDIA_SUFFIX: Final = "#Resource"
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_\-]+")


# --- labels --------------------------------------------------------------------------------


@functools.cache
def _labels() -> Mapping[str, Mapping[str, str]]:
    """Every bundled label: {term IRI: {language: label}}."""
    found: dict[str, dict[str, str]] = {}
    for name in (LABELS_FILE, *_MORE_LABELS):
        file = VOCAB_DIR / name
        graph = rdf.parse(file.read_bytes(), rdf.TURTLE, base=file.as_uri())
        for t in graph.triples:
            if (
                t.predicate.value in _LABEL_PREDICATES
                and isinstance(t.subject, ox.NamedNode)
                and isinstance(t.object, ox.Literal)
            ):
                by_language = found.setdefault(t.subject.value, {})
                by_language.setdefault(t.object.language or "", t.object.value)
    return found


def label(iri: str, language: str) -> str:
    """What to call term `iri` in `language`: its bundled label in that language, else in
    English, else its local name split into words ("primaryTopic" as "primary topic")."""
    known = _labels().get(iri)
    if known is not None:
        for candidate in (language, _FALLBACK, ""):
            text = known.get(candidate)
            if text is not None:
                return text
    return words_of(local_name(iri))


def local_name(iri: str) -> str:
    for separator in ("#", "/"):
        name = iri.rstrip("/").rsplit(separator, 1)[-1]
        if name and name != iri:
            return name
    return iri


def words_of(name: str) -> str:
    """A local name as words: camelCase, snake_case and kebab-case split, lower-cased but for
    acronyms ("oidcIssuer" as "oidc issuer", "hasURL" as "has URL")."""
    parts = [p for p in _CAMEL.split(name) if p]
    return " ".join(p if p.isupper() and len(p) > 1 else p.lower() for p in parts) or name


# --- a container's children -----------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class Child:
    """One item of a container as the page lists it."""

    path: str
    name: str
    is_container: bool
    media_type: str  # "" for a container
    size: int
    modified: float | None

    @property
    def is_rdf(self) -> bool:
        return not self.is_container and rdf.is_rdf_type(self.media_type)


def children(
    triples: Iterable[ox.Triple], *, container_url: str, path_of: Callable[[str], str | None]
) -> list[Child]:
    """The children a container's listing names (Solid Protocol
    https://solidproject.org/TR/protocol#server-contained-resource-metadata): folders first,
    then by name."""
    about: dict[str, dict[str, list[ox.Triple]]] = {}
    members: list[str] = []
    for t in triples:
        if not isinstance(t.subject, ox.NamedNode):
            continue
        if t.subject.value == container_url and t.predicate.value == _CONTAINS:
            if isinstance(t.object, ox.NamedNode):
                members.append(t.object.value)
            continue
        about.setdefault(t.subject.value, {}).setdefault(t.predicate.value, []).append(t)
    found = []
    for url in members:
        path = path_of(url)
        if path is None:
            continue
        facts = about.get(url, {})
        media = ""
        for t in facts.get(_TYPE, []):
            value = t.object.value if isinstance(t.object, ox.NamedNode) else ""
            if value.startswith(_MEDIA) and value.endswith(_MEDIA_SUFFIX):
                media = value[len(_MEDIA) : -len(_MEDIA_SUFFIX)]
        found.append(
            Child(
                path=path,
                name=_name_of(path),
                is_container=path.endswith("/"),
                media_type=media,
                size=_integer(facts.get(_SIZE, [])),
                modified=_moment(facts.get(_MODIFIED, [])),
            )
        )
    found.sort(key=lambda c: (not c.is_container, c.name.lower(), c.name))
    return found


def _name_of(path: str) -> str:
    trimmed = path.rstrip("/")
    return trimmed[trimmed.rindex("/") + 1 :]


def _integer(found: list[ox.Triple]) -> int:
    for t in found:
        if isinstance(t.object, ox.Literal):
            try:
                return int(t.object.value)
            except ValueError:
                continue
    return 0


def _moment(found: list[ox.Triple]) -> float | None:
    for t in found:
        if isinstance(t.object, ox.Literal):
            try:
                return datetime.fromisoformat(t.object.value).timestamp()
            except ValueError:
                continue
    return None


# --- an RDF document, readably ---------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class Value:
    """One object of a statement: `text` shown, `link` where it leads (a page of My data for a
    resource of the same pod, else the IRI itself), and a `note` (a literal's language)."""

    text: str
    link: str | None = None
    inside: bool = False
    note: str = ""


@final
@dataclass(frozen=True, slots=True)
class Statement:
    predicate: str  # its label
    iri: str
    values: tuple[Value, ...]


@final
@dataclass(frozen=True, slots=True)
class Subject:
    """What a document says about one thing: `title` (its IRI, by its fragment when it is the
    document's; empty for the document itself), `anchor` (that fragment, to link to it within
    the page), its classes by label."""

    title: str
    iri: str
    anchor: str
    classes: tuple[Value, ...]
    statements: tuple[Statement, ...] = field(default=())


@final
@dataclass(frozen=True, slots=True)
class Terms:
    """How a page shows terms: in `language`, with a resource of the owner's pod linked to its
    page of My data (`link_inside`: that page's URL and the resource's name in the pod, or None
    when the IRI is not in the pod)."""

    language: str
    document_url: str
    link_inside: Callable[[str], tuple[str, str] | None]

    def value(self, term: ox.NamedNode | ox.BlankNode | ox.Literal, *, named: bool) -> Value:
        """How an object is shown; `named` IRIs (classes, predicates) by their label."""
        if isinstance(term, ox.Literal):
            return Value(term.value, note=term.language or "")
        if isinstance(term, ox.BlankNode):
            return Value("…", link="#" + _blank_anchor(term))
        iri = term.value
        web = iri if iri.startswith(("http://", "https://")) else None  # never javascript:
        if named:
            return Value(label(iri, self.language), link=web)
        inside = self.link_inside(iri)
        if inside is not None:
            link, name = inside
            text = self.short(iri) if iri.startswith(self.document_url + "#") else name
            return Value(text, link=link, inside=True)
        return Value(iri, link=web)

    def short(self, iri: str) -> str:
        """An IRI of the document (`<doc#me>`) by its fragment, another one whole."""
        if iri.startswith(self.document_url + "#"):
            return iri[len(self.document_url) :]
        return iri


def document(triples: list[ox.Triple], terms: Terms) -> list[Subject]:
    """The statements of a document grouped by subject: the document itself first, then the
    things it names by fragment, then other IRIs, then unnamed (blank) nodes; within a
    subject rdf:type first (shown as its classes), then predicates by label."""
    by_subject: dict[ox.NamedNode | ox.BlankNode, list[ox.Triple]] = {}
    for t in triples:
        if isinstance(t.subject, ox.NamedNode | ox.BlankNode):
            by_subject.setdefault(t.subject, []).append(t)
    doc = terms.document_url

    def order(subject: ox.NamedNode | ox.BlankNode) -> tuple[int, str]:
        if isinstance(subject, ox.BlankNode):
            return 3, subject.value
        if subject.value == doc:
            return 0, ""
        return (1 if subject.value.startswith(doc + "#") else 2), subject.value

    shown = []
    for subject in sorted(by_subject, key=order):
        ts = by_subject[subject]
        classes = tuple(
            terms.value(t.object, named=True)
            for t in ts
            if t.predicate.value == _TYPE and isinstance(t.object, ox.NamedNode)
        )
        grouped: dict[str, list[Value]] = {}
        for t in ts:
            if t.predicate.value == _TYPE and isinstance(t.object, ox.NamedNode):
                continue
            if isinstance(t.object, ox.NamedNode | ox.BlankNode | ox.Literal):
                grouped.setdefault(t.predicate.value, []).append(terms.value(t.object, named=False))
        statements = sorted(
            (
                Statement(label(p, terms.language), p, tuple(sorted(vs, key=lambda v: v.text)))
                for p, vs in grouped.items()
            ),
            key=lambda s: (s.predicate.lower(), s.iri),
        )
        if isinstance(subject, ox.BlankNode):
            title, iri, anchor = "…", "", _blank_anchor(subject)
        else:
            iri = subject.value
            title = terms.short(iri) if iri != doc else ""
            anchor = iri[len(doc) + 1 :] if iri.startswith(doc + "#") else ""
        shown.append(Subject(title, iri, anchor, classes, tuple(statements)))
    return shown


def _blank_anchor(node: ox.BlankNode) -> str:
    return "unnamed-" + node.value


# --- who can see an item ----------------------------------------------------------------------

# What a rule allows, in words, by (Read, Append or Write, Control): whole sentences, so that
# each language puts the words in its own order.
_CAN: Final[Mapping[tuple[bool, str, bool], Text]] = {
    (True, "", False): N_("%(who)s can read it"),
    (True, "append", False): N_("%(who)s can read it and add to it"),
    (True, "write", False): N_("%(who)s can read and change it"),
    (True, "", True): N_("%(who)s can read it and decide who has access"),
    (True, "append", True): N_("%(who)s can read it, add to it and decide who has access"),
    (True, "write", True): N_("%(who)s can read and change it and decide who has access"),
    (False, "append", False): N_("%(who)s can add to it"),
    (False, "write", False): N_("%(who)s can change it"),
    (False, "", True): N_("%(who)s can decide who has access"),
    (False, "append", True): N_("%(who)s can add to it and decide who has access"),
    (False, "write", True): N_("%(who)s can change it and decide who has access"),
}
EVERYONE: Final = N_("Everyone")
LOGGED_IN: Final = N_("Everyone who is logged in")
YOU: Final = N_("You")


@final
@dataclass(frozen=True, slots=True)
class Access:
    """One line of "who can see this": `who` (a Text or a person's name), what they can do,
    through which apps only, and their WebID when the page offers to stop sharing with them."""

    who: Text | str
    modes: AccessMode
    origins: tuple[str, ...] = ()
    webid: str | None = None

    @property
    def sentence(self) -> Text:
        key = (
            AccessMode.READ in self.modes,
            "write"
            if AccessMode.WRITE in self.modes
            else "append"
            if AccessMode.APPEND in self.modes
            else "",
            AccessMode.CONTROL in self.modes,
        )
        return _CAN[key]


def accesses(rules: Iterable[Rule], *, owner: str, names: Mapping[str, str]) -> list[Access]:
    """Who the rules let do what, one line per subject and set of apps (modes of several rules
    for the same subject joined): the public first, then everyone logged in, the owner, groups
    and people by name."""
    joined: dict[tuple[str, str, tuple[str, ...]], AccessMode] = {}
    for rule in rules:
        origins = tuple(sorted(rule.origins))
        subjects = [("agent", a) for a in rule.agents] + [("group", g) for g in rule.groups]
        if rule.public:
            subjects.append(("public", ""))
        if rule.authenticated:
            subjects.append(("authenticated", ""))
        for kind, iri in subjects:
            key = (kind, iri, origins)
            joined[key] = joined.get(key, AccessMode.NONE) | rule.modes
    order = {"public": 0, "authenticated": 1, "agent": 3, "group": 2}
    out = []
    for (kind, iri, origins), modes in sorted(
        joined.items(), key=lambda item: (order[item[0][0]], item[0][1] != owner, item[0][1:])
    ):
        if not modes:
            continue
        who: Text | str
        if kind == "public":
            who = EVERYONE
        elif kind == "authenticated":
            who = LOGGED_IN
        elif kind == "group":
            who = N_("Every member of the group %(group)s", group=names.get(iri, iri))
        else:
            who = YOU if iri == owner else names.get(iri, iri)
        webid = iri if kind == "agent" and iri != owner else None
        out.append(Access(who, modes, origins, webid))
    return out


# --- changing who can see an item ---------------------------------------------------------------

MAX_WEBID: Final = 2000  # characters: longer is a paste gone wrong, not a profile's address


def check_webid(text: str) -> str:
    """`text`, if it can be the WebID of a person to share with: an absolute http(s) IRI
    (WebID 1.0 §2, https://www.w3.org/2005/Incubator/webid/spec/identity/#the-webid-http-uri;
    RFC 3987 syntax, which pyoxigraph checks) with a host. Raises BadRequest, saying why in
    words the page shows (pod.http.i18n)."""
    try:
        parts = urlsplit(text)
    except ValueError:  # a malformed IPv6 host ("https://[x")
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest("enter a WebID: an address starting with https://")
    shown = text if len(text) <= 80 else text[:79] + "…"
    if len(text) > MAX_WEBID or not parts.hostname:
        raise BadRequest(f"{shown} is not a web address a WebID can have")
    try:
        ox.NamedNode(text)
    except ValueError:
        raise BadRequest(f"{shown} is not a web address a WebID can have") from None
    return text


def retarget(rules: Iterable[Rule], *, target_url: str, is_container: bool) -> list[Rule]:
    """Rules inherited from a container's ACL as rules of the item's own ACL: the same subjects
    and modes, for the item (and, for a container, what it holds)."""
    default = frozenset({target_url}) if is_container else frozenset()
    return [replace(r, access_to=frozenset({target_url}), default=default, name="") for r in rules]


def with_public_read(
    rules: list[Rule], on: bool, *, target_url: str, is_container: bool
) -> list[Rule]:
    """The rules with everyone's Read added, or taken away (other modes the public holds, such
    as Append on an inbox, stay)."""
    if on:
        if any(
            r.public and AccessMode.READ in r.modes and not r.origins and target_url in r.access_to
            for r in rules
        ):
            return rules
        return [*rules, _rule(target_url, is_container, AccessMode.READ, public=True)]
    out = []
    for r in rules:
        if not (r.public and AccessMode.READ in r.modes):
            out.append(r)
            continue
        out += _split(r, lambda kind, _: kind == "public", r.modes & ~AccessMode.READ)
    return out


def with_agent(
    rules: list[Rule],
    webid: str,
    modes: AccessMode,
    *,
    target_url: str,
    is_container: bool,
) -> list[Rule]:
    """The rules with `webid` given exactly `modes` (none: removed), wherever it was named."""
    out = []
    for r in rules:
        if webid in r.agents:
            out += _split(r, lambda kind, iri: kind == "agent" and iri == webid, AccessMode.NONE)
        else:
            out.append(r)
    if modes:
        out.append(_rule(target_url, is_container, modes, agents=frozenset({webid})))
    return out


def with_owner(rules: list[Rule], owner: str, *, target_url: str, is_container: bool) -> list[Rule]:
    """The rules, with the owner's Read, Write and Control of the item added if they lack them
    (a page of the owner's never locks the owner out)."""
    needed = AccessMode.READ | AccessMode.WRITE | AccessMode.CONTROL
    held = AccessMode.NONE
    for r in rules:
        if (
            owner in r.agents
            and not r.origins
            and target_url in r.access_to
            and (target_url in r.default or not is_container)
        ):
            held |= r.modes
    if held & needed == needed:
        return rules
    all_modes = needed | AccessMode.APPEND
    return [_rule(target_url, is_container, all_modes, agents=frozenset({owner})), *rules]


def _rule(
    target_url: str,
    is_container: bool,
    modes: AccessMode,
    *,
    agents: frozenset[str] = frozenset(),
    public: bool = False,
) -> Rule:
    return Rule(
        modes=modes,
        access_to=frozenset({target_url}),
        default=frozenset({target_url}) if is_container else frozenset(),
        agents=agents,
        public=public,
        authenticated=False,
        groups=frozenset(),
        origins=frozenset(),
    )


def _split(rule: Rule, chosen: Callable[[str, str], bool], modes: AccessMode) -> list[Rule]:
    """`rule` without the chosen subject, plus a rule giving that subject only `modes` (when
    some are left); a rule left with no subject is dropped."""
    rest = replace(
        rule,
        agents=frozenset(a for a in rule.agents if not chosen("agent", a)),
        public=rule.public and not chosen("public", ""),
    )
    out = []
    if rest.agents or rest.public or rest.authenticated or rest.groups:
        out.append(rest)
    if modes:
        only = replace(
            rule,
            modes=modes,
            agents=frozenset(a for a in rule.agents if chosen("agent", a)),
            public=rule.public and chosen("public", ""),
            authenticated=False,
            groups=frozenset(),
        )
        if only.agents or only.public:
            out.append(only)
    return out


_MODE_TERMS: Final = (
    (AccessMode.READ, ACL.Read),
    (AccessMode.WRITE, ACL.Write),
    (AccessMode.CONTROL, ACL.Control),
)


def acl_triples(rules: list[Rule], *, acl_url: str) -> list[ox.Triple]:
    """An ACL document holding `rules`, each an acl:Authorization `<acl_url#nameN>`
    (WAC https://solidproject.org/TR/wac#authorization-conformance)."""

    def node(iri: object) -> ox.NamedNode:
        return ox.NamedNode(str(iri))

    triples = []
    for n, rule in enumerate(rules, start=1):
        me = ox.NamedNode(f"{acl_url}#{_rule_name(rule)}{n}")
        triples.append(ox.Triple(me, node(RDF.type), node(ACL.Authorization)))
        triples += [ox.Triple(me, node(ACL.accessTo), node(t)) for t in sorted(rule.access_to)]
        triples += [ox.Triple(me, node(ACL.default), node(t)) for t in sorted(rule.default)]
        for mode, term in _MODE_TERMS:
            if mode in rule.modes:
                triples.append(ox.Triple(me, node(ACL.mode), node(term)))
        if AccessMode.APPEND in rule.modes and AccessMode.WRITE not in rule.modes:
            triples.append(ox.Triple(me, node(ACL.mode), node(ACL.Append)))
        triples += [ox.Triple(me, node(ACL.agent), node(a)) for a in sorted(rule.agents)]
        triples += [ox.Triple(me, node(ACL.agentGroup), node(g)) for g in sorted(rule.groups)]
        if rule.public:
            triples.append(ox.Triple(me, node(ACL.agentClass), node(FOAF.Agent)))
        if rule.authenticated:
            triples.append(ox.Triple(me, node(ACL.agentClass), node(ACL.AuthenticatedAgent)))
        triples += [ox.Triple(me, node(ACL.origin), node(o)) for o in sorted(rule.origins)]
    return triples


def _rule_name(rule: Rule) -> str:
    if rule.public and not (rule.agents or rule.groups or rule.authenticated):
        return "public"
    return "rule"
