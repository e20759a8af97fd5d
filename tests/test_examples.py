"""Every script in examples/ runs against a real server and does what its docstring says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import seed_open_storage
from tests.test_cli import free_port, server, wait_up

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
