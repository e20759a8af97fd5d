"""Web Access Control documents: parse authorizations, find the effective ACL, match subjects.

Imports ldp (to read ACL documents), model, paths, vocab. Rules follow WAC 1.0:
- #effective-acl-resource: a resource's own ACL, else the nearest ancestor container's ACL,
  whose authorizations count only if they carry `acl:default` for that container;
- #authorization-conformance: an authorization counts only if it is typed acl:Authorization and
  has a target (accessTo/default), at least one mode and at least one subject;
- #access-modes: Write includes Append.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, final

import pyoxigraph as ox

from pod import paths
from pod.errors import InvalidAcl
from pod.model import AccessMode, Credentials
from pod.vocab import ACL, FOAF, RDF

_TYPE: Final = ox.NamedNode(RDF.type)
_AUTHORIZATION: Final = ox.NamedNode(ACL.Authorization)
_ACCESS_TO: Final = ox.NamedNode(ACL.accessTo)
_DEFAULT: Final = ox.NamedNode(ACL.default)
_MODE: Final = ox.NamedNode(ACL.mode)
_AGENT: Final = ox.NamedNode(ACL.agent)
_AGENT_CLASS: Final = ox.NamedNode(ACL.agentClass)
_AGENT_GROUP: Final = ox.NamedNode(ACL.agentGroup)
_ORIGIN: Final = ox.NamedNode(ACL.origin)
_PUBLIC: Final = ox.NamedNode(FOAF.Agent)
_AUTHENTICATED: Final = ox.NamedNode(ACL.AuthenticatedAgent)
MODES: Final = {
    ox.NamedNode(ACL.Read): AccessMode.READ,
    ox.NamedNode(ACL.Write): AccessMode.WRITE | AccessMode.APPEND,
    ox.NamedNode(ACL.Append): AccessMode.APPEND,
    ox.NamedNode(ACL.Control): AccessMode.CONTROL,
}


@final
@dataclass(frozen=True, slots=True)
class Rule:
    """One conforming acl:Authorization; `name` is its IRI, or `_:b<n>` for the n-th blank node
    of its document (what the owner's access log cites)."""

    modes: AccessMode
    access_to: frozenset[str]
    default: frozenset[str]
    agents: frozenset[str]
    public: bool
    authenticated: bool
    groups: frozenset[str]
    origins: frozenset[str]
    name: str = ""

    def matches_agent(self, credentials: Credentials, member_of: frozenset[str]) -> bool:
        """Whether the rule's subjects include this agent (`member_of`: its matching groups)."""
        if self.public:
            return True
        if credentials.agent is None:
            return False
        return (
            self.authenticated or credentials.agent in self.agents or bool(self.groups & member_of)
        )

    def allows_origin(self, origin: str | None, trusted: frozenset[str]) -> bool:
        """WAC #web-origin-authorization: `acl:origin`, when given, limits which browser apps
        may use the rule. A request without Origin (not a browser) or from a trusted origin (this
        server's own pages) is not limited; a rule without acl:origin limits nobody, as in CSS.
        """
        if not self.origins or origin is None or origin in trusted:
            return True
        return origin in self.origins


def parse_rules(triples: Iterable[ox.Triple], *, strict: bool = False) -> list[Rule]:
    """The conforming authorizations of an ACL document.

    With `strict`, a non-conforming authorization raises InvalidAcl (used when an ACL is written);
    otherwise it is ignored, as WAC says.
    """
    by_subject: dict[ox.NamedNode | ox.BlankNode, list[ox.Triple]] = {}
    for t in triples:
        if isinstance(t.subject, ox.NamedNode | ox.BlankNode):
            by_subject.setdefault(t.subject, []).append(t)
    rules = []
    for n, (subject, ts) in enumerate(by_subject.items()):
        if not any(t.predicate == _TYPE and t.object == _AUTHORIZATION for t in ts):
            continue
        name = subject.value if isinstance(subject, ox.NamedNode) else f"_:b{n}"
        rule = _rule(subject, ts, name=name, strict=strict)
        if rule is not None:
            rules.append(rule)
    return rules


def _rule(
    subject: ox.NamedNode | ox.BlankNode, ts: list[ox.Triple], *, name: str, strict: bool
) -> Rule | None:
    def iris(predicate: ox.NamedNode) -> frozenset[str]:
        return frozenset(
            t.object.value
            for t in ts
            if t.predicate == predicate and isinstance(t.object, ox.NamedNode)
        )

    modes = AccessMode.NONE
    for t in ts:
        if t.predicate == _MODE:
            mode = MODES.get(t.object) if isinstance(t.object, ox.NamedNode) else None
            if mode is None:
                if strict:
                    raise InvalidAcl(f"authorization {subject} has an unknown mode {t.object}")
                continue
            modes |= mode
    classes = iris(_AGENT_CLASS)
    rule = Rule(
        modes=modes,
        access_to=iris(_ACCESS_TO),
        default=iris(_DEFAULT),
        agents=iris(_AGENT),
        public=_PUBLIC.value in classes,
        authenticated=_AUTHENTICATED.value in classes,
        groups=iris(_AGENT_GROUP),
        origins=frozenset(o.rstrip("/") for o in iris(_ORIGIN)),
        name=name,
    )
    problems = []
    if not rule.access_to and not rule.default:
        problems.append("no acl:accessTo or acl:default")
    if not modes:
        problems.append("no acl:mode")
    if not (rule.agents or rule.public or rule.authenticated or rule.groups):
        problems.append("no subject (acl:agent, acl:agentClass or acl:agentGroup)")
    if problems:
        if strict:
            raise InvalidAcl(f"authorization {subject} has {' and '.join(problems)}")
        return None
    return rule


def applicable(rules: Iterable[Rule], *, target_url: str, inherited_from: str | None) -> list[Rule]:
    """The rules of an ACL that govern `target_url`: accessTo it in its own ACL, or acl:default
    for the container `inherited_from` whose ACL is the effective one."""
    if inherited_from is None:
        return [r for r in rules if target_url in r.access_to]
    return [r for r in rules if inherited_from in r.default]


def acl_chain(path: str) -> list[tuple[str, str | None]]:
    """Where to look for the effective ACL of `path`, in order: (acl path, inherited-from path).

    First the resource's own ACL (inherited-from None), then each ancestor's, nearest first.
    """
    chain: list[tuple[str, str | None]] = [(paths.acl_of(path), None)]
    chain += [(paths.acl_of(a), a) for a in paths.ancestors(path)]
    return chain


def validate_acl(triples: list[ox.Triple], *, subject_url: str) -> list[Rule]:
    """Check an ACL document before it is stored; raise InvalidAcl saying what is wrong.

    Authorizations are read whatever their IRI: WAC evaluates every acl:Authorization in the
    document, so rules copied with the IRIs of another ACL (`<../.acl#owner>`, as Inrupt's
    `createAclFromFallbackAcl` keeps them) count like any other. `acl:default` on a resource
    that is not a container is accepted and has no effect (nothing inherits from it), as in CSS:
    Inrupt's libraries copy it from the container's ACL when they create a resource's ACL.
    """
    rules = parse_rules(triples, strict=True)
    for rule in rules:
        stray = (rule.access_to | rule.default) - {subject_url}
        if stray:
            target = sorted(stray)[0]
            raise InvalidAcl(
                f"this ACL governs {subject_url} only, but an authorization targets {target}"
            )
    return rules
