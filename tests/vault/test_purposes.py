"""The bundled DPV purposes (vocab/purposes.ttl) and their labels (pod.vault.purposes)."""

from __future__ import annotations

import pytest
import rdflib
from rdflib.collection import Collection
from rdflib.namespace import SH

from pod.ldp.shapes import VOCAB_DIR
from pod.vault import purposes
from pod.vocab import DPV, GC

# The purposes issue 14 names (VAULT.md §2), all found in DPV 2's purposes module, and the two
# for selling data that a person may refuse once and for all (§2 of the issue).
NAMED = [
    "ServiceProvision",
    "ServicePersonalisation",
    "Personalisation",
    "UserInterfacePersonalisation",
    "ProvidePersonalisedRecommendations",
    "ServiceUsageAnalytics",
    "Marketing",
    "DirectMarketing",
    "Advertising",
    "PersonalisedAdvertising",
    "TargetedAdvertising",
    "CommunicationManagement",
    "ResearchAndDevelopment",
    "AcademicResearch",
    "NonCommercialResearch",
    "CommercialResearch",
    "SellDataToThirdParties",
    "SellInsightsFromData",
]


def dpv(name: str) -> str:
    return str(DPV) + name


def test_the_named_purposes_are_bundled_and_no_others() -> None:
    assert set(purposes.purposes()) == {dpv(n) for n in NAMED}


@pytest.mark.parametrize("iri", sorted(dpv(n) for n in NAMED))
def test_every_purpose_has_english_and_dutch_label_and_definition(iri: str) -> None:
    purpose = purposes.purposes()[iri]
    assert purpose.iri == iri
    assert set(purpose.labels) == {"en", "nl"}
    assert set(purpose.definitions) == {"en", "nl"}
    for text in (*purpose.labels.values(), *purpose.definitions.values()):
        assert text.strip() == text
        assert text
    # Written in each language, not copied: the definitions differ.
    assert purpose.definitions["en"] != purpose.definitions["nl"]
    assert purpose.definitions["en"].endswith(".")
    assert purpose.definitions["nl"].endswith(".")


def test_every_iri_is_in_the_dpv_namespace() -> None:
    for iri, purpose in purposes.purposes().items():
        assert iri.startswith("https://w3id.org/dpv#")
        assert iri.removeprefix("https://w3id.org/dpv#").isalnum()
        for parent in purpose.broader:
            assert parent.startswith("https://w3id.org/dpv#")


def test_broader_names_bundled_parents_without_cycles() -> None:
    bundled = purposes.purposes()
    for iri in bundled:
        seen = {iri}
        todo = list(bundled[iri].broader)
        while todo:
            parent = todo.pop()
            assert parent in bundled
            assert parent not in seen, f"{iri} is its own ancestor"
            seen.add(parent)
            todo.extend(bundled[parent].broader)
    assert bundled[dpv("PersonalisedAdvertising")].broader == (
        dpv("Advertising"),
        dpv("Personalisation"),
    )
    assert bundled[dpv("Marketing")].broader == ()


def test_the_shapes_sh_in_list_equals_the_purposes() -> None:
    shapes = rdflib.Graph()
    shapes.parse(VOCAB_DIR / "access-request-shapes.ttl", format="turtle")
    lists = [
        [str(item) for item in Collection(shapes, allowed)]
        for node in shapes.subjects(SH.path, rdflib.URIRef(GC.forPurpose))
        for allowed in shapes.objects(node, SH["in"])
    ]
    assert len(lists) == 1
    assert len(lists[0]) == len(set(lists[0]))
    assert set(lists[0]) == set(purposes.purposes())


def test_purposes_are_read_once() -> None:
    assert purposes.purposes() is purposes.purposes()


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("nl", "Gepersonaliseerde reclame"),
        ("NL", "Gepersonaliseerde reclame"),
        ("nl-BE", "Gepersonaliseerde reclame"),
        ("en", "Personalised advertising"),
        ("en-GB", "Personalised advertising"),
        ("fr", "Personalised advertising"),  # no French: English
        ("", "Personalised advertising"),
    ],
)
def test_label_falls_back_to_english(lang: str, expected: str) -> None:
    assert purposes.label(dpv("PersonalisedAdvertising"), lang) == expected


@pytest.mark.parametrize(
    ("iri", "expected"),
    [
        ("https://w3id.org/dpv#NotBundled", "NotBundled"),
        ("https://purposes.example/list/Ads", "Ads"),
        ("urn:example:purpose", "urn:example:purpose"),
        ("https://purposes.example/list/", "https://purposes.example/list/"),
    ],
)
def test_label_of_an_unknown_iri_is_its_local_name(iri: str, expected: str) -> None:
    assert purposes.label(iri, "nl") == expected
