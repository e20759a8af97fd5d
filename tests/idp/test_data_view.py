"""What the My data pages show and write, without a server (pod.http.data_view): labels and
their fallbacks, a document grouped by subject, and the ACL changes of the sharing forms, each
written ACL checked by the validator the store runs."""

from __future__ import annotations

from typing import Final

import pyoxigraph as ox

from pod.acl.wac import Rule, parse_rules, validate_acl
from pod.http import data_view
from pod.model import AccessMode

R, A, W, C = AccessMode.READ, AccessMode.APPEND, AccessMode.WRITE, AccessMode.CONTROL
OWNER: Final = "https://pod.example/alice/profile/card#me"
BOB: Final = "https://bob.example/#me"
DOC: Final = "https://pod.example/alice/notes/diary"
FOLDER: Final = "https://pod.example/alice/notes/"


def _rule(modes: AccessMode, *, agents: tuple[str, ...] = (), public: bool = False) -> Rule:
    return Rule(
        modes=modes,
        access_to=frozenset({DOC}),
        default=frozenset(),
        agents=frozenset(agents),
        public=public,
        authenticated=False,
        groups=frozenset(),
        origins=frozenset(),
    )


def test_terms_are_shown_by_label_in_the_readers_language_else_by_their_words() -> None:
    assert data_view.label("http://xmlns.com/foaf/0.1/name", "en") == "name"
    assert data_view.label("http://xmlns.com/foaf/0.1/name", "nl") == "naam"
    assert data_view.label("http://www.w3.org/2006/vcard/ns#hasEmail", "nl") == "e-mailadres"
    # Kluis's own terms and the DPV purposes carry their labels in their own files.
    kluis = "https://w3id.org/kluis#Preferences"
    assert data_view.label(kluis, "nl") == "Voorkeuren"
    recommendations = "https://w3id.org/dpv#ProvidePersonalisedRecommendations"
    assert data_view.label(recommendations, "en") != "provide personalised recommendations"
    # No label: the local name as words.
    assert data_view.label("https://example.org/ns#favouriteColour", "nl") == "favourite colour"
    assert data_view.label("https://example.org/ns/topic_interest", "en") == "topic interest"
    assert data_view.words_of("hasURL") == "has URL"


def test_a_document_is_grouped_by_subject_the_document_first() -> None:
    def n(iri: str) -> ox.NamedNode:
        return ox.NamedNode(iri)

    me = n(DOC + "#me")
    blank = ox.BlankNode()
    triples = [
        ox.Triple(me, n("http://xmlns.com/foaf/0.1/name"), ox.Literal("Alice", language="en")),
        ox.Triple(
            me,
            n("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
            n("http://xmlns.com/foaf/0.1/Person"),
        ),
        ox.Triple(n(DOC), n("http://xmlns.com/foaf/0.1/primaryTopic"), me),
        ox.Triple(blank, n("http://xmlns.com/foaf/0.1/name"), ox.Literal("x")),
        ox.Triple(me, n("http://xmlns.com/foaf/0.1/knows"), n("https://elsewhere.example/#b")),
    ]

    def inside(iri: str) -> tuple[str, str] | None:
        if not iri.startswith(FOLDER):
            return None
        return "/page" + iri[len(FOLDER) - 1 :], "notes/" + iri[len(FOLDER) :]

    subjects = data_view.document(triples, data_view.Terms("en", DOC, inside))
    assert [s.title for s in subjects] == ["", "#me", "…"]
    about, person, _ = subjects
    assert [(s.predicate, [v.text for v in s.values]) for s in about.statements] == [
        ("about", ["#me"])
    ]
    other = ox.Triple(me, n("http://xmlns.com/foaf/0.1/knows"), n(FOLDER + "friends"))
    known = data_view.document([other], data_view.Terms("en", DOC, inside))[0]
    assert [(v.text, v.link) for v in known.statements[0].values] == [
        ("notes/friends", "/page/friends")
    ]
    assert about.statements[0].values[0].link == "/page/diary#me"
    assert [s.predicate for s in person.statements] == ["knows", "name"]
    assert person.statements[1].values[0].note == "en"
    assert person.statements[0].values[0].link == "https://elsewhere.example/#b"
    assert person.anchor == "me"


def test_public_read_on_and_off_keeps_what_else_the_public_holds() -> None:
    rules = [_rule(R | W | A | C, agents=(OWNER,)), _rule(R | A, public=True)]
    off = data_view.with_public_read(rules, False, target_url=DOC, is_container=False)
    assert [(r.modes, r.public, r.agents) for r in off] == [
        (R | W | A | C, False, frozenset({OWNER})),
        (A, True, frozenset()),
    ]
    on = data_view.with_public_read(off, True, target_url=DOC, is_container=False)
    assert any(r.public and R in r.modes for r in on)
    assert data_view.with_public_read(on, True, target_url=DOC, is_container=False) == on


def test_sharing_with_a_person_replaces_what_they_had_and_keeps_the_others() -> None:
    shared = _rule(R | C, agents=(BOB, OWNER))
    rules = data_view.with_agent([shared], BOB, R, target_url=DOC, is_container=False)
    assert [(r.modes, r.agents) for r in rules] == [
        (R | C, frozenset({OWNER})),
        (R, frozenset({BOB})),
    ]
    gone = data_view.with_agent(rules, BOB, AccessMode.NONE, target_url=DOC, is_container=False)
    assert [r.agents for r in gone] == [frozenset({OWNER})]


def test_the_owner_always_keeps_read_write_and_control() -> None:
    kept = data_view.with_owner([], OWNER, target_url=FOLDER, is_container=True)
    assert [(r.modes, r.agents, r.default) for r in kept] == [
        (R | W | A | C, frozenset({OWNER}), frozenset({FOLDER}))
    ]
    already = [_rule(R | W | A | C, agents=(OWNER,))]
    assert data_view.with_owner(already, OWNER, target_url=DOC, is_container=False) == already


def test_inherited_rules_written_as_the_items_own_acl_pass_the_validator() -> None:
    inherited = Rule(
        modes=R | W | A | C,
        access_to=frozenset({FOLDER}),
        default=frozenset({FOLDER}),
        agents=frozenset({OWNER}),
        public=False,
        authenticated=True,
        groups=frozenset({"https://pod.example/alice/groups#friends"}),
        origins=frozenset({"https://app.example"}),
    )
    rules = data_view.retarget([inherited], target_url=DOC, is_container=False)
    rules = data_view.with_public_read(rules, True, target_url=DOC, is_container=False)
    triples = data_view.acl_triples(rules, acl_url=DOC + ".acl")
    read_back = validate_acl(triples, subject_url=DOC)
    assert len(read_back) == 2
    assert {r.modes for r in read_back} == {R | W | A | C, R}
    copied = next(r for r in parse_rules(triples) if r.agents)
    assert copied.access_to == frozenset({DOC})
    assert copied.default == frozenset()
    assert copied.authenticated
    assert copied.groups == inherited.groups
    assert copied.origins == inherited.origins


def test_who_can_see_it_in_words() -> None:
    rules = [_rule(R | W | A | C, agents=(OWNER,)), _rule(R, public=True), _rule(A, agents=(BOB,))]
    lines = data_view.accesses(rules, owner=OWNER, names={BOB: "Bob"})
    assert [(line.who, line.sentence.msgid, line.webid) for line in lines] == [
        (data_view.EVERYONE, "%(who)s can read it", None),
        (data_view.YOU, "%(who)s can read and change it and decide who has access", None),
        ("Bob", "%(who)s can add to it", BOB),
    ]
