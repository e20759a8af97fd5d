"""Claiming a data directory for one server process. Imports errors.

`kluis serve` claims its data directory before it listens: the directory is created if missing,
locked so that a second server on the same directory stops at once instead of both writing, and
proven writable by writing and fsyncing a probe file. Without the probe, a read-only mount or a
directory the server may not write still starts (reading works) and then answers 500 to every
request that writes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
from pathlib import Path
from typing import Final, final

from pod.errors import BackendUnavailable

STATE_DIR: Final = ".kluis"  # reserved by pod.paths: no URL reaches it
LOCK_NAME: Final = "lock"
_PROBE_PREFIX: Final = ".kluis~probe~"
# The owner's data only: new files 0600 and directories 0700, whatever the umask allows.
FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700


@final
class DataDirectoryClaim:
    """A data directory held by this process: the lock lasts until `release()` or exit."""

    def __init__(self, root: Path, fd: int) -> None:
        self.root = root
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def claim_data_directory(root: Path) -> DataDirectoryClaim:
    """Create `root` if needed, lock it for this process and prove it writable.

    Raises BackendUnavailable with a message for the operator (one line, no traceback needed).
    """
    root = root.absolute()
    state = root / STATE_DIR
    try:
        make_dirs(state)
    except OSError as exc:
        raise BackendUnavailable(_cannot(root, "be created", exc)) from exc
    try:
        fd = os.open(state / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        raise BackendUnavailable(_cannot(root, "be written", exc)) from exc
    try:
        # flock, not a pid file: the kernel drops it when the process dies, however it dies.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BackendUnavailable(
            f"data directory {root} is in use by another Kluis server "
            f"(it holds {state / LOCK_NAME}); stop it or choose another --data-dir"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise BackendUnavailable(_cannot(root, "be locked", exc)) from exc
    try:
        _probe(root)
    except OSError as exc:
        os.close(fd)
        raise BackendUnavailable(_cannot(root, "be written", exc)) from exc
    return DataDirectoryClaim(root, fd)


def make_dirs(path: Path) -> None:
    """`mkdir -p` in which every directory created is the owner's only (DIR_MODE).

    os.makedirs applies its mode to the last directory only (Python 3.7+), not to the ones it
    creates on the way.
    """
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():  # a file, or a symlink to one
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(directory)) from None


def _probe(root: Path) -> None:
    probe = root / f"{_PROBE_PREFIX}{secrets.token_hex(8)}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        try:
            os.write(fd, b"kluis")
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(probe)


def _cannot(root: Path, what: str, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"data directory {root} cannot {what}: {reason}"
