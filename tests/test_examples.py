"""Every script in examples/ runs against a real server and does what its docstring says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import seed_open_storage
from tests.test_cli import free_port, run_cli, server, wait_up

ROOT = Path(__file__).parents[1]


def run_example(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def test_embed_server() -> None:
    out = run_example("embed_server.py", str(free_port()))
    assert "Hello from an embedded Kluis" in out


async def test_read_write_turtle(tmp_path: Path) -> None:
    port = free_port()
    seed_open_storage(tmp_path, "sandbox")
    with server("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(tmp_path)) as proc:
        base = f"http://127.0.0.1:{port}/"
        await wait_up(base, proc)
        out = run_example("read_write_turtle.py", base + "sandbox/")
    assert '"al"' in out  # the patched nickname, as JSON-LD
    assert "ldp:contains" in out
    assert "profile" in out


async def test_dpop_client(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with server(
        "--port", str(port), "--host", "127.0.0.1", "--storage", "memory", "--password-cost", "10"
    ) as proc:
        await wait_up(base, proc)
        account = json.loads(
            run_cli(
                "account",
                "create",
                "--server",
                base,
                "--email",
                "eve@example.org",
                "--password",
                "long enough",
                "--pod",
                "eve",
            ).stdout
        )
        client = json.loads(
            run_cli(
                "client",
                "create",
                "--server",
                base,
                "--email",
                "eve@example.org",
                "--password",
                "long enough",
                "--webid",
                account["webId"],
                "--name",
                "example",
            ).stdout
        )
        out = run_example(
            "dpop_client.py",
            base,
            client["clientId"],
            client["clientSecret"],
            base + "eve/notes/hello",
        )
    assert "Written with a DPoP-bound token" in out


def test_custom_backend() -> None:
    out = run_example("custom_backend.py", str(free_port()))
    assert "write /notes/ (text/turtle, 0 bytes)" in out
    assert "write /notes/today (text/turtle," in out
    assert "delete /notes/today" in out
