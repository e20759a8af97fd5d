"""Start-up mistakes: each gets one clear line on stderr and a non-zero exit, never a traceback,
and never a server that says "serving" and then answers 500. Real `kluis serve` processes.

Tests run as root, who may write almost anywhere, so "cannot write" needs things root cannot write
either: a path under a plain file, an immutable directory (chattr +i), a read-only bind mount in
a private mount namespace (unshare). Where the machine does not allow the last two, those tests
are skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import aiohttp
import pytest

from benchmarks.run import event_loop
from pod.cli import build_parser, command_parsers
from pod.config import Settings
from tests.support import free_port
from tests.support import wait_until_serving as wait_up
from tests.test_cli import ROOT, server

# What a start-up may log besides the one error line: its INFO records.
_INFO_RECORD: Final = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO ")


def serve_fails(*args: str, prefix: tuple[str, ...] = ()) -> tuple[int, str]:
    """Run `kluis serve ARGS`, which must exit by itself; its exit code and its one error line."""
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "pod", "serve", "--host", "127.0.0.1", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the server started anyway: {exc.stderr!r}") from None
    assert "Traceback" not in done.stderr, done.stderr
    lines = [
        line for line in done.stderr.splitlines() if line.strip() and not _INFO_RECORD.match(line)
    ]
    assert len(lines) == 1, done.stderr
    return done.returncode, lines[0]


def test_a_port_out_of_range_is_refused() -> None:
    """`--port 99999` used to log 99999 and listen on another port (99999 mod 65536)."""
    code, line = serve_fails("--port", "99999", "--storage", "memory")
    assert code == 2
    assert line == "kluis serve: error: port must be between 1 and 65535, not 99999"
    with pytest.raises(ValueError, match="port must be between 1 and 65535"):
        Settings.load({"KLUIS_PORT": "0"})


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, line = serve_fails("--port", str(port), "--storage", "memory")
    assert code == 1
    assert line == (
        f"kluis serve: error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another server uses that port?)"
    )


def test_a_bad_option_value_is_one_line() -> None:
    code, line = serve_fails("--allow-bearer", "maybe", "--storage", "memory")
    assert code == 2
    assert "--allow-bearer: expected true or false, got 'maybe'" in line
    assert "--help" in line


async def test_a_boolean_option_alone_means_true(tmp_path: Path) -> None:
    """`--allow-bearer` used to be refused: "expected one argument"."""
    serve_options = command_parsers(build_parser())["serve"]
    assert serve_options.parse_args(["--allow-bearer"]).allow_bearer is True
    assert serve_options.parse_args(["--allow-bearer", "off"]).allow_bearer is False
    assert serve_options.parse_args(["--fsync", "--allow-bearer"]).fsync is True
    port = free_port()
    args = ("--allow-bearer", "--port", str(port), "--host", "127.0.0.1", "--storage", "memory")
    with server(*args) as proc:
        await wait_up(f"http://127.0.0.1:{port}/", proc)


def test_a_data_directory_that_cannot_be_created() -> None:
    code, line = serve_fails("--port", str(free_port()), "--data-dir", f"{ROOT}/README.md/data")
    assert code == 1
    assert line == (
        f"kluis serve: error: data directory {ROOT}/README.md/data cannot be created: "
        "Not a directory"
    )


@contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """`directory` made unwritable even for root: immutable (chattr +i), else mode 0500."""
    if os.geteuid() != 0:
        directory.chmod(0o500)
        try:
            yield
        finally:
            directory.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("needs chattr to make a directory root cannot write")
    done = subprocess.run([chattr, "+i", str(directory)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"this file system has no immutable flag: {done.stderr!r}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True)


async def test_a_data_directory_that_cannot_be_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with unwritable(data):
        code, line = serve_fails("--port", str(free_port()), "--data-dir", str(data))
    assert code == 1
    assert line.startswith(f"kluis serve: error: data directory {data} cannot be ")
    assert line.endswith(("Operation not permitted", "Permission denied"))


def _read_only_bind_mount(data: Path) -> tuple[str, ...]:
    """A command prefix that runs the rest with `data` bind-mounted read-only over itself, in a
    mount namespace of its own (nothing outside the process sees the mount)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare (util-linux) for a read-only mount")
    prefix = (
        unshare,
        "--mount",
        "sh",
        "-c",
        'mount --bind -o ro "$0" "$0" && exec "$@"',
        str(data),
    )
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.strip()}")
    return prefix


async def test_a_data_directory_on_a_read_only_mount(tmp_path: Path) -> None:
    """A pod that served before, now on a read-only mount, used to start, say "serving" and
    answer 500 to every write (and every log-in)."""
    data = tmp_path / "data"
    port = free_port()
    args = ("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(data))
    with server(*args) as proc:  # writes the root ACL and the identity provider's keys
        await wait_up(f"http://127.0.0.1:{port}/", proc)
    prefix = _read_only_bind_mount(data)
    code, line = serve_fails("--port", str(port), "--data-dir", str(data), prefix=prefix)
    assert code == 1
    assert line == (
        f"kluis serve: error: data directory {data} cannot be written: Read-only file system"
    )


async def test_two_servers_on_one_data_directory(tmp_path: Path) -> None:
    """Both used to start, and wrote the same files with separate locks and caches."""
    data = tmp_path / "data"
    port = free_port()
    with server("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(data)) as first:
        await wait_up(f"http://127.0.0.1:{port}/", first)
        code, line = serve_fails("--port", str(free_port()), "--data-dir", str(data))
        assert code == 1
        assert line == (
            f"kluis serve: error: data directory {data} is in use by another Kluis server "
            f"(it holds {data}/.kluis/lock); stop it or choose another --data-dir"
        )
    # The lock goes with its process: the next server starts.
    with server("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(data)) as second:
        await wait_up(f"http://127.0.0.1:{port}/", second)


async def test_files_in_the_data_directory_are_the_owners_only(tmp_path: Path) -> None:
    """Pods, accounts and keys used to be written 0644 in 0755 directories (with umask 022)."""
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    args = ("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(data))
    with server(*args, "--password-cost", "10") as proc:
        await wait_up(base, proc)
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                base + ".account/api/accounts",
                json={"email": "ann@example.org", "password": "a long password", "pod": "ann"},
            ) as r,
        ):
            assert r.status == 201, await r.text()
    found = {p: stat.S_IMODE(p.lstat().st_mode) for p in [data, *data.rglob("*")]}
    assert any(p.name == "card" for p in found)  # the pod's profile
    assert any(p.parent.name == "emails" for p in found)  # the account
    wrong = {
        str(p): oct(mode) for p, mode in found.items() if mode != (0o700 if p.is_dir() else 0o600)
    }
    assert not wrong


@pytest.mark.parametrize(("choice", "expected"), [("auto", True), ("asyncio", False)])
async def test_the_event_loop_is_uvloop_when_installed(choice: str, expected: bool) -> None:
    """`auto` serves on uvloop when it is installed, `asyncio` on asyncio's own loop; both
    answer. What the process has loaded tells which (the benchmark's own check)."""
    pytest.importorskip("uvloop")
    port = free_port()
    args = ("--event-loop", choice, "--port", str(port), "--host", "127.0.0.1")
    with server(*args, "--storage", "memory") as proc:
        await wait_up(f"http://127.0.0.1:{port}/", proc)
        loop = event_loop(proc.pid)
    assert loop == ("uvloop" if expected else "asyncio")


def test_an_unknown_event_loop_is_one_line() -> None:
    code, line = serve_fails("--event-loop", "tokio", "--storage", "memory")
    assert code == 2
    assert "event_loop must be 'auto', 'uvloop' or 'asyncio', not 'tokio'" in line


def test_the_server_process_loads_no_rarely_used_module() -> None:
    """What only some requests need is imported by them, not at start: rdflib's SPARQL grammar
    (about 7 MB; SPARQL Updates are parsed in the isolated worker process) and zxcvbn's word
    lists (about 12 MB; read at the first new password)."""
    rare = ("pyparsing", "rdflib.plugins.sparql.parser", "zxcvbn")
    script = f"import sys, pod.cli\nprint(sorted(m for m in {rare!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
