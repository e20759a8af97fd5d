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

Reading: `members` reads the stream sequentially, no seek, its own tar headers (`tarfile`'s
reader holds any extended header whole in memory) through `gzip`, every member's size checked
against `Limits` from its header before its data is read. `scan` hashes every member and
checks the hashes against the manifest, the last member.
"""

from __future__ import annotations

import asyncio
import gzip
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

# What any archive may hold, whatever the server's limits: a manifest row is about 200 bytes,
# so the manifest of MAX_MEMBERS members fits in MAX_MANIFEST_BYTES. Both bound what a first
# pass keeps in memory (the manifest, one Entry per member).
MAX_MEMBERS: Final = 50_000
MAX_MANIFEST_BYTES: Final = 16 * 1024 * 1024
_PAX_BYTES: Final = 64 * 1024  # a pax header of ours holds a path and a media type
_REGULAR: Final = (tarfile.REGTYPE, tarfile.AREGTYPE)


@final
@dataclass(frozen=True, slots=True)
class Limits:
    """What an archive may hold: `total` bytes of member data in all, `members` members, each
    at most `member(name, media type)` bytes (None: only the total applies)."""

    total: int
    member: Callable[[str, str], int | None]
    members: int = MAX_MEMBERS


NO_LIMITS: Final = Limits(total=2**63, member=lambda _name, _media: None)


@final
@dataclass(slots=True)
class Scan:
    """What a first pass over an archive found: the manifest and every member's entry."""

    manifest: dict[str, Any]
    entries: dict[str, Entry] = field(default_factory=dict)

    @property
    def pod_bytes(self) -> int:
        return sum(e.size for e in self.entries.values() if e.path.startswith("pod/"))


def check_name(name: str) -> None:
    """Refuse member names that could point outside the archive's own tree."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or any(p in ("..", ".") for p in parts)
    ):
        raise ArchiveError(f"the member name {name!r} is not allowed", member=name)


@final
class _Gunzipped:
    """The decompressed stream of a gzip file, read exactly: the tar format is blocks."""

    def __init__(self, file: IO[bytes]) -> None:
        file.seek(0)
        self._gz = gzip.GzipFile(fileobj=file, mode="rb")

    def read(self, size: int) -> bytes:
        """Up to `size` bytes; fewer only at the end."""
        try:
            return self._gz.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"not a whole gzip-compressed archive: {exc}") from exc

    def readline(self, size: int) -> bytes:
        try:
            return self._gz.readline(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"not a whole gzip-compressed archive: {exc}") from exc

    def exactly(self, size: int, *, what: str) -> bytes:
        data = self.read(size)
        while len(data) < size:
            more = self.read(size - len(data))
            if not more:
                raise ArchiveError(f"the archive is cut short in {what}")
            data += more
        return data

    def skip(self, size: int, *, what: str) -> None:
        while size > 0:
            size -= len(self.exactly(min(size, _READ), what=what))


@final
class MemberReader:
    """One member's data, read from the stream in pieces; good until the next member."""

    def __init__(self, stream: _Gunzipped, name: str, size: int) -> None:
        self._stream = stream
        self.name = name
        self.size = size
        self._left = size

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (-1: the rest; a caller reads a member whole only when its size
        was checked against a limit)."""
        want = self._left if size < 0 else min(size, self._left)
        if want <= 0:
            return b""
        data = self._stream.exactly(want, what=self.name)
        self._left -= len(data)
        return data

    def readline(self, limit: int) -> bytes:
        """The next line with its `\\n`, or the next `limit` bytes of a longer one."""
        want = min(limit, self._left)
        if want <= 0:
            return b""
        line = self._stream.readline(want)
        if not line:
            raise ArchiveError(f"the archive is cut short in {self.name}", member=self.name)
        self._left -= len(line)
        return line

    def finish(self) -> None:
        """Skip what was not read, and the padding to the next block."""
        self._stream.skip(self._left + (-self.size % BLOCK), what=self.name)
        self._left = 0


def _pax_records(data: bytes, near: str) -> dict[str, str]:
    """A pax extended header's records, `<length> <key>=<value>\\n` each (POSIX pax,
    https://pubs.opengroup.org/onlinepubs/9799919799/utilities/pax.html#tag_20_94_13_03)."""
    found: dict[str, str] = {}
    at = 0
    while at < len(data) and data[at] != 0:
        space = data.find(b" ", at, at + 20)
        digits = data[at:space] if space > at else b""
        end = at + int(digits) if digits.isdigit() else at
        key, sep, value = data[space + 1 : end - 1].partition(b"=")
        if end <= at or end > len(data) or data[end - 1] != 0x0A or not sep:
            raise ArchiveError(f"a pax header near {near} is damaged", member=near)
        try:
            found[key.decode()] = value.decode()
        except UnicodeDecodeError as exc:
            raise ArchiveError(f"a pax header near {near} is not UTF-8", member=near) from exc
        at = end
    return found


def members(file: IO[bytes], limits: Limits = NO_LIMITS) -> Iterator[tuple[str, str, MemberReader]]:
    """Every member of the archive in `file`, in order: (name, media type, reader), each
    checked against `limits` from its header, before its data is read. Only regular files with
    pax headers (what `ArchiveWriter` writes) are read: a link, a device, a directory, a
    sparse file, a GNU or global header is refused, naming the member. The tar headers are
    read here, not by `tarfile`, which would hold any extended header whole in memory
    however large it says it is. Raises ArchiveError."""
    stream = _Gunzipped(file)
    count = total = 0
    pax: dict[str, str] = {}
    last = "the first member"
    while True:
        block = stream.exactly(BLOCK, what=f"the header after {last}")
        if block == bytes(BLOCK):
            return  # the end: two zero blocks (one is enough to stop reading)
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
        except (tarfile.HeaderError, ValueError) as exc:
            raise ArchiveError(f"the header after {last} is damaged: {exc}") from exc
        if info.type == tarfile.XHDTYPE:
            if info.size > _PAX_BYTES:
                raise ArchiveError(f"the pax header after {last} is {info.size} bytes")
            pax = _pax_records(stream.exactly(info.size + (-info.size % BLOCK), what=last), last)
            continue
        name = pax.get("path", info.name)
        last = name
        media = pax.get(TYPE_HEADER, "")
        try:
            size = int(pax.get("size", info.size))
        except ValueError as exc:
            raise ArchiveError(f"{name} has a damaged size", member=name) from exc
        sparse = any(k.startswith("GNU.sparse") for k in pax)
        pax = {}
        if info.type not in _REGULAR or sparse:
            kind = "a sparse file" if sparse or info.type == tarfile.GNUTYPE_SPARSE else "a link"
            if info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
                kind = "a device"
            elif info.type == tarfile.DIRTYPE:
                kind = "a directory"
            elif info.type not in (tarfile.SYMTYPE, tarfile.LNKTYPE) and not sparse:
                kind = f"of tar type {info.type!r}"
            raise ArchiveError(
                f"{name} is {kind}, not a regular file: the archive is not an export", member=name
            )
        check_name(name)
        count += 1
        if count > limits.members:
            raise ArchiveError(f"the archive holds more than {limits.members} members", member=name)
        cap = MAX_MANIFEST_BYTES if name == MANIFEST else limits.member(name, media)
        if cap is not None and size > cap:
            raise ArchiveError(f"{name} is {size} bytes; the limit is {cap}", member=name)
        total += size
        if total > limits.total:
            raise ArchiveError(
                f"the archive holds more than {limits.total} bytes unpacked (at {name})",
                member=name,
            )
        reader = MemberReader(stream, name, size)
        yield name, media, reader
        reader.finish()


def scan(file: IO[bytes], limits: Limits = NO_LIMITS) -> Scan:
    """Hash every member and check each against the manifest (the last member): a member the
    manifest does not list, or lists with another size or sha256, or one it lists but the
    archive lacks, is an ArchiveError naming it; so is one over `limits`. Reads the archive
    once, a piece at a time; blocking."""
    found: dict[str, Entry] = {}
    manifest: dict[str, Any] | None = None
    for name, media_type, reader in members(file, limits):
        if manifest is not None:
            raise ArchiveError(f"{name} follows the manifest, which must be last", member=name)
        if name in found:
            raise ArchiveError(f"{name} is in the archive twice", member=name)
        if name == MANIFEST:
            try:
                loaded = json.loads(reader.read())
            except (ValueError, RecursionError) as exc:
                raise ArchiveError("the manifest is not JSON", member=MANIFEST) from exc
            if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
                raise ArchiveError(f"the manifest is not a {FORMAT} manifest", member=MANIFEST)
            manifest = loaded
            continue
        digest = hashlib.sha256()
        while chunk := reader.read(_READ):
            digest.update(chunk)
        found[name] = Entry(name, reader.size, media_type, digest.hexdigest())
    if manifest is None:
        raise ArchiveError("the archive has no manifest: it is cut short or not an export")
    listed: dict[str, Entry] = {}
    rows = manifest.get("members", [])
    if not isinstance(rows, list):
        raise ArchiveError("the manifest's members are not a list", member=MANIFEST)
    for row in rows:
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
