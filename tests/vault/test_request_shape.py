"""Access request bodies (pod.vault.request_shape): malformed ones refused with the fault named,
generated valid ones (Turtle and JSON-LD) read back as generated."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pod.errors import InvalidRdf, PayloadTooLarge, PodError, ShapeViolation, UnsupportedMediaType
from pod.model import AccessMode
from pod.vault import purposes
from pod.vault.request_shape import MAX_BYTES, RequestedAccess, parse_request

NOW: Final = 1_800_000_000.0  # 2027-01-15T08:00:00Z
BASE: Final = "https://pod.example/alice/requests/1"
DAY: Final = 86_400
PREFIXES: Final = """\
@prefix vc: <http://www.w3.org/ns/solid/vc#> . @prefix gc: <https://w3id.org/GConsent#> .
@prefix acl: <http://www.w3.org/ns/auth/acl#> . @prefix dpv: <https://w3id.org/dpv#> .
@prefix cred: <https://www.w3.org/2018/credentials#> . @prefix kluis: <https://w3id.org/kluis#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
VC_NS: Final = "http://www.w3.org/ns/solid/vc#"
GC_NS: Final = "https://w3id.org/GConsent#"
ACL_NS: Final = "http://www.w3.org/ns/auth/acl#"
CRED_NS: Final = "https://www.w3.org/2018/credentials#"
KLUIS_NS: Final = "https://w3id.org/kluis#"
RDFS_COMMENT: Final = "http://www.w3.org/2000/01/rdf-schema#comment"
XSD_DATETIME: Final = "http://www.w3.org/2001/XMLSchema#dateTime"


def moment(offset: float, tz: timezone = UTC) -> str:
    return datetime.fromtimestamp(NOW + offset, tz).isoformat()


VALID: Final[dict[str, list[str]]] = {
    "a": ["vc:SolidAccessRequest"],
    "gc:forPersonalData": ["<https://pod.example/alice/preferences/personalisation.ttl>"],
    "kluis:inherit": ["false"],
    "acl:mode": ["acl:Read"],
    "gc:forPurpose": ["dpv:ProvidePersonalisedRecommendations"],
    "cred:expirationDate": [f'"{moment(30 * DAY)}"^^xsd:dateTime'],
    "rdfs:comment": ['"Wij gebruiken je onderwerpen om artikelen aan te raden."@nl'],
}


def turtle(changes: Mapping[str, list[str]] | None = None, *, subject: str = "<>") -> bytes:
    """The valid request with some properties replaced ([] removes one)."""
    fields = {**VALID, **(changes or {})}
    body = " ;\n".join(f"  {p} {', '.join(objects)}" for p, objects in fields.items() if objects)
    return f"{PREFIXES}{subject}\n{body} .\n".encode()


def check(data: bytes, content_type: str = "text/turtle") -> RequestedAccess:
    return parse_request(data, content_type, base=BASE, now=NOW)


def test_the_example_request_is_read() -> None:
    assert check(turtle()) == RequestedAccess(
        resources=("https://pod.example/alice/preferences/personalisation.ttl",),
        inherit=False,
        modes=AccessMode.READ,
        purposes=frozenset({"https://w3id.org/dpv#ProvidePersonalisedRecommendations"}),
        expires=NOW + 30 * DAY,
        texts={"nl": "Wij gebruiken je onderwerpen om artikelen aan te raden."},
    )


@pytest.mark.parametrize("subject", ["<>", f"<{BASE}>", "<#request>", "[]"])
def test_the_request_is_the_document_or_its_only_request(subject: str) -> None:
    assert check(turtle(subject=subject)).modes == AccessMode.READ


def test_inherit_is_false_unless_asked_and_texts_may_have_no_language() -> None:
    found = check(turtle({"kluis:inherit": [], "rdfs:comment": ['"Plain"', '"Nederlands"@nl']}))
    assert found.inherit is False
    assert found.texts == {"": "Plain", "nl": "Nederlands"}
    assert check(turtle({"kluis:inherit": ["true"]})).inherit is True


def test_modes_are_read_as_access_modes() -> None:
    found = check(turtle({"acl:mode": ["acl:Read", "acl:Append", "acl:Write"]}))
    assert found.modes == AccessMode.READ | AccessMode.APPEND | AccessMode.WRITE


def resources(n: int) -> list[str]:
    return [f"<https://pod.example/alice/r{i}>" for i in range(n)]


PURPOSE_NAMES: Final = sorted(purposes.purposes())
JSONLD_CONTROL: Final = json.dumps(
    {
        "@id": "",
        "@type": VC_NS + "SolidAccessRequest",
        GC_NS + "forPersonalData": {"@id": "https://pod.example/alice/data.ttl"},
        ACL_NS + "mode": {"@id": ACL_NS + "Control"},
        GC_NS + "forPurpose": {"@id": "https://w3id.org/dpv#ServiceProvision"},
        CRED_NS + "expirationDate": {"@value": moment(DAY), "@type": XSD_DATETIME},
    }
).encode()

# (fault, body, content type, error class, words the error must say)
MALFORMED: Final[list[tuple[str, bytes, str, type[PodError], str]]] = [
    ("no resource", turtle({"gc:forPersonalData": []}), "text/turtle", ShapeViolation,
     "name the resources asked for with gc:forPersonalData: at least 1"),
    ("51 resources", turtle({"gc:forPersonalData": resources(51)}), "text/turtle",
     ShapeViolation, "at most 50"),
    ("relative IRI", turtle({"gc:forPersonalData": ["<../preferences/x.ttl>"]}), "text/turtle",
     ShapeViolation, "no relative URL"),
    ("non-http IRI", turtle({"gc:forPersonalData": ["<ftp://pod.example/x.ttl>"]}),
     "text/turtle", ShapeViolation, "starting with http:// or https://"),
    ("literal resource", turtle({"gc:forPersonalData": ['"https://pod.example/x.ttl"']}),
     "text/turtle", ShapeViolation, "is an IRI such as <https://pod.example/data.ttl>, not a text"),
    ("blank node resource", turtle({"gc:forPersonalData": ["[]"]}), "text/turtle",
     ShapeViolation, "not a text or a blank node"),
    ("mode acl:Control", turtle({"acl:mode": ["acl:Control"]}), "text/turtle", ShapeViolation,
     "acl:Control cannot be asked for"),
    ("no mode", turtle({"acl:mode": []}), "text/turtle", ShapeViolation,
     "ask for 1 to 3 access modes"),
    ("unknown purpose", turtle({"gc:forPurpose": ["dpv:TrainAIModels"]}), "text/turtle",
     ShapeViolation, "one of the DPV purposes that this server lists in purposes.ttl"),
    ("purpose outside DPV", turtle({"gc:forPurpose": ["<https://ads.example/purposes#Ads>"]}),
     "text/turtle", ShapeViolation, "the IRI of a DPV purpose, in https://w3id.org/dpv#"),
    ("no purpose", turtle({"gc:forPurpose": []}), "text/turtle", ShapeViolation,
     "name the purposes of the request with gc:forPurpose"),
    ("11 purposes", turtle({"gc:forPurpose": [f"<{p}>" for p in PURPOSE_NAMES[:11]]}),
     "text/turtle", ShapeViolation, "at least 1 and at most 10"),
    ("no expiry", turtle({"cred:expirationDate": []}), "text/turtle", ShapeViolation,
     "give exactly one expiry"),
    ("two expiries",
     turtle({"cred:expirationDate": [f'"{moment(DAY)}"^^xsd:dateTime',
                                     f'"{moment(2 * DAY)}"^^xsd:dateTime']}),
     "text/turtle", ShapeViolation, "give exactly one expiry"),
    ("expiry in the past", turtle({"cred:expirationDate": [f'"{moment(-1)}"^^xsd:dateTime']}),
     "text/turtle", ShapeViolation, "the expiry is in the past"),
    ("expiry over 366 days",
     turtle({"cred:expirationDate": [f'"{moment(366 * DAY + 1)}"^^xsd:dateTime']}),
     "text/turtle", ShapeViolation, "more than 366 days ahead"),
    ("expiry without zone",
     turtle({"cred:expirationDate": ['"2027-02-01T00:00:00"^^xsd:dateTime']}), "text/turtle",
     ShapeViolation, "with a time zone"),
    ("expiry as a string", turtle({"cred:expirationDate": [f'"{moment(DAY)}"']}), "text/turtle",
     ShapeViolation, "is an xsd:dateTime"),
    ("non-boolean inherit", turtle({"kluis:inherit": ['"yes"']}), "text/turtle", ShapeViolation,
     "as true or false (xsd:boolean)"),
    ("two inherits", turtle({"kluis:inherit": ["true", "false"]}), "text/turtle",
     ShapeViolation, "inherit (kluis:inherit) is given at most once"),
    ("text over 500 characters", turtle({"rdfs:comment": ['"' + "x" * 501 + '"@nl']}),
     "text/turtle", ShapeViolation, "at most 500 characters"),
    ("two texts in one language", turtle({"rdfs:comment": ['"een"@nl', '"twee"@nl']}),
     "text/turtle", ShapeViolation, "at most one text for the owner (rdfs:comment) in each"),
    ("two texts without language", turtle({"rdfs:comment": ['"one"', '"two"']}), "text/turtle",
     ShapeViolation, "without a language tag"),
    ("text as an IRI", turtle({"rdfs:comment": ["<https://ads.example/>"]}), "text/turtle",
     ShapeViolation, "is a string, with or without a language tag"),
    ("unknown property", turtle({"gc:isProvidedTo": ["<https://ads.example/#me>"]}),
     "text/turtle", ShapeViolation, "an access request has only these properties"),
    ("wrong type", turtle({"a": ["vc:SolidAccessGrant"]}), "text/turtle", ShapeViolation,
     "must describe a node of type http://www.w3.org/ns/solid/vc#SolidAccessRequest"),
    ("a second type", turtle({"a": ["vc:SolidAccessRequest", "vc:SolidAccessGrant"]}),
     "text/turtle", ShapeViolation, "has the one type vc:SolidAccessRequest"),
    ("two requests", turtle() + turtle(subject="<#other>").removeprefix(PREFIXES.encode()),
     "text/turtle", ShapeViolation, "a body describes one access request, not 2"),
    ("something else described", turtle() + b"<https://ads.example/#me> a vc:Thing .\n",
     "text/turtle", ShapeViolation, "and nothing else; it also describes <https://ads.example/#me>"),
    ("quoted triple", turtle({"acl:mode": ["acl:Read", "<< <urn:a:b> <urn:a:c> <urn:a:d> >>"]}),
     "text/turtle", ShapeViolation, "holds no quoted triples"),
    ("too many statements", turtle({"rdfs:comment": [f'"{i}"@x-l{i}' for i in range(200)]}),
     "text/turtle", ShapeViolation, "at most 200 statements"),
    ("not RDF", b"\x89PNG\r\n\x1a\n not an access request", "text/turtle", InvalidRdf,
     "invalid Turtle"),
    ("not an RDF type", b'{"resources": ["https://pod.example/x"]}', "application/json",
     UnsupportedMediaType, "application/json is not an RDF format"),
    ("broken Turtle", turtle().rstrip(b".\n"), "text/turtle", InvalidRdf, "invalid Turtle"),
    ("JSON-LD asking acl:Control", JSONLD_CONTROL, "application/ld+json", ShapeViolation,
     "acl:Control cannot be asked for"),
    ("broken JSON-LD", JSONLD_CONTROL[:-1], "application/ld+json", InvalidRdf,
     "invalid JSON-LD"),
    ("too large", turtle({"rdfs:comment": ['"' + "x" * MAX_BYTES + '"']}), "text/turtle",
     PayloadTooLarge, f"at most {MAX_BYTES} bytes"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "content_type", "error", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED],
)
def test_a_malformed_request_is_refused_naming_the_fault(
    body: bytes, content_type: str, error: type[PodError], words: str
) -> None:
    with pytest.raises(error) as caught:
        check(body, content_type)
    assert words in caught.value.message
    if isinstance(caught.value, ShapeViolation):
        assert caught.value.violations
        assert caught.value.shape == "access-request-shapes.ttl"
        assert any(words in v.describe() for v in caught.value.violations)


def test_the_faults_are_distinct() -> None:
    bodies = [case[1] for case in MALFORMED]
    assert len(MALFORMED) >= 20
    assert len(set(bodies)) == len(bodies)


def test_a_violation_names_the_request_by_its_url() -> None:
    with pytest.raises(ShapeViolation) as caught:
        check(turtle({"acl:mode": ["acl:Control"]}))
    (violation,) = caught.value.violations
    assert violation.focus == BASE
    assert violation.path == ACL_NS + "mode"


def test_a_fragment_request_is_named_under_the_requests_url() -> None:
    with pytest.raises(ShapeViolation) as caught:
        check(turtle({"acl:mode": ["acl:Control"]}, subject="<#it>"))
    assert caught.value.violations[0].focus == BASE + "#it"


def test_several_faults_are_named_together() -> None:
    with pytest.raises(ShapeViolation) as caught:
        check(turtle({"acl:mode": ["acl:Control"], "gc:forPurpose": ["dpv:Nope"]}))
    paths = sorted(v.path for v in caught.value.violations)
    assert paths == [ACL_NS + "mode", GC_NS + "forPurpose"]


# --- generated valid requests ---------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    resources: list[str]
    inherit: bool | None
    modes: list[str]
    purposes: list[str]
    expires: str
    texts: dict[str, str]

    def expected(self) -> RequestedAccess:
        modes = AccessMode.NONE
        for m in self.modes:
            modes |= AccessMode[m.upper()]
        return RequestedAccess(
            resources=tuple(sorted(self.resources)),
            inherit=bool(self.inherit),
            modes=modes,
            purposes=frozenset(self.purposes),
            expires=datetime.fromisoformat(self.expires).timestamp(),
            texts=self.texts,
        )


URL_PART: Final = st.text("abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=1, max_size=12)
URLS: Final = st.builds(
    lambda scheme, host, parts: f"{scheme}://{host}/{'/'.join(parts)}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["pod.example", "alice.pod.example", "localhost:3000"]),
    st.lists(URL_PART, max_size=4),
).filter(lambda url: "/./" not in url + "/" and "/../" not in url + "/")
TEXTS: Final = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n\t"), max_size=500
)
GENERATED: Final = st.builds(
    Generated,
    resources=st.lists(URLS, min_size=1, max_size=50, unique=True),
    inherit=st.none() | st.booleans(),
    modes=st.lists(st.sampled_from(["Read", "Append", "Write"]), min_size=1, unique=True),
    purposes=st.lists(st.sampled_from(PURPOSE_NAMES), min_size=1, max_size=10, unique=True),
    expires=st.builds(
        lambda seconds, hours: moment(seconds, timezone(timedelta(hours=hours))),
        st.integers(60, 366 * DAY),
        st.integers(-12, 14),
    ),
    texts=st.dictionaries(st.sampled_from(["", "nl", "en", "en-gb", "de", "fy"]), TEXTS),
)


def turtle_string(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def as_turtle(g: Generated) -> bytes:
    fields: dict[str, list[str]] = {
        "gc:forPersonalData": [f"<{r}>" for r in g.resources],
        "kluis:inherit": [] if g.inherit is None else [str(g.inherit).lower()],
        "acl:mode": [f"acl:{m}" for m in g.modes],
        "gc:forPurpose": [f"<{p}>" for p in g.purposes],
        "cred:expirationDate": [f'"{g.expires}"^^xsd:dateTime'],
        "rdfs:comment": [
            turtle_string(text) + (f"@{lang}" if lang else "") for lang, text in g.texts.items()
        ],
    }
    return turtle(fields)


def as_jsonld(g: Generated) -> bytes:
    document: dict[str, Any] = {
        "@context": {"gc": GC_NS, "acl": ACL_NS},
        "@id": "",
        "@type": VC_NS + "SolidAccessRequest",
        "gc:forPersonalData": [{"@id": r} for r in g.resources],
        "acl:mode": [{"@id": f"acl:{m}"} for m in g.modes],
        "gc:forPurpose": [{"@id": p} for p in g.purposes],
        CRED_NS + "expirationDate": {"@value": g.expires, "@type": XSD_DATETIME},
        RDFS_COMMENT: [
            {"@value": text, "@language": lang} if lang else {"@value": text}
            for lang, text in g.texts.items()
        ],
    }
    if g.inherit is not None:
        document[KLUIS_NS + "inherit"] = g.inherit  # a JSON boolean is an xsd:boolean
    return json.dumps(document).encode()


@settings(max_examples=60, deadline=None, database=None)
@given(GENERATED)
def test_a_generated_valid_turtle_request_is_read_as_generated(g: Generated) -> None:
    assert check(as_turtle(g)) == g.expected()


@settings(max_examples=60, deadline=None, database=None)
@given(GENERATED)
def test_a_generated_valid_jsonld_request_is_read_as_generated(g: Generated) -> None:
    assert check(as_jsonld(g), "application/ld+json") == g.expected()
