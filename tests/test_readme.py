"""Every shell block in README.md runs, as written, against a live server, in README order.

The README is what a person on a fresh machine follows word for word, so its commands are run
literally: `make serve` starts the server in the background (the "first terminal"), every other
block runs in one bash session (the "second terminal"; its variables carry over from block to
block), on http://localhost:3000 as the README says. Only the data directory differs
(`KLUIS_DATA_DIR`), so a developer's own ./data is never touched. Then the test checks that
each step did what the README says it does.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import rdflib

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)
_SERVER = re.compile(r"^(\S+=\S+ )*(make serve|\.venv/bin/kluis serve\b.*)$")
_STOPS_THE_SERVER = re.compile(r"^\.venv/bin/kluis migrate\b")
# Targets CI runs around this suite (`make lint typecheck` before it); `make test` and `make check`
# are this suite, and `make bench` takes minutes of both cores.
NOT_IN_THE_SUITE = frozenset(
    {"make test", "make lint", "make typecheck", "make check", "make bench"}
)
PORT = 3000

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def shell_blocks() -> list[str]:
    return _BLOCK.findall(README.read_text())


def _without_comment(line: str) -> str:
    return line.split("  #", 1)[0].strip() if not line.startswith("#") else ""


@dataclass
class Session:
    """The two terminals of the README: a server in the background, and a shell."""

    tmp: Path
    env: dict[str, str]
    server: subprocess.Popen[bytes] | None = None
    outputs: list[str] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.tmp / "shell-state"

    def serve(self, command: str) -> None:
        self.stop()
        with (self.tmp / f"server-{len(self.outputs)}.log").open("wb") as log:
            self.server = subprocess.Popen(
                ["bash", "-c", command],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches make and kluis alike
            )
        deadline = time.monotonic() + 120  # make may install the runtime dependencies first
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                pytest.fail(f"`{command}` exited: {self.server_log()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", PORT)) == 0:
                    return
            time.sleep(0.1)
        pytest.fail(f"`{command}` did not start serving: {self.server_log()}")

    def server_log(self) -> str:
        logs = sorted(self.tmp.glob("server-*.log"))
        return logs[-1].read_text()[-3000:] if logs else ""

    def stop(self) -> None:
        """What Ctrl-C in the server's terminal does."""
        if self.server is None:
            return
        os.killpg(self.server.pid, signal.SIGINT)
        self.server.wait(timeout=60)
        # make exits at once; the kluis it started finishes its requests and lets go of the
        # data directory a moment later.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.killpg(self.server.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the server did not stop on Ctrl-C")
        self.server = None

    def run(self, script: str) -> str:
        """Run `script` in the second terminal: the variables it sets stay for the next one."""
        wrapper = (
            "set -euo pipefail\nset -a\n"
            f"if [ -f {self.state} ]; then source {self.state}; fi\n"
            f"{script}\n"
            f"export -p > {self.state}\n"
        )
        done = subprocess.run(
            ["bash", "-c", wrapper],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"this README block failed:\n{script}\n---\n{output}"
        assert "Traceback" not in output
        assert "curl: (" not in output, output
        self.outputs.append(output)
        return output


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    if shutil.which("curl") is None:
        pytest.fail("the README's commands need curl (`apt-get install curl`)")
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", PORT)) == 0:
            pytest.fail(f"port {PORT} is in use; the README's commands need it")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLUIS_") and k != "VIRTUAL_ENV"}
    env["KLUIS_DATA_DIR"] = str(tmp_path / "data")
    running = Session(tmp_path, env)
    try:
        yield running
    finally:
        running.stop()


def test_every_shell_block_runs_as_written(session: Session) -> None:
    blocks = shell_blocks()
    skipped: list[str] = []
    for block in blocks:
        # A line ending in a backslash goes on in the next one, as in the shell.
        joined = re.sub(r"\\\n\s*", "", block)
        lines = [_without_comment(line) for line in joined.splitlines()]
        if any(_SERVER.match(line) or line in NOT_IN_THE_SUITE for line in lines):
            # A block that starts the server: one command per line, as the quick start has.
            for line in filter(None, lines):
                if _SERVER.match(line):
                    session.serve(line)
                elif line in NOT_IN_THE_SUITE:
                    skipped.append(line)
                else:
                    if _STOPS_THE_SERVER.match(line):
                        session.stop()  # the README says to stop the server first
                    session.run(line)
            continue
        if any(_STOPS_THE_SERVER.match(line) for line in lines):
            session.stop()  # the README says to stop the server first
        session.run(block)
    assert "make test" in skipped
    assert len(blocks) >= 6

    data = Path(session.env["KLUIS_DATA_DIR"])
    out = "\n".join(session.outputs)
    # The first session did what the README says, step by step.
    assert '"webId": "http://localhost:3000/alice/profile/card#me"' in out
    assert "HTTP/1.1 401" in out  # the pod itself is private
    assert '"al"' in out  # examples/read_write_turtle.py patched in a nickname
    card = rdflib.Graph().parse(
        data / "alice" / "notes" / "card", format="turtle", publicID="http://x/alice/notes/card"
    )
    foaf = rdflib.Namespace("http://xmlns.com/foaf/0.1/")
    me = rdflib.URIRef("http://x/alice/notes/card#me")
    assert card.value(me, foaf.name) == rdflib.Literal("Alice")
    assert card.value(me, foaf.nick) == rdflib.Literal("al")  # the N3 Patch arrived whole
    assert (data / "alice" / "notes" / "todo.txt").read_text() == "milk"
    # Moving the server: the data directory was copied aside, then served at the new address.
    assert list(data.parent.glob("data.backup-*"))
    assert session.server is not None
    profile = subprocess.run(
        ["curl", "-s", f"http://localhost:{PORT}/alice/profile/card"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    graph = rdflib.Graph().parse(
        data=profile, format="turtle", publicID="https://pod.example.org/alice/profile/card"
    )
    storage = graph.value(
        rdflib.URIRef("https://pod.example.org/alice/profile/card#me"),
        rdflib.URIRef("http://www.w3.org/ns/pim/space#storage"),
    )
    assert storage == rdflib.URIRef("https://pod.example.org/alice/")
