"""The scenarios and the documents they send or read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from benchmarks.dpop import Alg
from benchmarks.grants import GRANTS
from benchmarks.load import Mode

# Whose token an authenticated scenario sends: the pod's owner (g, g2, gmt), the grantee of a
# grant (h), or another account that the document's ACL names (hw).
Agent = Literal["owner", "grantee", "member"]

# About 1 KB and 20 triples: a typical WebID profile. Kluis stores it as canonical Turtle, so a GET
# returns its own serialization of it (about 1.2 KB with the absolute IRIs).
DOCUMENT = """\
@prefix foaf: <http://xmlns.com/foaf/0.1/>.
@prefix schema: <http://schema.org/>.
@prefix vcard: <http://www.w3.org/2006/vcard/ns#>.
@prefix solid: <http://www.w3.org/ns/solid/terms#>.
@prefix pim: <http://www.w3.org/ns/pim/space#>.
@prefix ldp: <http://www.w3.org/ns/ldp#>.

<#me> a foaf:Person, schema:Person;
    foaf:name "Alice Example";
    foaf:givenName "Alice";
    foaf:familyName "Example";
    foaf:nick "alice";
    foaf:img </profile/alice.jpg>;
    vcard:role "Archivist";
    vcard:note "Keeps the family photo archive and the recipe collection.";
    vcard:hasEmail <mailto:alice@example.org>;
    foaf:homepage <https://alice.example.org/>;
    foaf:knows <https://bob.example.org/profile/card#me>, <https://carol.example.net/card#i>;
    schema:birthDate "1990-04-01";
    solid:oidcIssuer <https://idp.example.org/>;
    pim:storage </>;
    ldp:inbox </inbox/>;
    pim:preferencesFile </settings/prefs.ttl>;
    solid:publicTypeIndex </settings/publicTypeIndex.ttl>;
    solid:privateTypeIndex </settings/privateTypeIndex.ttl>.
"""
CHILD = "<#it> a <http://schema.org/Thing>.\n"
CHILDREN = 1000
# The same triple on every request: after the first, the document keeps its size, so the figure
# is the cost of a patch on a 20-triple document for the whole run (as the other servers were
# measured). How the cost grows with the document is what the growth scenarios e20..e10k show.
PATCH = """\
@prefix solid: <http://www.w3.org/ns/solid/terms#>.
_:p a solid:InsertDeletePatch; solid:inserts { <#s> <#p> "v" . }.
"""

# Kluis enforces Web Access Control, and a fresh server lets the public only read its root. The
# benchmark container gets this ACL (anyone may read and write in it, `<./>` being the container),
# so the scenarios measure public access: WAC is evaluated, no one authenticates.
PUBLIC_ACL = """\
@prefix acl: <http://www.w3.org/ns/auth/acl#>.
@prefix foaf: <http://xmlns.com/foaf/0.1/>.
<#public> a acl:Authorization;
    acl:agentClass foaf:Agent;
    acl:accessTo <./>;
    acl:default <./>;
    acl:mode acl:Read, acl:Write.
"""

TURTLE = {"Accept": "text/turtle"}

# The authenticated scenarios use an account made through the JSON account API, with a pod whose
# WebID (`<base>/alice/profile/card#me`) names Kluis as its issuer. OWNED is a document in that
# pod with its own ACL: the owner has full control and the public may read, so the same document
# is fetched anonymously (f) and with a DPoP-bound token and a fresh proof per request (g, g2).
OWNER_EMAIL = "alice@example.org"
OWNER_PASSWORD = "benchmark-password"  # a throw-away account on a temporary server
OWNER_POD = "alice"
OWNED = f"/{OWNER_POD}/doc"
OWNED_ACL = """\
@prefix acl: <http://www.w3.org/ns/auth/acl#>.
@prefix foaf: <http://xmlns.com/foaf/0.1/>.
<#owner> a acl:Authorization;
    acl:agent <{owner}>;
    acl:accessTo <{document}>;
    acl:mode acl:Read, acl:Write, acl:Control.
<#public> a acl:Authorization;
    acl:agentClass foaf:Agent;
    acl:accessTo <{document}>;
    acl:mode acl:Read.
"""
# SHARED, in the same pod, is what h and hw GET (benchmarks.grants): the owner has full control,
# the public nothing; the grantee (h) is let in by a grant alone, among GRANTS in the pod, and the
# member (hw) by an acl:agent rule of the document's ACL.
SHARED = f"/{OWNER_POD}/shared"
# The scenarios that need the account and OWNED. fmt and gmt are f and g with Kluis allowed both
# cores (not pinned), with its default settings.
AUTHENTICATED = ("f", "g", "g2", "fmt", "gmt", "h", "hw", "hw0", "hw1")

# Kluis paths. The setup creates DOC, PATCHED and the CHILDREN children of BIG.
BENCH = "/bench/"  # the container that PUBLIC_ACL opens to everyone
DOC = BENCH + "doc"
BIG = BENCH + "big/"
PATCHED = BENCH + "patched"


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    method: str
    path: str  # on Kluis (the prefix of every URL in mode "unique")
    bare_path: str  # on the bare server
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    mode: Mode = "fixed"
    connections: int | None = None  # None: the run's --connections
    # Send `agent`'s DPoP-bound access token, with a fresh proof by a key of this algorithm
    # on every request (also to the bare server, which ignores them). None: anonymous.
    dpop: Alg | None = None
    agent: Agent = "owner"
    # The scenario this one is compared with: the public GET of the same document (g against f).
    public: str | None = None
    # False: Kluis runs on every core (a second Kluis process, started after the pinned runs),
    # the load generator still pinned to its core, which Kluis may then share; Kluis only.
    pinned: bool = True
    # Options Kluis runs this scenario with: it starts again, pinned, on the same data, after
    # the other pinned runs (as fmt and gmt do, unpinned); Kluis only.
    kluis_options: tuple[str, ...] = ()


SCENARIOS = {
    s.key: s
    for s in (
        Scenario("a", "GET 1 KB Turtle document", "GET", DOC, "/a", TURTLE),
        Scenario(
            "b", "GET same document as JSON-LD", "GET", DOC, "/b",
            {"Accept": "application/ld+json"},
        ),
        Scenario("c", f"GET container, {CHILDREN:,} children", "GET", BIG, "/c", TURTLE),
        Scenario(
            "c1", f"GET container, {CHILDREN:,} children, 1 connection", "GET", BIG, "/c",
            TURTLE, connections=1,
        ),
        Scenario(
            "d", "PUT new 1 KB Turtle document", "PUT", BENCH + "put/", "/d/",
            {"Content-Type": "text/turtle"}, DOCUMENT, "unique",
        ),
        Scenario(
            "e", "PATCH (N3) inserting one fixed triple", "PATCH", PATCHED, "/e",
            {"Content-Type": "text/n3"}, PATCH,
        ),
        Scenario("f", "GET pod document, public (anonymous)", "GET", OWNED, "/f", TURTLE),
        Scenario(
            "g", "GET same document authenticated (DPoP ES256)", "GET", OWNED, "/f", TURTLE,
            dpop="ES256", public="f",
        ),
        Scenario(
            "g2", "GET same document authenticated (DPoP EdDSA)", "GET", OWNED, "/f", TURTLE,
            dpop="EdDSA", public="f",
        ),
        Scenario(
            "h", f"GET pod document allowed by a grant among {GRANTS:,} (DPoP ES256)", "GET",
            SHARED, "/h", TURTLE, dpop="ES256", agent="grantee",
        ),
        Scenario(
            "hw", "GET same document allowed by WAC, acl:agent (DPoP ES256)", "GET", SHARED,
            "/h", TURTLE, dpop="ES256", agent="member",
        ),
        Scenario(
            "hw0", "hw with the owner's access log off (--disclosure-log false)", "GET", SHARED,
            "/h", TURTLE, dpop="ES256", agent="member",
            kluis_options=("--disclosure-log", "false"),
        ),
        Scenario(
            "hw1", "hw with Kluis started again as for hw0, the access log on", "GET", SHARED,
            "/h", TURTLE, dpop="ES256", agent="member",
            kluis_options=("--disclosure-log", "true"),
        ),
        Scenario(
            "fmt", "f with Kluis on both cores", "GET", OWNED, "/f", TURTLE, pinned=False,
        ),
        Scenario(
            "gmt", "g with Kluis on both cores", "GET", OWNED, "/f", TURTLE,
            dpop="ES256", public="fmt", pinned=False,
        ),
    )
}  # fmt: skip
