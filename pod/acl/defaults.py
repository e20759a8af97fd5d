"""The ACLs Kluis writes itself: a storage owner's, and the server root's. Imports ldp, model.

Built as triples and serialized, never by pasting IRIs into Turtle text.
"""

from __future__ import annotations

import logging
from typing import Final

import pyoxigraph as ox

from pod import paths
from pod.ldp import rdf
from pod.ldp.resources import ResourceStore
from pod.vocab import ACL, FOAF, RDF

log = logging.getLogger(__name__)
_A: Final = ox.NamedNode(RDF.type)


def authorization(
    acl_url: str,
    name: str,
    *,
    target: str,
    modes: list[str],
    agents: tuple[str, ...] = (),
    public: bool = False,
    default: bool = False,
) -> list[ox.Triple]:
    """Triples of one acl:Authorization `<acl_url#name>`."""
    me = ox.NamedNode(f"{acl_url}#{name}")
    triples = [
        ox.Triple(me, _A, ox.NamedNode(ACL.Authorization)),
        ox.Triple(me, ox.NamedNode(ACL.accessTo), ox.NamedNode(target)),
    ]
    if default:
        triples.append(ox.Triple(me, ox.NamedNode(ACL.default), ox.NamedNode(target)))
    triples += [ox.Triple(me, ox.NamedNode(ACL.mode), ox.NamedNode(ACL[m])) for m in modes]
    triples += [ox.Triple(me, ox.NamedNode(ACL.agent), ox.NamedNode(a)) for a in agents]
    if public:
        triples.append(ox.Triple(me, ox.NamedNode(ACL.agentClass), ox.NamedNode(FOAF.Agent)))
    return triples


def owner_acl(target_url: str, owner: str, *, public_modes: tuple[str, ...] = ()) -> bytes:
    """Turtle giving `owner` Read, Write and Control of a resource, or of a container and all it
    holds; `public_modes` are granted to everyone as well."""
    acl_url = target_url + paths.ACL_SUFFIX
    container = target_url.endswith("/")
    triples = authorization(
        acl_url,
        "owner",
        target=target_url,
        modes=["Read", "Write", "Control"],
        agents=(owner,),
        default=container,
    )
    if public_modes:
        triples += authorization(
            acl_url,
            "public",
            target=target_url,
            modes=list(public_modes),
            public=True,
            default=container,
        )
    return rdf.serialize(triples, rdf.TURTLE)


def server_root_acl(root_url: str) -> bytes:
    """Turtle for the server root when it is not a storage: anyone may read its listing."""
    acl_url = root_url + paths.ACL_SUFFIX
    triples = authorization(acl_url, "public", target=root_url, modes=["Read"], public=True)
    return rdf.serialize(triples, rdf.TURTLE)


async def create_owned_storage(store: ResourceStore, path: str, *, owner: str) -> None:
    """Make container `path` a storage root owned by `owner`, with the owner's ACL."""
    await store.create_storage(path, owner=owner)
    acl = paths.acl_of(path)
    if await store.head(acl) is None:
        await store.put(
            acl, data=owner_acl(store.url(path), owner), content_type=rdf.TURTLE, relative=True
        )


async def ensure_acls(store: ResourceStore) -> None:
    """WAC #server-root-container-acl: the server root and every owned storage have an ACL."""
    roots = {paths.ROOT} | store.storages.roots()
    for root in sorted(roots):
        acl = paths.acl_of(root)
        if await store.head(acl) is not None:
            continue
        owner = store.storages.owner(root)
        if owner is not None:
            body = owner_acl(store.url(root), owner)
        elif root == paths.ROOT:
            body = server_root_acl(store.url(root))
        else:
            log.warning("storage %s has no owner and no ACL: nobody can use it", root)
            continue
        await store.put(acl, data=body, content_type=rdf.TURTLE, relative=True)
        log.info("wrote the default ACL %s", acl)
