"""Every script in examples/ runs against a real server and does what its docstring says."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import free_port
from tests.support import wait_until_serving as wait_up
from tests.test_cli import run_cli, server

ROOT = Path(__file__).parents[1]


def run_example(name: str, *args: str) -> str:
    return failing_example(name, *args, check=True).stdout


def test_embed_server() -> None:
    out = run_example("embed_server.py", str(free_port()))
    assert "Hello from an embedded Kluis" in out


@pytest.fixture
async def fresh_pod() -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A server as a fresh `make serve` has it: one account, its pod and client credentials."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with server(
        "--port", str(port), "--host", "127.0.0.1", "--storage", "memory", "--password-cost", "10"
    ) as proc:
        await wait_up(base, proc)
        login = ("--server", base, "--email", "eve@example.org", "--password", "long enough")
        account = json.loads(run_cli("account", "create", *login, "--pod", "eve").stdout)
        client = json.loads(
            run_cli("client", "create", *login, "--webid", account["webId"], "--name", "ex").stdout
        )
        yield base, client


async def test_read_write_turtle(fresh_pod: tuple[str, dict[str, str]]) -> None:
    base, client = fresh_pod
    out = run_example(
        "read_write_turtle.py", base + "eve/", client["clientId"], client["clientSecret"]
    )
    assert '"al"' in out  # the patched nickname, as JSON-LD
    assert "ldp:contains" in out
    assert "profile" in out


async def test_dpop_client(fresh_pod: tuple[str, dict[str, str]]) -> None:
    base, client = fresh_pod
    out = run_example(
        "dpop_client.py", base, client["clientId"], client["clientSecret"], base + "eve/notes/hi"
    )
    assert "Written with a DPoP-bound token" in out


@pytest.mark.parametrize("name", ["read_write_turtle.py", "dpop_client.py"])
async def test_mistakes_get_one_clear_line(
    fresh_pod: tuple[str, dict[str, str]], name: str
) -> None:
    base, client = fresh_pod
    missing = failing_example(name)
    assert missing.returncode == 2
    assert "usage:" in missing.stderr
    assert "required" in missing.stderr
    # A wrong secret, beginning with "-" as one in 64 base64url secrets do (and without a
    # space, which would make argparse read it as a positional argument anyway).
    args = [base + "eve/", client["clientId"], "-not-the-secret"]
    if name == "dpop_client.py":
        args = [base, client["clientId"], "-not-the-secret", base + "eve/x"]
    wrong = failing_example(name, *args)
    assert wrong.returncode == 1
    assert "answered 401" in wrong.stderr
    unreachable = failing_example(name, *[a.replace(base, "http://127.0.0.1:9/") for a in args])
    assert "is the server running?" in unreachable.stderr
    for done in (missing, wrong, unreachable):
        assert "Traceback" not in done.stderr


def failing_example(name: str, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
        cwd=ROOT,
    )


def test_custom_backend() -> None:
    out = run_example("custom_backend.py", str(free_port()))
    assert "write /notes/ (text/turtle, 0 bytes)" in out
    assert "write /notes/today (text/turtle," in out
    assert "delete /notes/today" in out


def test_office_hours() -> None:
    out = run_example("office_hours.py", str(free_port())).splitlines()
    assert out == [
        '10:00 Europe/Amsterdam  bob GET /alice/team/plan  200  WAC-Allow: user="read",public=""',
        "20:00 Europe/Amsterdam  bob GET /alice/team/plan  403",
        "10:00 Europe/Amsterdam  bob GET /alice/diary  403",
    ]


def test_change_log(tmp_path: Path) -> None:
    out = run_example("change_log.py", str(tmp_path / "changes.jsonl"), str(free_port()))
    entries = [json.loads(line) for line in out.splitlines()]
    assert out == (tmp_path / "changes.jsonl").read_text(encoding="utf-8")
    done = [(e["change"], e["path"]) for e in entries if e["request"] is not None]
    assert done == [
        ("Create", "/notes/"),
        ("Add", "/"),
        ("Create", "/notes/today"),
        ("Add", "/notes/"),
        ("Update", "/notes/today"),
        ("Delete", "/notes/today"),
        ("Remove", "/notes/"),
    ]
    assert len({e["request"] for e in entries if e["request"] is not None}) == 3
