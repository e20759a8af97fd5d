"""The export archive: one streamed `.tar.gz` with a manifest of every member's sha256. Imports
nothing from pod.

Writing: `tarfile`'s own `w|gz` stream needs no seek, but in Python 3.11 it compresses at zlib
level 9 (`tarfile._Stream._init_write_gz`), which takes minutes per GB. So `ArchiveWriter`
writes the tar format itself (POSIX.1-2001 pax headers from `TarInfo.tobuf`, data padded to
512-byte blocks, two zero blocks at the end, https://pubs.opengroup.org/onlinepubs/9799919799/
utilities/pax.html#tag_20_94_13) through `zlib.compressobj(level, DEFLATED, 31)` (31: a gzip
wrapper, RFC 1952). Compression runs in a thread (zlib releases the GIL) and every output goes
to an awaited `sink` (a response's `write`: backpressure), so memory holds one chunk, the zlib
state and the manifest rows.

Reading: `tarfile.open(mode="r|gz")` reads the stream sequentially, no seek. `scan` hashes
every member and checks the hashes against the manifest, the last member.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
import time
import zlib
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final, final

BLOCK: Final = 512
MANIFEST: Final = "manifest.json"
TYPE_HEADER: Final = "KLUIS.type"  # pax extended header: the member's media type
FORMAT: Final = "kluis-export/1"
_THREAD_BYTES: Final = 64 * 1024  # compress smaller pieces on the loop: a thread hop costs more
_READ: Final = 1024 * 1024

Sink = Callable[[bytes], Awaitable[Any]]


class ArchiveError(Exception):
    """The archive is not one we can read, or a member does not match the manifest; `member`
    names the member at fault when there is one."""

    def __init__(self, message: str, *, member: str | None = None) -> None:
        super().__init__(message)
        self.member = member


@final
@dataclass(frozen=True, slots=True)
class Entry:
    """One member as the manifest lists it."""

    path: str
    size: int
    type: str
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "type": self.type, "sha256": self.sha256}


@final
class ArchiveWriter:
    """Writes members one after another to `sink`, compressed at zlib `level`; `finish` adds
    the manifest and ends the archive."""

    def __init__(self, sink: Sink, *, level: int = 3, meta: dict[str, Any] | None = None) -> None:
        self._sink = sink
        self._zlib = zlib.compressobj(level, zlib.DEFLATED, 31)
        self._meta = meta or {}
        self.entries: list[Entry] = []
        self.written = 0  # bytes of member data so far (uncompressed)
        self._mtime = int(time.time())

    async def _send(self, raw: bytes) -> None:
        if len(raw) > _THREAD_BYTES:
            out = await asyncio.to_thread(self._zlib.compress, raw)
        else:
            out = self._zlib.compress(raw)
        if out:
            await self._sink(out)

    async def add(
        self,
        name: str,
        size: int,
        chunks: AsyncIterable[bytes],
        *,
        media_type: str,
        mtime: float | None = None,
    ) -> Entry:
        """Add member `name` of `size` bytes read from `chunks`. Raises ArchiveError when the
        chunks hold another number of bytes (the archive is then unusable: stop)."""
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = int(mtime) if mtime is not None else self._mtime
        info.mode = 0o600
        info.type = tarfile.REGTYPE
        info.pax_headers = {TYPE_HEADER: media_type}
        await self._send(info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8"))
        digest = hashlib.sha256()
        seen = 0
        async for chunk in chunks:
            seen += len(chunk)
            if seen > size:
                raise ArchiveError(f"{name} grew while it was exported", member=name)
            digest.update(chunk)
            await self._send(chunk)
        if seen != size:
            raise ArchiveError(f"{name} shrank while it was exported", member=name)
        padding = -size % BLOCK
        if padding:
            await self._send(bytes(padding))
        self.written += size
        entry = Entry(name, size, media_type, digest.hexdigest())
        self.entries.append(entry)
        return entry

    async def add_bytes(self, name: str, data: bytes, *, media_type: str) -> Entry:
        return await self.add(name, len(data), _once(data), media_type=media_type)

    async def finish(self) -> None:
        """Add `manifest.json` (every member's path, size, type and sha256) and end the
        archive: two zero blocks, then the gzip trailer."""
        manifest = {
            **self._meta,
            "format": FORMAT,
            "consistency": "per-file",
            "members": [e.to_json() for e in self.entries],
        }
        data = json.dumps(manifest, indent=1).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        info.mtime = self._mtime
        info.mode = 0o600
        info.pax_headers = {TYPE_HEADER: "application/json"}
        await self._send(info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8"))
        await self._send(data + bytes(-len(data) % BLOCK) + bytes(2 * BLOCK))
        await self._sink(self._zlib.flush())


async def _once(data: bytes) -> AsyncIterable[bytes]:
    if data:
        yield data


# --- reading ------------------------------------------------------------------------------


@final
@dataclass(slots=True)
class Scan:
    """What a first pass over an archive found: the manifest and every member's entry."""

    manifest: dict[str, Any]
    entries: dict[str, Entry] = field(default_factory=dict)

    @property
    def pod_bytes(self) -> int:
        return sum(e.size for e in self.entries.values() if e.path.startswith("pod/"))


def _open(file: IO[bytes]) -> tarfile.TarFile:
    file.seek(0)
    try:
        return tarfile.open(fileobj=file, mode="r|gz")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"not a gzip-compressed tar archive: {exc}") from exc


def check_name(name: str) -> None:
    """Refuse member names that could point outside the archive's own tree."""
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or "\0" in name or any(p in ("..", ".") for p in parts):
        raise ArchiveError(f"the member name {name!r} is not allowed", member=name)


def members(file: IO[bytes]) -> Iterator[tuple[str, str, IO[bytes]]]:
    """Every regular member of the archive in `file`, in order: (name, media type, reader).
    Each reader is good only until the next member is asked for. Raises ArchiveError."""
    with _open(file) as tar:
        try:
            for info in tar:
                if not info.isreg():
                    raise ArchiveError(
                        f"{info.name} is not a regular file: the archive is not an export",
                        member=info.name,
                    )
                check_name(info.name)
                reader = tar.extractfile(info)
                assert reader is not None  # a regular file has a reader
                yield info.name, info.pax_headers.get(TYPE_HEADER, ""), reader
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"the archive is damaged: {exc}") from exc


def scan(file: IO[bytes]) -> Scan:
    """Hash every member and check each against the manifest (the last member): a member the
    manifest does not list, or lists with another size or sha256, or one it lists but the
    archive lacks, is an ArchiveError naming it. Reads the archive once; blocking."""
    found: dict[str, Entry] = {}
    manifest: dict[str, Any] | None = None
    for name, media_type, reader in members(file):
        if manifest is not None:
            raise ArchiveError(f"{name} follows the manifest, which must be last", member=name)
        if name in found:
            raise ArchiveError(f"{name} is in the archive twice", member=name)
        digest = hashlib.sha256()
        size = 0
        kept = bytearray() if name == MANIFEST else None
        while chunk := reader.read(_READ):
            digest.update(chunk)
            size += len(chunk)
            if kept is not None:
                kept += chunk
        if kept is not None:
            try:
                loaded = json.loads(kept)
            except ValueError as exc:
                raise ArchiveError("the manifest is not JSON", member=MANIFEST) from exc
            if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
                raise ArchiveError(f"the manifest is not a {FORMAT} manifest", member=MANIFEST)
            manifest = loaded
            continue
        found[name] = Entry(name, size, media_type, digest.hexdigest())
    if manifest is None:
        raise ArchiveError("the archive has no manifest: it is cut short or not an export")
    listed: dict[str, Entry] = {}
    for row in manifest.get("members", []):
        try:
            entry = Entry(str(row["path"]), int(row["size"]), str(row["type"]), str(row["sha256"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(f"a manifest row is malformed: {row!r}", member=MANIFEST) from exc
        listed[entry.path] = entry
    for name, entry in found.items():
        expected = listed.get(name)
        if expected is None:
            raise ArchiveError(f"{name} is not in the manifest", member=name)
        if expected.sha256 != entry.sha256 or expected.size != entry.size:
            raise ArchiveError(
                f"{name} does not match its sha256 in the manifest: changed after export",
                member=name,
            )
        if expected.type != entry.type:
            raise ArchiveError(f"{name} has another media type than the manifest", member=name)
    for name in listed:
        if name not in found:
            raise ArchiveError(f"{name} is in the manifest but not in the archive", member=name)
    return Scan(manifest, found)
