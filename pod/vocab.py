"""RDF namespaces for every term Kluis uses in logic. Bottom layer: imports only rdflib.

Namespaces are closed: a typo such as `LDP.contain` fails at import time instead of minting a
wrong IRI. Every term listed here is declared in `vocab/*.ttl` (checked by tests/test_vocab.py).
"""

from __future__ import annotations

from rdflib import URIRef
from rdflib.namespace import ClosedNamespace, Namespace

RDF = ClosedNamespace(URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#"), ["type", "langString"])
RDFS = ClosedNamespace(URIRef("http://www.w3.org/2000/01/rdf-schema#"), ["comment"])
XSD = ClosedNamespace(
    URIRef("http://www.w3.org/2001/XMLSchema#"), ["string", "dateTime", "integer", "boolean"]
)
LDP = ClosedNamespace(
    URIRef("http://www.w3.org/ns/ldp#"),
    [
        "Resource",
        "Container",
        "BasicContainer",
        "RDFSource",
        "NonRDFSource",
        "contains",
        "inbox",
        "constrainedBy",
    ],
)
PIM = ClosedNamespace(
    URIRef("http://www.w3.org/ns/pim/space#"),
    ["Storage", "storage", "preferencesFile", "ConfigurationFile"],
)
SOLID = ClosedNamespace(
    URIRef("http://www.w3.org/ns/solid/terms#"),
    [
        "InsertDeletePatch",
        "Patch",
        "patches",
        "where",
        "inserts",
        "deletes",
        "storageDescription",
        "StorageDescription",
        "owner",
        "oidcIssuer",
        "publicTypeIndex",
        "privateTypeIndex",
        "TypeIndex",
        "ListedDocument",
        "UnlistedDocument",
        "account",
    ],
)
ACL = ClosedNamespace(
    URIRef("http://www.w3.org/ns/auth/acl#"),
    [
        "Authorization",
        "accessTo",
        "default",
        "agent",
        "agentClass",
        "agentGroup",
        "origin",
        "mode",
        "Read",
        "Write",
        "Append",
        "Control",
        "AuthenticatedAgent",
    ],
)
FOAF = ClosedNamespace(
    URIRef("http://xmlns.com/foaf/0.1/"),
    ["Agent", "Person", "PersonalProfileDocument", "name", "maker", "primaryTopic"],
)
DCTERMS = ClosedNamespace(URIRef("http://purl.org/dc/terms/"), ["modified", "title"])
STAT = ClosedNamespace(URIRef("http://www.w3.org/ns/posix/stat#"), ["size", "mtime"])
VCARD = ClosedNamespace(URIRef("http://www.w3.org/2006/vcard/ns#"), ["Group", "hasMember"])
DPV = ClosedNamespace(
    URIRef("https://w3id.org/dpv#"),
    [
        "hasDataSubject",
        "hasPurpose",
        "Consent",
        "hasLegalBasis",
        "ExplicitlyExpressedConsent",
        "hasConsentStatus",
        "ConsentRequested",
        "ConsentGiven",
        "ConsentRefused",
        "ConsentWithdrawn",
        "isIndicatedAtTime",
        "Purpose",
    ],
)
# GConsent (https://w3id.org/GConsent), whose terms Inrupt's access grants use too.
GC = ClosedNamespace(
    URIRef("https://w3id.org/GConsent#"),
    [
        "isConsentForDataSubject",
        "isProvidedTo",
        "forPersonalData",
        "forPurpose",
        "hasStatus",
        "ConsentStatusExplicitlyGiven",
        "ConsentStatusWithdrawn",
    ],
)
VC = ClosedNamespace(
    URIRef("http://www.w3.org/ns/solid/vc#"), ["SolidAccessGrant", "SolidAccessRequest", "request"]
)
CRED = ClosedNamespace(URIRef("https://www.w3.org/2018/credentials#"), ["expirationDate"])
PROV = ClosedNamespace(URIRef("http://www.w3.org/ns/prov#"), ["atTime", "invalidatedAtTime"])
SH = ClosedNamespace(URIRef("http://www.w3.org/ns/shacl#"), ["NodeShape", "targetClass"])
# Kluis's own glue terms (vocab/kluis.ttl): only where no existing vocabulary has one.
KLUIS = ClosedNamespace(
    URIRef("https://w3id.org/kluis#"),
    [
        "Preferences",
        "personalisedAdvertising",
        "personalisedRecommendations",
        "inherit",
        "client",
        "history",
        "GrantEvent",
        "Given",
        "Narrowed",
        "Withdrawn",
        "reason",
        "accessRequests",
    ],
)

# Open on purpose: one class per media type, e.g. <.../media-types/text/turtle#Resource>, as CSS
# lists for contained resources.
MEDIA_TYPES = Namespace("http://www.w3.org/ns/iana/media-types/")

# Prefixes offered to serializers (Turtle, JSON-LD compaction) when a document uses the namespace.
COMMON_PREFIXES: dict[str, str] = {
    "rdf": str(RDF),
    "xsd": str(XSD),
    "ldp": str(LDP),
    "pim": str(PIM),
    "solid": str(SOLID),
    "acl": str(ACL),
    "foaf": str(FOAF),
    "dc": str(DCTERMS),
    "posix": str(STAT),
    "vcard": str(VCARD),
    "dpv": str(DPV),
    "gc": str(GC),
    "vc": str(VC),
    "cred": str(CRED),
    "prov": str(PROV),
    "sh": str(SH),
    "kluis": str(KLUIS),
    "schema": "http://schema.org/",
    "rdfs": str(RDFS),
    "as": "https://www.w3.org/ns/activitystreams#",
}


def media_type_class(content_type: str) -> URIRef:
    """The `<.../media-types/TYPE#Resource>` class for a media type (CSS lists it per child)."""
    return URIRef(f"{MEDIA_TYPES}{content_type}#Resource")
