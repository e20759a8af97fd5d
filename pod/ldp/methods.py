"""Which methods a target supports: the one place the Allow sets live.

Solid Protocol https://solidproject.org/TR/protocol#server-allow-methods (Allow on every
response), #server-delete-protect-root-container, #server-post-target-not-found. Both the answer's
Allow header and every 405's list of allowed methods come from `allowed_methods`.
"""

from __future__ import annotations

from typing import Final

from pod import paths
from pod.errors import MethodNotAllowed
from pod.ldp import rdf
from pod.ldp.storages import Storages
from pod.model import Metadata

# Every method a resource handler knows; the read-only resources (the storage description) take
# the first three.
ALL_METHODS: Final = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
READ_ONLY: Final = ALL_METHODS[:3]


def allowed_methods(
    path: str, meta: Metadata | None, storages: Storages, *, exists: bool | None = None
) -> list[str]:
    """What `path` supports now; `meta` is None when it does not exist or was not looked up
    (then `exists` says whether it exists)."""
    if exists is None:
        exists = meta is not None
    methods = ["OPTIONS", "HEAD", "GET"]
    if paths.is_container(path):
        if exists:
            methods.append("POST")
        methods += ["PUT", "PATCH"]
    else:
        methods.append("PUT")
        if meta is None or rdf.is_rdf_type(meta.content_type):
            methods.append("PATCH")
    if exists and is_deletable(path, storages):
        methods.append("DELETE")
    return methods


def is_deletable(path: str, storages: Storages) -> bool:
    """Roots and their ACLs are never deleted."""
    return not (
        storages.is_protected(path)
        or (paths.is_acl(path) and storages.is_protected(paths.subject_of(path)))
    )


def check_deletable(path: str, storages: Storages) -> None:
    """Raise MethodNotAllowed for what may never be deleted, whoever asks: it is a property of
    the target, not of the requester."""
    if is_deletable(path, storages):
        return
    if storages.is_protected(path):
        raise MethodNotAllowed(
            "a storage root cannot be deleted",
            allowed=allowed_methods(path, None, storages, exists=True),
        )
    raise MethodNotAllowed(
        "the ACL of a storage root cannot be deleted",
        allowed=allowed_methods(path, None, storages, exists=True),
    )


def check_postable(path: str, meta: Metadata, storages: Storages) -> None:
    """POST creates children, so only an existing container takes it."""
    if not paths.is_container(path):
        raise MethodNotAllowed(
            "POST is only allowed on containers", allowed=allowed_methods(path, meta, storages)
        )
