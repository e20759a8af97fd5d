"""Journals: append-only records in one segment per key and UTC day. Imports storage.claim.

A record is one line, `<payload>\\n`; the payload holds no newline, tab or NUL byte (JSON as
`json.dumps` writes it escapes all three). A record is only ever written into bytes that are
zero: the space a segment's file is extended by (posix_fallocate, or past its end), never over
older bytes (a segment is cut back to its last record before it is written again). So a record
torn by a crash, copied in part or reaching the disk in part, holds NUL bytes where the rest
was to be, or lacks its newline; a reader keeps a line only if it ends in `\\n` and holds no
NUL. Segments written before this framing hold `<payload>\\t<crc32 as 8 hex digits>\\n`
lines; a line with a tab is still kept only if its CRC matches.

Contract (every implementation):
- `append` writes one record into the file's pages before it returns (FileJournal: copied into
  a shared memory map of the segment, which is the page cache itself): once it has returned the
  record survives the process (the page cache outlives a kill -9); `sync` makes it survive the
  machine too.
- Opening a segment to append to it cuts off a torn tail (whatever follows the last record
  that verifies), so a torn record never stays mid-file.
- Segments are only ever appended to, or dropped whole (retention, `drop`), or replaced whole
  and atomically by `rewrite` (an erasure taking a person's name out of other people's logs),
  called on the thread that appends.
- Keys and days are names the caller checks (hex digests, `YYYY-MM-DD`); nothing a request
  controls reaches a file name.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Protocol, final

from pod.storage.claim import FILE_MODE, make_dirs
from pod.storage.fs import fsync_directory

SUFFIX: Final = ".jsonl"
_DAY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KEY: Final = re.compile(r"^[0-9a-f]{8,64}$")
_TAIL_BYTES: Final = 64 * 1024  # what a writer checks of a segment it opens
_READ_BYTES: Final = 1024 * 1024
_OPEN_SEGMENTS: Final = 128  # segments kept open, least recently used closed first
# How much of a segment is mapped at a time, ahead of its records: the first window is small, so
# a segment written now and then costs little, and each next one doubles up to the largest,
# which bounds the memory an open segment holds (its touched pages count as the process's) and
# amortises moving the window for a busy one.
_FIRST_WINDOW: Final = 16 * 1024
_WINDOW: Final = 256 * 1024
_META: Final = "meta.json"


def frame(payload: bytes) -> bytes:
    """One record: the payload and a newline. Raises ValueError for an empty payload, or one
    holding a newline, a tab or a NUL byte (it could not be told from the framing, or from
    what a torn record leaves)."""
    if not payload or b"\n" in payload or b"\t" in payload or b"\0" in payload:
        raise ValueError("a journal record is not empty and holds no newline, tab or NUL byte")
    return payload + b"\n"


def verified(line: bytes) -> bytes | None:
    """The payload of one line (without its `\\n`), or None if it is no whole record: it is
    empty, it holds a NUL byte, or it has a tab (the framing of older segments) and its CRC
    does not match."""
    if not line or b"\0" in line:
        return None
    tab = line.rfind(b"\t")
    if tab < 0:
        return line
    if len(line) - tab != 9:
        return None
    payload = line[:tab]
    # Compared as written (lower-case hex), so no other spelling of the number passes.
    return payload if line[tab + 1 :] == b"%08x" % zlib.crc32(payload) else None


def records(data: bytes) -> list[bytes]:
    """The payloads of the whole records in `data`: lines ending in `\\n` whose CRC matches."""
    found: list[bytes] = []
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            return found  # an unterminated tail is torn
        payload = verified(data[start:end])
        if payload is not None:
            found.append(payload)
        start = end + 1


def good_end(tail: bytes, offset: int) -> int:
    """Where the records in a segment end, given its last bytes `tail` starting at `offset`:
    after the last line that verifies (a torn tail is cut off), or, when no line in `tail` can
    be checked whole, after its last newline."""
    end = tail.rfind(b"\n")
    while end >= 0:
        start = tail.rfind(b"\n", 0, end) + 1
        if start == 0 and offset > 0:
            break  # this line begins before the tail: it cannot be checked here
        if verified(tail[start:end]) is not None:
            return offset + end + 1
        end = start - 1
    if offset == 0:
        return 0  # nothing in the segment verifies
    return offset + tail.rfind(b"\n") + 1


def is_day(day: str) -> bool:
    return _DAY.match(day) is not None


def _check(key: str, day: str | None = None) -> None:
    if _KEY.match(key) is None or (day is not None and not is_day(day)):
        raise ValueError(f"not a journal key and day: {key!r} {day!r}")


class Journal(Protocol):
    """Append-only day segments per key. See the module docstring for the contract."""

    def append(self, key: str, day: str, payload: bytes) -> None:
        """Append one record (framed here) to segment `day` of `key`."""
        ...

    def append_line(self, key: str, day: str, line: bytes) -> None:
        """Append one record framed by the caller, who vouches that `line` is `frame` of a
        payload: built in one step from parts that cannot hold a newline, tab or NUL (JSON it
        encoded), for a record made on the request path."""
        ...

    def all_keys(self) -> list[str]:
        """Every key with segments or meta data."""
        ...

    def days(self, key: str) -> list[str]:
        """The days of `key`'s segments, oldest first."""
        ...

    def read(self, key: str, day: str) -> Iterator[bytes]:
        """The payloads of the whole, verified records of one segment, in order (blocking:
        call it in a thread)."""
        ...

    def drop_before(self, key: str, day: str) -> int:
        """Delete `key`'s segments older than `day`, whole; return how many."""
        ...

    def drop(self, key: str) -> None:
        """Delete everything of `key`."""
        ...

    def rewrite(self, key: str, day: str, payloads: list[bytes]) -> None:
        """Replace segment `day` of `key` with `payloads`, atomically (the old segment or the
        new one survives a crash). Call it on the thread that appends, with no append between
        the `read` it rewrites and this call."""
        ...

    def get_meta(self, key: str) -> bytes | None:
        """The small document kept beside `key`'s segments (its settings), or None."""
        ...

    def put_meta(self, key: str, data: bytes) -> None:
        """Replace that document atomically."""
        ...

    def sync(self) -> None:
        """Make every record appended so far survive a machine crash."""
        ...

    def close(self) -> None: ...


@final
class MemoryJournal:
    """A journal in memory, lost on exit, for the memory backend and tests."""

    def __init__(self) -> None:
        self.segments: dict[str, dict[str, bytearray]] = {}
        self.meta: dict[str, bytes] = {}

    def append(self, key: str, day: str, payload: bytes) -> None:
        self.append_line(key, day, frame(payload))

    def append_line(self, key: str, day: str, line: bytes) -> None:
        self.segments.setdefault(key, {}).setdefault(day, bytearray()).extend(line)

    def all_keys(self) -> list[str]:
        return sorted(set(self.segments) | set(self.meta))

    def days(self, key: str) -> list[str]:
        return sorted(self.segments.get(key, {}))

    def read(self, key: str, day: str) -> Iterator[bytes]:
        data = bytes(self.segments.get(key, {}).get(day, b""))
        yield from records(data)

    def drop_before(self, key: str, day: str) -> int:
        segments = self.segments.get(key, {})
        old = [d for d in segments if d < day]
        for d in old:
            del segments[d]
        return len(old)

    def drop(self, key: str) -> None:
        self.segments.pop(key, None)
        self.meta.pop(key, None)

    def rewrite(self, key: str, day: str, payloads: list[bytes]) -> None:
        self.segments.setdefault(key, {})[day] = bytearray(b"".join(map(frame, payloads)))

    def get_meta(self, key: str) -> bytes | None:
        return self.meta.get(key)

    def put_meta(self, key: str, data: bytes) -> None:
        self.meta[key] = data

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass


@final
class _Segment:
    """An open segment: its descriptor and the window of it mapped, its next record written at
    the map's position (so one `mmap.write` appends it, or raises ValueError, writing nothing,
    when it does not fit)."""

    __slots__ = ("fd", "map", "name", "start", "window")

    def __init__(self, name: tuple[str, str], fd: int, end: int) -> None:
        self.name = name  # (key, day)
        self.fd = fd
        self.window = _FIRST_WINDOW // 2  # doubled before each use
        self.start = 0  # the file offset the map begins at
        self.map = self._mapped(end, 0)

    @property
    def end(self) -> int:
        """Where the segment's records end: the next record's offset."""
        return self.start + self.map.tell()

    def _mapped(self, end: int, need: int) -> mmap.mmap:
        """A window from offset `end` holding at least `need` more bytes, its blocks allocated
        first (posix_fallocate): a page of a mapped file with no block behind it would kill
        the process with SIGBUS when the disk is full, where this raises OSError."""
        start = end - end % mmap.ALLOCATIONGRANULARITY
        self.window = min(self.window * 2, _WINDOW)
        length = max(self.window, -(-(end - start + need) // self.window) * self.window)
        os.posix_fallocate(self.fd, start, length)
        mapped = mmap.mmap(self.fd, length, offset=start)
        mapped.seek(end - start)
        self.start = start  # after the last call that can fail: `end` uses the old map till then
        return mapped

    def write_past(self, line: bytes) -> None:
        """Write `line`, which the window has no room left for, into the next one. Raises
        OSError when that cannot be allocated (a full disk), keeping the window it has."""
        mapped = self._mapped(self.end, len(line))
        self.map.close()
        self.map = mapped
        mapped.write(line)

    def close(self) -> None:
        """Unmap, cut the file back to its records (the window's zeros past them), close."""
        try:
            end = self.end
            self.map.close()
            os.ftruncate(self.fd, end)
        finally:
            os.close(self.fd)


@final
class FileJournal:
    """Segments as files `<directory>/<key>/<day>.jsonl` (0600, in directories 0700).

    Appending copies the record into a shared memory map of the segment's file, a window of
    `_FIRST_WINDOW` to `_WINDOW` bytes allocated ahead of its records: no system call per
    record (measured in process: a logged GET cost about 5 µs less than with one `os.write`
    each). One process writes a data directory (pod.storage.claim), so one writer per segment.
    The window's zeros past the records are cut off when the segment is closed; after a crash,
    when it is next opened (`_records_end`), and a reader skips them as it skips any torn tail.
    The last `_OPEN_SEGMENTS` segments written stay open. With `fsync`, `sync` fdatasyncs the
    segments written since the last call (fdatasync writes a file's pages changed through a map
    too) and the directories of new ones; the caller runs it off the request path.
    """

    def __init__(self, directory: Path, *, fsync: bool = True) -> None:
        self.directory = directory
        self.fsync = fsync
        self._open: OrderedDict[tuple[str, str], _Segment] = OrderedDict()
        self._dirty: set[tuple[str, str]] = set()  # written since the last sync
        self._new_dirs: set[Path] = set()  # directories with entries not yet synced
        # The segment last written, the most recent in _open: a run of records to one segment
        # (a busy pod's) makes no tuple and asks no dict.
        self._last: _Segment | None = None

    def _segment(self, key: str, day: str) -> _Segment:
        _check(key, day)
        folder = self.directory / key
        path = folder / (day + SUFFIX)
        if not path.exists():
            make_dirs(folder)
            self._new_dirs.update((folder, self.directory))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            segment = _Segment((key, day), fd, _records_end(fd))
        except OSError:
            os.close(fd)
            raise
        self._open[segment.name] = segment
        while len(self._open) > _OPEN_SEGMENTS:
            # Closed unsynced: `sync` opens it again to fsync it, off the request path.
            self._open.popitem(last=False)[1].close()
        return segment

    def append(self, key: str, day: str, payload: bytes) -> None:
        self.append_line(key, day, frame(payload))

    def append_line(self, key: str, day: str, line: bytes) -> None:
        segment = self._last
        if segment is None or segment.name[0] != key or segment.name[1] != day:
            segment = self._last = self._opened(key, day)
        try:
            segment.map.write(line)
        except ValueError:  # past the window (mmap.write then writes nothing)
            segment.write_past(line)
        self._dirty.add(segment.name)

    def _opened(self, key: str, day: str) -> _Segment:
        """Segment `day` of `key`, opened if it is not, now the most recently used."""
        segment = self._open.get((key, day))
        if segment is None:
            return self._segment(key, day)
        self._open.move_to_end(segment.name)
        return segment

    def all_keys(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.directory) if _KEY.match(e.name))
        except FileNotFoundError:
            return []

    def days(self, key: str) -> list[str]:
        _check(key)
        try:
            names = os.listdir(self.directory / key)
        except FileNotFoundError:
            return []
        return sorted(
            n[: -len(SUFFIX)] for n in names if n.endswith(SUFFIX) and is_day(n[: -len(SUFFIX)])
        )

    def read(self, key: str, day: str) -> Iterator[bytes]:
        _check(key, day)
        try:
            f = (self.directory / key / (day + SUFFIX)).open("rb")
        except FileNotFoundError:
            return
        with f:
            carry = b""
            while chunk := f.read(_READ_BYTES):
                data = carry + chunk
                last = data.rfind(b"\n")
                if last < 0:
                    carry = data
                    continue
                yield from records(data[: last + 1])
                carry = data[last + 1 :]
            # What is left has no newline: a torn tail, never a record.

    def _forget(self, key: str, day: str) -> None:
        segment = self._open.pop((key, day), None)
        self._dirty.discard((key, day))
        if segment is not None:
            if segment is self._last:
                self._last = None
            segment.close()

    def drop_before(self, key: str, day: str) -> int:
        _check(key, day)
        old = [d for d in self.days(key) if d < day]
        for d in old:
            self._forget(key, d)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.directory / key / (d + SUFFIX))
        if old:
            self._new_dirs.add(self.directory / key)
        return len(old)

    def drop(self, key: str) -> None:
        _check(key)
        for d in self.days(key):
            self._forget(key, d)
        folder = self.directory / key
        if folder.exists():
            for entry in os.scandir(folder):
                os.unlink(entry.path)
            folder.rmdir()
            self._new_dirs.add(self.directory)

    def rewrite(self, key: str, day: str, payloads: list[bytes]) -> None:
        _check(key, day)
        self._forget(key, day)  # the next append opens the new segment
        folder = self.directory / key
        temporary = folder / (day + SUFFIX + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
        try:
            data = b"".join(map(frame, payloads))
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, folder / (day + SUFFIX))
        if self.fsync:
            fsync_directory(folder)

    def get_meta(self, key: str) -> bytes | None:
        _check(key)
        try:
            return (self.directory / key / _META).read_bytes()
        except FileNotFoundError:
            return None

    def put_meta(self, key: str, data: bytes) -> None:
        _check(key)
        folder = self.directory / key
        make_dirs(folder)
        temporary = folder / (_META + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
        try:
            os.write(fd, data)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, folder / _META)
        if self.fsync:
            fsync_directory(folder)

    def sync(self) -> None:
        # Safe in another thread than `append`'s: each set is swapped for a new one at once,
        # so a record appended meanwhile stays marked for the next sync.
        dirty, self._dirty = self._dirty, set()
        new_dirs, self._new_dirs = self._new_dirs, set()
        if not self.fsync:
            return
        pending = list(dirty)
        for n, (key, day) in enumerate(pending):
            try:
                # Through a descriptor of its own: the appending thread may close a segment's
                # (and the number be reused) meanwhile. fdatasync writes the file's pages, those
                # changed through a map too, whichever descriptor asks, and its size (the
                # metadata reading them needs), not its times.
                with contextlib.suppress(FileNotFoundError):  # dropped since
                    fd = os.open(self.directory / key / (day + SUFFIX), os.O_RDONLY | os.O_CLOEXEC)
                    try:
                        os.fdatasync(fd)
                    finally:
                        os.close(fd)
            except OSError:
                self._dirty.update(pending[n:])  # tried again at the next sync
                self._new_dirs.update(new_dirs)
                raise
        # A new segment's directory entry, and a new key's, must survive too.
        for directory in sorted(new_dirs, key=lambda p: -len(p.parts)):
            with contextlib.suppress(FileNotFoundError):
                fsync_directory(directory)

    def close(self) -> None:
        self.sync()
        self._last = None
        while self._open:
            self._open.popitem()[1].close()


def _records_end(fd: int) -> int:
    """Where the records of the segment open at `fd` end, cutting off what follows: a torn
    record, and the zeros of a window mapped past them by a writer that crashed."""
    size = os.fstat(fd).st_size
    data_end = size
    while data_end > 0:  # records end in b"\n", so trailing zeros are never a record's
        start = max(0, data_end - _TAIL_BYTES)
        kept = len(os.pread(fd, data_end - start, start).rstrip(b"\0"))
        if kept:
            data_end = start + kept
            break
        data_end = start
    offset = max(0, data_end - _TAIL_BYTES)
    end = good_end(os.pread(fd, data_end - offset, offset), offset) if data_end else 0
    if end < size:
        os.ftruncate(fd, end)
    return end
