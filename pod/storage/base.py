"""The Backend protocol: the contract every storage backend keeps. Imports model, paths, errors.

Backends store bytes under resource paths (see `pod.paths`). They know nothing of RDF, ACLs or
HTTP; the Solid rules live above them in `pod.ldp`. A PostgreSQL backend implements the same
protocol, so nothing above this layer changes when it drops in.

Contract:
- Paths are already validated; containers end in `/`. The root container `/` always exists.
- `write` replaces a resource atomically: a concurrent or later reader sees the old bytes or the
  new bytes, never a mix, even after a crash at any instant. It creates the resource if needed but
  never its parent: a missing parent is `NotFound`. A resource and a container may not share a
  path apart from the trailing slash: `Conflict`.
- Every write gives the resource a new `version`, different from all earlier versions of it.
- `write` of a container path creates the container (or replaces its own body: the container's
  non-containment RDF, as Turtle). `delete` of a container that still has children is `Conflict`.
- `children` lists what a container holds, containers with a trailing slash, in no set order.
- Callers serialise writes to one path (the ldp layer holds a per-path lock); backends must still
  never corrupt data when they do not.
- A `StreamingBackend` also gives a resource's bytes in chunks (`stream`): the chunks and the
  metadata belong to one version, even when the resource is replaced while they are read, and
  no more than one chunk is held at a time. `chunks_of` reaches it below wrappers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final, Protocol

from pod.model import Metadata

CHUNK: Final = 1024 * 1024  # what `stream` reads at a time unless told


class Backend(Protocol):
    """Byte storage of resources and containers. See the module docstring for the contract."""

    async def stat(self, path: str) -> Metadata | None:
        """Metadata of `path`, or None if it does not exist."""
        ...

    async def read(
        self, path: str, *, start: int = 0, end: int | None = None
    ) -> tuple[Metadata, bytes]:
        """Metadata and bytes `[start:end]` of `path` (a container's own body). Raises NotFound."""
        ...

    async def write(
        self, path: str, data: bytes, *, content_type: str, create_only: bool = False
    ) -> Metadata:
        """Atomically create or replace `path`. With `create_only`, raise Conflict if it exists.

        Raises NotFound if the parent container is missing, Conflict on a slash twin.
        """
        ...

    async def delete(self, path: str) -> None:
        """Remove `path`. Raises NotFound, or Conflict for a non-empty container."""
        ...

    async def children(self, path: str) -> list[Metadata]:
        """Metadata of everything container `path` holds. Raises NotFound."""
        ...

    async def set_attrs(self, path: str, attrs: dict[str, str]) -> Metadata:
        """Replace the server-managed attributes of container `path` (storage marker, owner)."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


class StreamingBackend(Backend, Protocol):
    """A Backend that also streams bodies (STYLE §8: streamed bodies instead of whole `bytes`).

    Apart from Backend, so the wrappers and backends that only keep the Backend contract
    (quotas, tests' tracers, examples) keep it unchanged; `chunks_of` finds one below them."""

    async def stream(
        self, path: str, *, chunk: int = CHUNK
    ) -> tuple[Metadata, AsyncIterator[bytes]]:
        """Metadata of `path` (a container's own body for a container path) and its bytes in
        chunks of at most `chunk` bytes, all of the version the metadata describes. Raises
        NotFound. The iterator holds what the version needs (a file descriptor) until it is
        exhausted or closed (`aclose`, when it has one)."""
        ...


async def chunks_of(
    backend: Backend, path: str, *, chunk: int = CHUNK
) -> tuple[Metadata, AsyncIterator[bytes]]:
    """`backend.stream(path)` of the first backend that streams, from `backend` down through
    wrappers' `inner`; a backend below which none streams is read whole (one chunk)."""
    current: object = backend
    while current is not None:
        stream = getattr(current, "stream", None)
        if stream is not None:
            found: tuple[Metadata, AsyncIterator[bytes]] = await stream(path, chunk=chunk)
            return found
        current = getattr(current, "inner", None)
    meta, data = await backend.read(path)
    return meta, _one(data)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data
