"""FileBackend: resources as plain files an owner can read and back up. Imports base, model, paths,
claim.

Layout under the data directory (URL path segments, percent-decoded, are file names):

    alice/                      the container /alice/
    alice/profile/card          an RDF resource: its Turtle, as a plain file
    alice/photo                 a non-RDF resource: its exact bytes ...
    alice/.kluis~meta~photo     ... and a sidecar naming its media type (JSON)
    alice/.kluis~self.ttl       the container's own (non-containment) triples, if any
    alice/.kluis~self.json      server-managed attributes of the container (storage root, owner)
    alice/.kluis~tmp~<random>   a write in progress (removed on success, swept when stale)

A sidecar exists only where the media type differs from what the file name implies (no extension
or `.ttl` means Turtle, `.png` means image/png, ...), so most RDF needs none. Names starting with
`.kluis` are refused by `pod.paths`, so no request can reach the layout files.

Crash safety: every file is written to a temporary file, fsynced, and renamed over the target, so a
crash leaves the old or the new version. A media-type change writes the sidecar first, recording
the type that applies from the new file's mtime on (`since`) and the type before it (`prev`); a
crash between the two renames therefore still reads the old bytes with their old type. We set each
new file's mtime ourselves, strictly above the old one's, and use it as the resource's version.

Files are created 0600 and directories 0700: a pod is private data, and other users of the machine
have no business reading it, whatever the umask of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import stat as stat_module
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Self, final

from pod import paths
from pod.cache import LruCache, size_of
from pod.errors import BackendUnavailable, Conflict, NotFound
from pod.model import Metadata
from pod.storage.base import CHUNK
from pod.storage.claim import DIR_MODE, FILE_MODE, make_dirs

LAYOUT_PREFIX = ".kluis~"
_META_PREFIX = LAYOUT_PREFIX + "meta~"
_SELF_BODY = LAYOUT_PREFIX + "self.ttl"
_SELF_ATTRS = LAYOUT_PREFIX + "self.json"
_TMP_PREFIX = LAYOUT_PREFIX + "tmp~"
_STALE_TMP_SECONDS = 3600
_INLINE_READ_BYTES = 256 * 1024  # smaller reads run on the event loop: a thread hop costs more
# Every cache below can be filled by requests (a GET of a missing path maps the paths of the ACLs
# above it), so each is bounded in entries and in bytes.
# Per-path memos are bounded in entries well below their byte budgets: every new path fills
# them (a benchmark's 39,000 PUTs kept about 2 KB a path across all caches, 34 MB of its peak),
# and a run of new paths gains nothing from them. 5,000 paths (20,000 attribute sets) keep what
# is read again; from 20,000 (100,000) the benchmark's peak RSS fell by 6 MB at the same rates.
_PATH_CACHE_ENTRIES = 5_000
_PATH_CACHE_BYTES = 4 * 1024 * 1024  # a memo, cheap to rebuild
_PATH_BYTES = 200  # the mapped path's text and the memo's entry, beside the key (measured)
_SIDECAR_CACHE_ENTRIES = 5_000
_SIDECAR_CACHE_BYTES = 4 * 1024 * 1024
_ATTRS_CACHE_ENTRIES = 20_000
_ATTRS_CACHE_BYTES = 8 * 1024 * 1024
_CACHED_FILE_BYTES = 64 * 1024  # files up to this size are kept after a read ...
_READ_CACHE_BYTES = 32 * 1024 * 1024  # ... up to this many bytes in all
_READ_CACHE_ENTRIES = 50_000
_NO_SIDECAR: dict[str, Any] = {}

# Our own table, not the platform's mimetypes database: what a name implies must never change
# between machines or Python versions, or files without a sidecar would change type.
_TYPES_BY_EXTENSION = {
    "ttl": "text/turtle",
    "acl": "text/turtle",
    "meta": "text/turtle",
    "n3": "text/n3",
    "nt": "application/n-triples",
    "jsonld": "application/ld+json",
    "rdf": "application/rdf+xml",
    "json": "application/json",
    "txt": "text/plain",
    "html": "text/html",
    "htm": "text/html",
    "css": "text/css",
    "js": "text/javascript",
    "md": "text/markdown",
    "csv": "text/csv",
    "xml": "application/xml",
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "svg": "image/svg+xml",
    "webp": "image/webp",
    "ico": "image/vnd.microsoft.icon",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
    "zip": "application/zip",
}
DEFAULT_TYPE = "text/turtle"  # a name without an extension: the usual Solid RDF document
UNKNOWN_TYPE = "application/octet-stream"


def implied_type(name: str) -> str:
    """The media type a file name implies, when no sidecar says otherwise."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return DEFAULT_TYPE
    return _TYPES_BY_EXTENSION.get(ext.lower(), UNKNOWN_TYPE)


def _file_version(st: os.stat_result) -> tuple[int, int, int]:
    """What tells one version of a file from another: inode, mtime and size."""
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@final
class FileBackend:
    """Backend on a directory tree. See the module docstring for the layout and crash safety.

    Its caches (sidecars, container attributes, small reads) are kept by its own writes, not by
    the change feed: one process holds a data directory (`pod.storage.claim`), so this backend
    sees every write made to it, and its read cache checks each file's identity anyway."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self._root = root.absolute()
        self._fsync = fsync
        self._sidecars: LruCache[str, dict[str, Any]] = LruCache(
            max_entries=_SIDECAR_CACHE_ENTRIES, max_bytes=_SIDECAR_CACHE_BYTES
        )
        self._attrs: LruCache[str, dict[str, str]] = LruCache(
            max_entries=_ATTRS_CACHE_ENTRIES, max_bytes=_ATTRS_CACHE_BYTES
        )
        self._dir_syncs = DirectorySyncs()
        self._fs_paths: LruCache[str, str] = LruCache(
            max_entries=_PATH_CACHE_ENTRIES, max_bytes=_PATH_CACHE_BYTES, sizer=_path_size
        )
        # path -> ((inode, mtime, size), metadata, bytes) of a small file's last read
        self._reads: LruCache[str, tuple[tuple[int, int, int], Metadata, bytes]] = LruCache(
            max_entries=_READ_CACHE_ENTRIES, max_bytes=_READ_CACHE_BYTES
        )
        try:
            make_dirs(self._root)
        except OSError as exc:
            raise BackendUnavailable(f"cannot create data directory {self._root}: {exc}") from exc

    # --- mapping ---------------------------------------------------------------------------

    def _fs_path(self, path: str) -> str:
        """The file or directory for `path`. Checks every name once, when the path is first
        mapped (a path is mapped from its parent's mapping, so only its last name is new):
        defence in depth, since paths reach here already parsed."""
        found = self._fs_paths.get(path)
        if found is None:
            parent = paths.parent(path)
            if parent is None:
                found = str(self._root)
            else:
                # The parent's names were checked when it was mapped: only the last is new
                # (a new resource in a known container is the common miss: every create).
                name = paths.name_of(path)
                paths.check_name(name)
                found = os.path.join(self._fs_path(parent), name)  # strings: pathlib was a
                # third of the cost of looking up a new path
            self._fs_paths.put(path, found)
        return found

    def _sidecar_path(self, path: str) -> str:
        return _sidecar_file(*os.path.split(self._fs_path(path)))

    # --- metadata --------------------------------------------------------------------------

    def _sidecar(self, path: str, file: str | None = None) -> dict[str, Any]:
        """The sidecar of `path` (read from `file` if given, its place in the container)."""
        cached = self._sidecars.get(path)
        if cached is not None:
            return cached
        try:
            where = self._sidecar_path(path) if file is None else file
            with open(where, "rb") as f:
                loaded: dict[str, Any] = json.loads(f.read())
        except FileNotFoundError:
            loaded = _NO_SIDECAR
        except (OSError, ValueError):
            loaded = _NO_SIDECAR  # an unreadable sidecar: fall back to the name's type
        self._sidecars.put(path, loaded)
        return loaded

    def _content_type(self, path: str, mtime_ns: int, sidecar_file: str | None = None) -> str:
        sidecar = self._sidecar(path, sidecar_file)
        implied = implied_type(paths.name_of(path))
        if not sidecar:
            return implied
        if mtime_ns >= int(sidecar.get("since", 0)):
            return str(sidecar.get("type") or implied)
        # The data rename of the write that recorded this sidecar never happened.
        return str(sidecar.get("prev") or implied)

    def _container_attrs(self, path: str) -> dict[str, str]:
        cached = self._attrs.get(path)
        if cached is None:
            try:
                raw = json.loads(Path(self._fs_path(path), _SELF_ATTRS).read_bytes())
                cached = {str(k): str(v) for k, v in raw.items()}
            except (OSError, ValueError):
                cached = {}
            self._attrs.put(path, cached)
        return cached

    def _resource_metadata(
        self, path: str, st: os.stat_result, *, listed: tuple[str, bool] | None = None
    ) -> Metadata:
        """`listed`: the child was found listing its container (that directory, and whether
        the listing held a sidecar for it)."""
        if listed is None:
            content_type = self._content_type(path, st.st_mtime_ns)
        elif listed[1]:
            sidecar = _sidecar_file(listed[0], paths.name_of(path))
            content_type = self._content_type(path, st.st_mtime_ns, sidecar)
        else:
            content_type = implied_type(paths.name_of(path))
        return Metadata(
            path=path,
            is_container=False,
            content_type=content_type,
            version=f"{st.st_mtime_ns:x}",
            modified=st.st_mtime,
            size=st.st_size,
        )

    def _container_metadata(self, path: str, st: os.stat_result) -> Metadata:
        # A string join: a container is stat'ed on every write into it and every listing read,
        # and pathlib's `/` parses the parts anew each time.
        body = os.path.join(self._fs_path(path), _SELF_BODY)
        try:
            body_st = os.lstat(body)
            version, size = f"{body_st.st_mtime_ns:x}", body_st.st_size
        except FileNotFoundError:
            version, size = "0", 0
        return Metadata(
            path=path,
            is_container=True,
            content_type=DEFAULT_TYPE,
            version=version,
            modified=st.st_mtime,
            size=size,
            attrs=dict(self._container_attrs(path)),
        )

    def _stat(self, path: str) -> Metadata | None:
        try:
            st = os.lstat(self._fs_path(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if paths.is_container(path):
            return self._container_metadata(path, st) if stat_module.S_ISDIR(st.st_mode) else None
        if not stat_module.S_ISREG(st.st_mode):
            return None
        # The metadata of the last read, while the file is still that version: every read of a
        # kept answer asks (pod.http.answers).
        read = self._reads.get(path)
        if read is not None and read[0] == _file_version(st):
            return read[1]
        return self._resource_metadata(path, st)

    async def stat(self, path: str) -> Metadata | None:
        return self._stat(path)

    def _is_directory(self, path: str) -> bool:
        """Whether the container `path` exists: one lstat, without building its metadata."""
        try:
            return stat_module.S_ISDIR(os.lstat(self._fs_path(path)).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    # --- reading ---------------------------------------------------------------------------

    async def read(
        self, path: str, *, start: int = 0, end: int | None = None
    ) -> tuple[Metadata, bytes]:
        container = paths.is_container(path)
        fs = self._fs_path(path)
        target = os.path.join(fs, _SELF_BODY) if container else fs
        whole = start == 0 and end is None and not container
        if whole:
            cached = self._cached_read(path, target)
            if cached is not None:
                return cached
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            if container:
                meta = self._stat(path)
                if meta is not None:
                    return meta, b""
            raise NotFound(f"{path} does not exist") from None
        except OSError as exc:  # ELOOP: a symlink; we never follow them
            raise NotFound(f"{path} does not exist") from exc
        try:
            # fstat and read the same open file: metadata and bytes belong to one version.
            st = os.fstat(fd)
            if not container and not stat_module.S_ISREG(st.st_mode):
                raise NotFound(f"{path} does not exist")
            stop = st.st_size if end is None else min(end, st.st_size)
            length = max(0, stop - start)
            if length <= _INLINE_READ_BYTES:
                data = os.pread(fd, length, start)
            else:
                data = await asyncio.to_thread(_pread_all, fd, length, start)
        finally:
            os.close(fd)
        if container:
            dir_st = os.lstat(self._fs_path(path))
            meta = self._container_metadata(path, dir_st)
        else:
            meta = self._resource_metadata(path, st)
            if whole and len(data) <= _CACHED_FILE_BYTES:
                self._remember_read(path, st, meta, data)
        return meta, data

    async def stream(
        self, path: str, *, chunk: int = CHUNK
    ) -> tuple[Metadata, AsyncIterator[bytes]]:
        """One descriptor, read with pread a chunk at a time: every write renames a new file
        into place, so the open file stays the version its fstat describes (no torn read).
        Neither the read cache nor the path memo keeps anything of it (an export walks every
        file once)."""
        container = paths.is_container(path)
        directory = self._fs_path(path) if container else None
        if directory is not None:
            target = os.path.join(directory, _SELF_BODY)
        else:
            parent = paths.parent(path)
            assert parent is not None  # only the root has none, and it is a container
            name = paths.name_of(path)
            paths.check_name(name)
            target = os.path.join(self._fs_path(parent), name)
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            if directory is not None and self._is_directory(path):
                meta = self._stat(path)
                if meta is not None:
                    return meta, _FileChunks(-1, 0, chunk)
            raise NotFound(f"{path} does not exist") from None
        except OSError as exc:  # ELOOP: a symlink; we never follow them
            raise NotFound(f"{path} does not exist") from exc
        try:
            st = os.fstat(fd)
            if directory is None and not stat_module.S_ISREG(st.st_mode):
                raise NotFound(f"{path} does not exist")
            if directory is not None:
                meta = self._container_metadata(path, os.lstat(directory))
            else:
                meta = self._resource_metadata(path, st)
        except BaseException:
            os.close(fd)
            raise
        return meta, _FileChunks(fd, st.st_size, chunk)

    def _cached_read(self, path: str, target: str) -> tuple[Metadata, bytes] | None:
        """A small file's last read, if the file is still that version (inode, mtime, size).

        One lstat instead of open, fstat, read and close: this is the hot path of every GET.
        """
        found = self._reads.get(path)
        if found is None:
            return None
        try:
            st = os.lstat(target)
        except OSError:
            return None
        if found[0] != _file_version(st):
            return None
        return found[1], found[2]

    def _remember_read(self, path: str, st: os.stat_result, meta: Metadata, data: bytes) -> None:
        self._reads.put(path, (_file_version(st), meta, data))

    async def children(self, path: str) -> list[Metadata]:
        return await asyncio.to_thread(self._children, path)

    def _children(self, path: str) -> list[Metadata]:
        directory = self._fs_path(path)
        now = time.time()
        # A child's sidecar is in this same directory: one without needs no read, and is neither
        # mapped to a file (the path memo) nor remembered (the sidecar cache), which a
        # container of 10,000 children would fill. Two passes over the directory, each entry
        # dropped as it is read: holding every DirEntry at once cost 11 MB for 10,000 children.
        try:
            with os.scandir(directory) as names:
                sidecars = {
                    e.name[len(_META_PREFIX) :] for e in names if e.name.startswith(_META_PREFIX)
                }
            entries = os.scandir(directory)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"container {path} does not exist") from None
        out: list[Metadata] = []
        with entries:
            for entry in entries:
                name = entry.name
                if name.startswith(LAYOUT_PREFIX):
                    if name.startswith(_TMP_PREFIX):
                        _sweep_stale(entry, now)
                    continue
                if not paths.is_valid_name(name):
                    continue  # a file placed by hand that no URL can name
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted while we listed
                if stat_module.S_ISDIR(st.st_mode):
                    if paths.has_auxiliary_suffix(name):
                        continue  # a directory no container URL can name (pod.paths)
                    out.append(self._container_metadata(f"{path}{name}/", st))
                elif stat_module.S_ISREG(st.st_mode):
                    listed = (directory, name in sidecars)
                    out.append(self._resource_metadata(f"{path}{name}", st, listed=listed))
        return out

    # --- writing ---------------------------------------------------------------------------

    async def write(
        self, path: str, data: bytes, *, content_type: str, create_only: bool = False
    ) -> Metadata:
        return await asyncio.to_thread(self._write, path, data, content_type, create_only)

    def _write(self, path: str, data: bytes, content_type: str, create_only: bool) -> Metadata:
        parent = paths.parent(path)
        if parent is not None and not self._is_directory(parent):
            raise NotFound(f"container {parent} does not exist")
        try:
            if paths.is_container(path):
                return self._write_container(path, data, create_only)
            return self._write_resource(path, data, content_type, create_only)
        except (FileNotFoundError, NotADirectoryError):
            # The container was deleted while we wrote into it (its deletion removes our
            # temporary file, or the directory goes first): the contract's NotFound.
            raise NotFound(f"container {parent} was deleted during the write") from None

    def _write_resource(
        self, path: str, data: bytes, content_type: str, create_only: bool
    ) -> Metadata:
        target = self._fs_path(path)
        try:
            old = os.lstat(target)
        except FileNotFoundError:
            old = None
        if old is not None and stat_module.S_ISDIR(old.st_mode):
            raise Conflict(f"{paths.twin(path)} exists; {path} cannot exist beside it")
        if old is not None and create_only:
            raise Conflict(f"{path} already exists")
        new_ns = time.time_ns() if old is None else max(time.time_ns(), old.st_mtime_ns + 1)
        old_type = None if old is None else self._content_type(path, old.st_mtime_ns)
        implied = implied_type(paths.name_of(path))
        sidecar = self._sidecar(path)
        needs_record = content_type != implied or bool(sidecar)
        if needs_record and sidecar.get("type") != content_type:
            record = {
                "type": content_type,
                "since": new_ns,
                "prev": None if old_type in (None, implied) else old_type,
            }
            self._replace_file(self._sidecar_path(path), json.dumps(record).encode(), None)
            self._sidecars.pop(path)
        try:
            self._replace_file(target, data, new_ns, create_only=create_only)
        except IsADirectoryError:
            raise Conflict(f"{paths.twin(path)} exists; {path} cannot exist beside it") from None
        except FileExistsError:
            raise Conflict(f"{path} already exists") from None
        if needs_record and content_type == implied:
            # Back to what the name implies: the sidecar is no longer needed.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._sidecar_path(path))
            self._sidecars.pop(path)
        return self._resource_metadata(path, os.lstat(target))

    def _write_container(self, path: str, data: bytes, create_only: bool) -> Metadata:
        directory = Path(self._fs_path(path))
        if path != paths.ROOT:
            try:
                os.mkdir(directory, DIR_MODE)
                self._sync_dir(directory.parent)
            except FileExistsError:
                if not directory.is_dir() or directory.is_symlink():
                    raise Conflict(
                        f"{paths.twin(path)} exists; {path} cannot exist beside it"
                    ) from None
                if create_only:
                    raise Conflict(f"{path} already exists") from None
        body = directory / _SELF_BODY
        if data:
            try:
                old_ns = os.lstat(body).st_mtime_ns
            except FileNotFoundError:
                old_ns = 0
            self._replace_file(body, data, max(time.time_ns(), old_ns + 1))
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(body)
        return self._container_metadata(path, os.lstat(directory))

    def _replace_file(
        self, target: str | Path, data: bytes, mtime_ns: int | None, *, create_only: bool = False
    ) -> None:
        """Write `data` to a temporary file in the target's directory, then rename it into place."""
        directory = os.path.dirname(target)
        tmp = os.path.join(directory, f"{_TMP_PREFIX}{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if mtime_ns is not None:
                    os.utime(fd, ns=(mtime_ns, mtime_ns))
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if create_only:
                os.link(tmp, target)  # fails with FileExistsError instead of replacing
                os.unlink(tmp)
            else:
                os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._sync_dir(directory)

    def _sync_dir(self, directory: str | Path) -> None:
        if self._fsync:
            self._dir_syncs.sync(str(directory))

    # --- deleting --------------------------------------------------------------------------

    async def delete(self, path: str) -> None:
        await asyncio.to_thread(self._delete, path)

    def _delete(self, path: str) -> None:
        if self._stat(path) is None or path == paths.ROOT:
            raise NotFound(f"{path} does not exist")
        target = Path(self._fs_path(path))
        if not paths.is_container(path):
            os.unlink(target)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._sidecar_path(path))
            self._sidecars.pop(path)
            self._sync_dir(target.parent)
            return
        if self._children(path):
            raise Conflict(f"container {path} is not empty")
        # Set the layout files aside, remove the directory, and put them back if a child
        # appeared in between: only our own layout files are ever removed here (a concurrent
        # write's temporary file among them, which makes that write fail cleanly), and rmdir
        # refuses a directory that is not empty, so nothing a client wrote is lost.
        kept: dict[str, bytes] = {}
        try:
            with os.scandir(target) as entries:
                for entry in entries:
                    if not entry.name.startswith(LAYOUT_PREFIX):
                        raise FileExistsError(entry.name)  # a child arrived since _children
                    if entry.name in (_SELF_BODY, _SELF_ATTRS):
                        kept[entry.name] = Path(entry.path).read_bytes()
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
            os.rmdir(target)
        except OSError:
            for name, content in kept.items():
                self._replace_file(target / name, content, None)
            raise Conflict(f"container {path} is not empty") from None
        self._attrs.pop(path)
        self._sync_dir(target.parent)

    async def set_attrs(self, path: str, attrs: dict[str, str]) -> Metadata:
        return await asyncio.to_thread(self._set_attrs, path, attrs)

    def _set_attrs(self, path: str, attrs: dict[str, str]) -> Metadata:
        if not paths.is_container(path) or self._stat(path) is None:
            raise NotFound(f"container {path} does not exist")
        directory = Path(self._fs_path(path))
        self._replace_file(directory / _SELF_ATTRS, json.dumps(attrs).encode(), None)
        self._attrs.put(path, dict(attrs))
        return self._container_metadata(path, os.lstat(directory))

    async def close(self) -> None:
        return None


def _sidecar_file(directory: str, name: str) -> str:
    """Where the sidecar of the file `name` in `directory` lives."""
    return os.path.join(directory, _META_PREFIX + name)


def _path_size(path: str, found: str) -> int:
    return size_of(path) + _PATH_BYTES + 2 * len(path)


def _pread_all(fd: int, length: int, start: int) -> bytes:
    chunks = []
    while length > 0:
        chunk = os.pread(fd, min(length, 1 << 20), start)
        if not chunk:
            break
        chunks.append(chunk)
        start += len(chunk)
        length -= len(chunk)
    return b"".join(chunks)


@final
class _FileChunks:
    """The bytes of one open file, `chunk` at a time; the descriptor is closed once they are
    all read, on `aclose`, or when the iterator is dropped."""

    def __init__(self, fd: int, size: int, chunk: int) -> None:
        self._fd = fd
        self._size = size
        self._chunk = max(1, chunk)
        self._offset = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        fd = self._fd
        length = min(self._chunk, self._size - self._offset)
        if fd < 0 or length <= 0:
            self._close()
            raise StopAsyncIteration
        try:
            if length <= _INLINE_READ_BYTES:
                data = os.pread(fd, length, self._offset)
            else:
                data = await asyncio.to_thread(os.pread, fd, length, self._offset)
        except BaseException:
            self._close()
            raise
        if not data:  # cannot happen to a file nobody writes in place; end rather than spin
            self._close()
            raise StopAsyncIteration
        self._offset += len(data)
        return data

    async def aclose(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __del__(self) -> None:
        self._close()


def _sweep_stale(entry: os.DirEntry[str], now: float) -> None:
    """Remove a temporary file left by a crashed write, once it is old enough to be surely dead."""
    with contextlib.suppress(OSError):
        if now - entry.stat(follow_symlinks=False).st_mtime > _STALE_TMP_SECONDS:
            os.unlink(entry.path)


@final
class DirectorySyncs:
    """Group commit for directory fsyncs: the writes that wait for one directory together share
    one fsync of it. A rename is durable once its directory is synced by an fsync that *began*
    after the rename (POSIX fsync makes durable what was written before it), so a writer takes
    a ticket after its rename and returns when a sync begun at or after its ticket has ended;
    with 32 writers into one container this saves most of their directory fsyncs."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._states: dict[str, _DirectoryState] = {}

    def sync(self, directory: str) -> None:
        with self._lock:
            state = self._states.get(directory)
            if state is None:
                state = self._states[directory] = _DirectoryState()
            state.asked += 1
            ticket = state.asked
            try:
                while state.synced < ticket:
                    if state.syncing:
                        self._lock.wait()
                        continue
                    state.syncing = True
                    covers = state.asked  # every ticket taken so far: their renames are done
                    self._lock.release()
                    try:
                        fsync_directory(directory)
                    finally:
                        self._lock.acquire()
                        state.syncing = False
                        self._lock.notify_all()
                    state.synced = covers  # not reached if the fsync failed: others retry
            finally:
                if not state.syncing and state.synced >= state.asked:
                    self._states.pop(directory, None)  # idle: nothing kept per directory

    def __len__(self) -> int:
        return len(self._states)


@final
class _DirectoryState:
    __slots__ = ("asked", "synced", "syncing")

    def __init__(self) -> None:
        self.asked = 0
        self.synced = 0
        self.syncing = False


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a directory's entries (a file created, renamed or removed in it) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
