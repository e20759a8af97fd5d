"""The access modes each operation needs, per resource.

WAC https://solidproject.org/TR/wac#server-read-operation and the operations after it.

Pure: imports model, paths and the parsed Patch. The caller says what exists; the answer maps each
path whose ACL must be consulted to the modes needed there. Auxiliary resources are mapped to
their subject: an `.acl` needs Control on its subject, a `.meta` what the subject would need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from pod import paths
from pod.ldp.patch import Patch
from pod.model import AccessMode

READ, APPEND, WRITE, CONTROL = (
    AccessMode.READ,
    AccessMode.APPEND,
    AccessMode.WRITE,
    AccessMode.CONTROL,
)


@dataclass(frozen=True, slots=True)
class Needs:
    """Modes needed per path, e.g. {"/a/": APPEND, "/a/b": WRITE}, for `method` on `target`
    (what a refusal names: never which of the paths or modes was missing, since that would tell
    which of them exist)."""

    modes: dict[str, AccessMode]
    method: str = ""
    target: str = ""

    def add(self, path: str, modes: AccessMode) -> None:
        known = self.modes.get(path)
        self.modes[path] = modes if known is None else known | modes


def patch_modes(patch: Patch | None) -> AccessMode:
    """Solid Protocol #server-n3-patch-where/-insert/-delete; the same rules for SPARQL Update.

    Every patch needs at least Append: it writes the resource even when it changes nothing (a
    new version, or a new resource). So `None`, a patch not read yet, needs Append: what the
    body is checked against before it is read, so that no one without it makes the server read
    or parse a patch body.
    """
    modes = APPEND
    if patch is None:
        return modes
    if patch.where:
        modes |= READ
    if patch.deletes:
        modes |= READ | WRITE
    return modes


def needed_modes(
    method: str,
    path: str,
    *,
    exists: Callable[[str], bool],
    patch: Patch | None = None,
) -> Needs:
    """What `method` on `path` needs. `exists(p)` tells whether resource `p` exists now.

    For PATCH, `patch` is the parsed patch; without it, the least any patch needs there.
    """
    method = method.upper()
    if method in _ONE_MODE and not paths.is_auxiliary(path):  # the common case, made directly
        return Needs({path: _ONE_MODE[method]}, method, path)
    needs = Needs({}, method, path)
    if paths.is_auxiliary(path):
        subject = paths.subject_of(path)
        if paths.is_acl(path):
            # WAC #server-control-operation: reading or writing an ACL needs Control.
            if method != "OPTIONS":
                needs.add(subject, CONTROL)
            return needs
        # A description resource is governed by its subject's ACL.
        needs.add(subject, _meta_modes(method, patch))
        return needs
    if method in ("GET", "HEAD"):
        needs.add(path, READ)
    elif method == "POST":
        needs.add(path, APPEND)
    elif method in ("PUT", "PATCH"):
        writing = WRITE if method == "PUT" else patch_modes(patch)
        if exists(path):
            needs.add(path, writing)
        else:
            # A create: Append on the nearest existing container, Append on each container to
            # be created in between, and the write itself on the new resource (as NSS and the
            # WAC test suite ask).
            for container in _missing_then_existing(path, exists):
                needs.add(container, APPEND)
            needs.add(path, writing)
    elif method == "DELETE":
        # WAC #server-delete-operation: Write on the resource and on its container.
        needs.add(path, WRITE)
        parent = paths.parent(path)
        if parent is not None:
            needs.add(parent, WRITE)
    return needs


# What reading and appending need, whatever exists (WAC #server-read-operation,
# #server-append-operation).
_ONE_MODE: Final = {"GET": READ, "HEAD": READ, "POST": APPEND}


def _meta_modes(method: str, patch: Patch | None) -> AccessMode:
    if method in ("GET", "HEAD"):
        return READ
    if method == "PATCH":
        return patch_modes(patch)
    if method == "OPTIONS":
        return AccessMode.NONE
    return WRITE


def _missing_then_existing(path: str, exists: Callable[[str], bool]) -> Iterable[str]:
    """The containers above `path` down from the nearest existing one, which comes first."""
    chain = []
    for ancestor in paths.ancestors(path):
        chain.append(ancestor)
        if exists(ancestor):
            break
    return chain
