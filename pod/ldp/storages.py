"""Which containers are storage roots, and who owns each (Solid Protocol
https://solidproject.org/TR/protocol#storage and #server-storage-track-owner).

Read from the backend at start, then kept in step by the change feed: a change to a container
whose metadata carries the storage marker registers it, the deletion of a root forgets it.
"""

from __future__ import annotations

from typing import final

from pod import paths
from pod.feed import Change, Event, ResourceChanged
from pod.model import Metadata
from pod.storage.base import Backend


@final
class Storages:
    def __init__(self) -> None:
        self._owners: dict[str, str | None] = {}  # storage root -> owner WebID

    async def load(self, backend: Backend) -> None:
        """Find the storage roots: the root container and its children carry the marker."""
        root = await backend.stat(paths.ROOT)
        candidates = [] if root is None else [root]
        candidates += [c for c in await backend.children(paths.ROOT) if c.is_container]
        self._owners = {m.path: m.attrs.get("owner") for m in candidates if m.is_storage}

    def follow(self, event: Event) -> None:
        """A change feed listener."""
        if not isinstance(event, ResourceChanged):
            return
        if event.change is Change.DELETE:
            self._owners.pop(event.path, None)
        elif event.metadata is not None and event.metadata.is_storage:
            self._register(event.metadata)

    def _register(self, meta: Metadata) -> None:
        self._owners[meta.path] = meta.attrs.get("owner")

    def root_of(self, path: str) -> str | None:
        """The storage root that holds `path` (itself included), or None."""
        owners = self._owners
        if path in owners:
            return path
        if not owners:
            return None
        # Test the containers above `path`, keeping the innermost storage.
        found = "/" if "/" in owners else None
        end = path.find("/", 1)
        while end > 0:
            prefix = path[: end + 1]
            if prefix in owners:
                found = prefix
            end = path.find("/", end + 1)
        return found

    def roots(self) -> set[str]:
        return set(self._owners)

    def is_root(self, path: str) -> bool:
        return path in self._owners

    def owner(self, root: str) -> str | None:
        """The WebID that owns storage `root`."""
        return self._owners.get(root)

    def is_protected(self, path: str) -> bool:
        """The server's root container or a storage root: never deleted, nor their ACLs
        (Solid Protocol #server-delete-protect-root-container)."""
        return path == paths.ROOT or path in self._owners
