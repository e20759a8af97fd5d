"""Pod provisioning: a new storage with its WebID profile, settings, inbox and ACLs.

Imports acl (default ACLs), ldp. Everything is written through the ResourceStore, so it is
validated, locked and announced like any other write. Documents are built as triples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, final

import pyoxigraph as ox

from pod import paths
from pod.acl.defaults import create_owned_storage, owner_acl
from pod.errors import BadRequest, Conflict
from pod.ldp import rdf
from pod.ldp.resources import ResourceStore
from pod.ldp.shapes import PREFERENCES_SHAPES, VOCAB_PATH
from pod.vault.requests import api_url
from pod.vocab import DCTERMS, DPV, FOAF, KLUIS, LDP, PIM, RDF, SOLID, XSD

POD_NAME: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
RESERVED_POD_NAMES: Final = frozenset(
    {"account", "accounts", "admin", "api", "idp", "oidc", "static", "kluis", "well-known"}
)
_A: Final = ox.NamedNode(RDF.type)
PREFERENCES: Final = "preferences/"
STARTER_PREFERENCES: Final = "preferences/personalisation.ttl"
_FALSE: Final = ox.Literal("false", datatype=ox.NamedNode(XSD.boolean))


@final
@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    root: str  # URL of the storage root
    webid: str


def check_pod_name(name: str) -> str:
    """The name, if it can be a pod: lower-case letters, digits and inner hyphens, 1-63 long."""
    if not POD_NAME.match(name) or name in RESERVED_POD_NAMES:
        raise BadRequest(
            f"{name!r} cannot be a pod name: use 1-63 lower-case letters, digits and hyphens "
            "(not at either end), and not a reserved name"
        )
    return name


def webid_of(store: ResourceStore, name: str) -> str:
    return store.url(f"/{name}/profile/card") + "#me"


async def provision_pod(store: ResourceStore, name: str, *, issuer: str, title: str = "") -> Pod:
    """Create pod `name` for a new WebID whose identity provider is `issuer`."""
    check_pod_name(name)
    root = f"/{name}/"
    if await store.head(root) is not None or await store.head(paths.twin(root)) is not None:
        raise Conflict(f"the pod name {name!r} is taken")
    webid = webid_of(store, name)
    await create_owned_storage(store, root, owner=webid)

    def url(path: str) -> str:
        return store.url(root + path)

    me = ox.NamedNode(webid)
    card = ox.NamedNode(url("profile/card"))
    prefs, public_index, private_index = (
        ox.NamedNode(url("settings/" + n))
        for n in ("prefs.ttl", "publicTypeIndex.ttl", "privateTypeIndex.ttl")
    )
    profile = [
        ox.Triple(card, _A, ox.NamedNode(FOAF.PersonalProfileDocument)),
        ox.Triple(card, ox.NamedNode(FOAF.maker), me),
        ox.Triple(card, ox.NamedNode(FOAF.primaryTopic), me),
        ox.Triple(me, _A, ox.NamedNode(FOAF.Person)),
        ox.Triple(me, ox.NamedNode(SOLID.oidcIssuer), ox.NamedNode(issuer)),
        ox.Triple(me, ox.NamedNode(PIM.storage), ox.NamedNode(store.url(root))),
        ox.Triple(me, ox.NamedNode(LDP.inbox), ox.NamedNode(url("inbox/"))),
        ox.Triple(me, ox.NamedNode(SOLID.publicTypeIndex), public_index),
        ox.Triple(me, ox.NamedNode(SOLID.privateTypeIndex), private_index),
        ox.Triple(me, ox.NamedNode(PIM.preferencesFile), prefs),
        # Where a publisher asks for access (issue 14 §3; pod.http.vault).
        ox.Triple(
            me,
            ox.NamedNode(KLUIS.accessRequests),
            ox.NamedNode(api_url(store.base_url, root, "requests")),
        ),
    ]
    if title:
        profile.append(ox.Triple(me, ox.NamedNode(FOAF.name), ox.Literal(title)))
    preferences = [
        ox.Triple(prefs, _A, ox.NamedNode(PIM.ConfigurationFile)),
        # SolidOS adds this title on first log-in when it is missing (NSS's pod template has it).
        ox.Triple(prefs, ox.NamedNode(DCTERMS.title), ox.Literal("Preferences file")),
        ox.Triple(me, ox.NamedNode(SOLID.publicTypeIndex), public_index),
        ox.Triple(me, ox.NamedNode(SOLID.privateTypeIndex), private_index),
    ]
    documents = {
        "profile/card": profile,
        "settings/prefs.ttl": preferences,
        "settings/publicTypeIndex.ttl": [
            ox.Triple(public_index, _A, ox.NamedNode(SOLID.TypeIndex)),
            ox.Triple(public_index, _A, ox.NamedNode(SOLID.ListedDocument)),
        ],
        "settings/privateTypeIndex.ttl": [
            ox.Triple(private_index, _A, ox.NamedNode(SOLID.TypeIndex)),
            ox.Triple(private_index, _A, ox.NamedNode(SOLID.UnlistedDocument)),
        ],
    }
    for path, triples in documents.items():
        await store.put(
            root + path,
            data=rdf.serialize(triples, rdf.TURTLE),
            content_type=rdf.TURTLE,
            relative=True,
        )
    await store.put(root + "inbox/", data=b"", content_type=None)
    await _create_preferences(store, root, webid)
    # The profile and the public type index are public; the inbox takes appends from anyone.
    # settings/ gets an owner-only ACL of its own, which SolidOS otherwise writes on first log-in.
    for path, public_modes in (
        ("settings/", ()),
        ("profile/card", ("Read",)),
        ("settings/publicTypeIndex.ttl", ("Read",)),
        ("inbox/", ("Append",)),
    ):
        acl = owner_acl(url(path), webid, public_modes=public_modes)
        await store.put(paths.acl_of(root + path), data=acl, content_type=rdf.TURTLE, relative=True)
    return Pod(name=name, root=store.url(root), webid=webid)


async def _create_preferences(store: ResourceStore, root: str, webid: str) -> None:
    """The `preferences/` container, constrained by the bundled preferences shape, with a
    starter document that conforms: personalised advertising and recommendations off, stated
    explicitly, and nothing else chosen (consent is never pre-ticked: GDPR Art. 4(11), 7; CJEU
    C-673/17 Planet49). Owner-only, as the storage's default ACL makes it. Pods made before this
    have no preferences/ container; their owners can make one the same way."""
    # The starter document is written first and the container's shape declared after it: it
    # is our own and conforms (tests/http/test_preferences.py), so a sign-up does not load
    # pyshacl (about 7 MB, kept for the life of the process) to check it again.
    me = ox.NamedNode(store.url(root + STARTER_PREFERENCES) + "#preferences")
    starter = [
        ox.Triple(me, _A, ox.NamedNode(KLUIS.Preferences)),
        ox.Triple(me, ox.NamedNode(DPV.hasDataSubject), ox.NamedNode(webid)),
        ox.Triple(me, ox.NamedNode(KLUIS.personalisedAdvertising), _FALSE),
        ox.Triple(me, ox.NamedNode(KLUIS.personalisedRecommendations), _FALSE),
    ]
    await store.put(
        root + STARTER_PREFERENCES,
        data=rdf.serialize(starter, rdf.TURTLE),
        content_type=rdf.TURTLE,
        relative=True,
    )
    container = store.url(root + PREFERENCES)
    shapes = store.base_url + "/" + VOCAB_PATH + PREFERENCES_SHAPES
    declaration = [
        ox.Triple(ox.NamedNode(container), ox.NamedNode(LDP.constrainedBy), ox.NamedNode(shapes))
    ]
    await store.put(
        root + PREFERENCES, data=rdf.serialize(declaration, rdf.TURTLE), content_type=rdf.TURTLE
    )
