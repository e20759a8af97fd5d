"""The `kluis` program: options, environment, a real server process, graceful shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pod.cli import Progress, build_parser, command_parsers, main
from pod.config import Settings
from tests.support import free_port, seed_open_storage
from tests.support import wait_until_serving as wait_up

ROOT = Path(__file__).parents[1]


@contextmanager
def server(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pod", "serve", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def test_every_setting_is_a_serve_option() -> None:
    parser = build_parser()
    help_text = command_parsers(parser)["serve"].format_help()
    for name in Settings.__dataclass_fields__:
        assert "--" + name.replace("_", "-") in help_text
        assert "KLUIS_" + name.upper() in help_text


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "serve" in capsys.readouterr().out


def test_bad_option_value_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--storage", "floppy"]) == 2
    assert "storage" in capsys.readouterr().err


def test_environment_and_options() -> None:
    s = Settings.load({"KLUIS_PORT": "4000", "KLUIS_FSYNC": "off"}, port=5000)
    assert s.port == 5000
    assert s.fsync is False
    assert s.base_url == "http://localhost:5000/"
    with pytest.raises(ValueError, match="KLUIS_PORT"):
        Settings.load({"KLUIS_PORT": "many"})


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    port = free_port()
    data = tmp_path / "data"
    seed_open_storage(data, "open")
    with server(
        env={"KLUIS_PORT": str(port), "KLUIS_DATA_DIR": str(data), "KLUIS_HOST": "127.0.0.1"}
    ) as proc:
        await wait_up(f"http://127.0.0.1:{port}/", proc)
        yield f"http://127.0.0.1:{port}/open/", data / "open", proc


async def test_server_process_stores_files(
    running: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    base, data, _ = running
    async with (
        aiohttp.ClientSession() as s,
        s.put(base + "notes/a.txt", data=b"hello", headers={"Content-Type": "text/plain"}) as r,
    ):
        assert r.status == 201
        assert r.headers["Location"] == base + "notes/a.txt"
    assert (data / "notes" / "a.txt").read_bytes() == b"hello"


async def test_sigterm_lets_in_flight_requests_finish(
    running: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    base, data, proc = running

    async def slow_body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000
            await asyncio.sleep(0.1)

    async with aiohttp.ClientSession() as s:
        upload = asyncio.create_task(
            s.put(
                base + "slow.bin",
                data=slow_body(),
                headers={"Content-Type": "application/octet-stream"},
            )
        )
        await asyncio.sleep(0.35)  # the request is in flight, its body half sent
        proc.send_signal(signal.SIGTERM)
        response = await upload
        assert response.status == 201
        response.release()
    assert proc.wait(timeout=15) == 0
    assert (data / "slow.bin").read_bytes() == b"x" * 10_000
    assert not [p for p in data.iterdir() if p.name.startswith(".kluis~tmp~")]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pod", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def account_with_client(base: str, name: str) -> dict[str, Any]:
    """An account with the pod `name` on the server at `base`, made with `kluis account create`,
    and client credentials acting as its WebID (`kluis client create`): both answers merged."""
    login = ("--server", base, "--email", f"{name}@example.org", "--password", "long enough")
    account = json.loads(run_cli("account", "create", *login, "--pod", name).stdout)
    client = json.loads(
        run_cli("client", "create", *login, "--webid", account["webId"], "--name", name).stdout
    )
    return {**account, **client}


async def test_account_and_client_commands(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with server(
        "--port", str(port), "--host", "127.0.0.1", "--storage", "memory", "--password-cost", "10"
    ) as proc:
        await wait_up(base, proc)
        done = run_cli(
            "account",
            "create",
            "--server",
            base,
            "--email",
            "ann@example.org",
            "--pod",
            "ann",
            env={"KLUIS_PASSWORD": "a long password"},
        )
        assert done.returncode == 0, done.stderr
        account = json.loads(done.stdout)
        assert account["webId"] == base + "ann/profile/card#me"
        assert account["podRoot"] == base + "ann/"
        assert account["issuer"] == base
        done = run_cli(
            "client",
            "create",
            "--server",
            base,
            "--email",
            "ann@example.org",
            "--password",
            "a long password",
            "--webid",
            account["webId"],
            "--name",
            "script",
        )
        assert done.returncode == 0, done.stderr
        client = json.loads(done.stdout)
        assert client["clientId"].startswith("kluis-cc-")
        assert client["webId"] == account["webId"]
        assert client["issuer"] == base
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                base + ".oidc/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client["clientId"],
                    "client_secret": client["clientSecret"],
                },
            ) as r,
        ):
            assert r.status == 200
        # a clear error, not a traceback
        done = run_cli(
            "client",
            "create",
            "--server",
            base,
            "--email",
            "ann@example.org",
            "--password",
            "wrong password",
            "--webid",
            account["webId"],
            "--name",
            "x",
        )
        assert done.returncode == 1
        assert "wrong e-mail address or password" in done.stderr
        assert "Traceback" not in done.stderr
    done = run_cli(
        "account", "create", "--server", base, "--email", "x@example.org", "--password", "whatever!"
    )
    assert done.returncode == 1
    assert "is it running?" in done.stderr


async def test_rotate_keys(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    args = ("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(tmp_path))
    with server(*args) as proc:  # creates the first signing key
        await wait_up(base, proc)
    done = run_cli("idp", "rotate-keys", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["published"] == 2
    with server(*args) as proc:
        await wait_up(base, proc)
        async with aiohttp.ClientSession() as s, s.get(base + ".oidc/jwks") as r:
            assert len((await r.json())["keys"]) == 2
    done = run_cli("idp", "rotate-keys", "--data-dir", str(tmp_path / "nothing"))
    assert done.returncode == 1


async def test_fresh_server_says_where_to_sign_up(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pod",
        "serve",
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--data-dir",
        str(tmp_path),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any("sign up at" in line for line in lines):
                lines.append((await proc.stderr.readline()).decode())
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.communicate()
    assert any(f"sign up at {base}.account/signup" in line for line in lines)


async def test_admin_commands(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    data = tmp_path / "data"
    args = ("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(data))
    with server(*args, "--fsync", "off", "--password-cost", "10") as proc:
        await wait_up(base, proc)
        ann = account_with_client(base, "ann")
        login = ("--server", base, "--email", "ann@example.org", "--password", "long enough")

        def admin(*command: str) -> subprocess.CompletedProcess[str]:
            return run_cli("admin", "--server", base, "--data-dir", str(data), *command)

        done = admin("accounts", "--json")
        assert done.returncode == 0, done.stderr
        [account] = json.loads(done.stdout)["accounts"]
        assert account["email"] == "ann@example.org"
        assert account["disabled"] is False
        [pod] = account["pods"]
        assert (pod["name"], pod["webId"], pod["quota"]) == ("ann", ann["webId"], None)
        assert pod["used"] > 0
        table = admin("accounts").stdout.splitlines()
        assert table[0].split() == ["E-MAIL", "CREATED", "STATE", "POD", "USED", "QUOTA"]
        assert table[1].split()[:4] == ["ann@example.org", account["created"][:10], "active", "ann"]
        assert table[1].split()[-1] == "none"

        # A quota in people's units; none; back to the setting; a recount.
        quota = json.loads(admin("quota", "ann", "500M").stdout)
        assert quota["quota"] == 500_000_000
        assert json.loads(admin("quota", "ann", "1.5GiB").stdout)["quota"] == 3 * 2**29
        assert admin("accounts").stdout.splitlines()[1].endswith(" 1.6 GB")
        assert json.loads(admin("quota", "ann", "none").stdout)["quota"] is None
        assert json.loads(admin("quota", "ann", "default", "--recount").stdout) == {
            "name": "ann",
            "root": base + "ann/",
            "used": pod["used"],
            "quota": None,
        }
        done = admin("quota", "nobody", "2G")
        assert (done.returncode, "no pod named 'nobody'" in done.stderr) == (1, True)
        done = admin("quota", "ann")
        assert (done.returncode, "or --recount" in done.stderr) == (1, True)
        done = admin("quota", "ann", "lots")
        assert done.returncode == 2
        assert "not a size" in done.stderr

        # Disabled: its log-in is refused with the reason; enabled again, it works.
        assert json.loads(admin("disable", "ann@example.org").stdout)["disabled"] is True
        done = run_cli("client", "create", *login, "--webid", ann["webId"], "--name", "x")
        assert done.returncode == 1
        assert "disabled by the operator" in done.stderr
        assert json.loads(admin("accounts", "--json").stdout)["accounts"][0]["disabled"] is True
        assert json.loads(admin("enable", "ann@example.org").stdout)["disabled"] is False
        done = run_cli("client", "create", *login, "--webid", ann["webId"], "--name", "x")
        assert done.returncode == 0, done.stderr
        done = admin("disable", "nobody@example.org")
        assert done.returncode == 1
        assert "no account has that e-mail address" in done.stderr

        # A one-time reset link, whose page offers the form.
        made = json.loads(admin("reset-link", "ann@example.org").stdout)
        assert made["link"].startswith(base + ".account/reset?token=")
        async with aiohttp.ClientSession() as s, s.get(made["link"]) as r:
            assert r.status == 200
            assert 'name="repeat"' in await r.text()

        # Only the server's token will do, and the command says what is wrong.
        wrong = tmp_path / "wrong-token"
        wrong.write_text("not the token\n")
        done = run_cli("admin", "--server", base, "--token-file", str(wrong), "accounts")
        assert done.returncode == 1
        assert "refused the admin token" in done.stderr
        done = run_cli("admin", "--server", base, "--data-dir", str(tmp_path), "accounts")
        assert done.returncode == 1
        assert "cannot read the admin token" in done.stderr
        assert "Traceback" not in done.stderr


async def test_export_and_import_commands(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with server(
        "--port", str(port), "--host", "127.0.0.1", "--storage", "memory", "--password-cost", "10"
    ) as proc:
        await wait_up(base, proc)
        login = ("--server", base, "--email", "eve@example.org", "--password", "long enough")
        done = run_cli("account", "create", *login, "--pod", "eve")
        assert done.returncode == 0, done.stderr
        output = tmp_path / "eve.tar.gz"
        done = run_cli("export", *login, "--pod", "eve", "--output", str(output))
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["bytes"] == output.stat().st_size > 0
        assert answer["dataBytes"] > 0
        assert not (tmp_path / "eve.tar.gz.part").exists()
        assert "\r" not in done.stderr  # no progress line: stderr is not a terminal
        done = run_cli("import", *login, "--pod", "eve2", "--input", str(output))
        assert done.returncode == 0, done.stderr
        imported = json.loads(done.stdout)
        assert imported["created"] is True
        assert imported["renamed"] is True
        assert imported["podRoot"] == base + "eve2/"
        async with aiohttp.ClientSession() as s, s.get(base + "eve2/profile/card") as r:
            assert r.status == 200  # public, as the original's
        done = run_cli("import", *login, "--pod", "eve", "--input", str(output))
        assert done.returncode == 1
        assert "(409)" in done.stderr
        assert "Traceback" not in done.stderr
        done = run_cli("export", *login, "--pod", "nobody", "--output", str(tmp_path / "x"))
        assert done.returncode == 1
        assert "(404)" in done.stderr
        assert not (tmp_path / "x").exists()


async def test_import_takes_back_an_erased_name_with_its_reclaim_code(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with server(
        "--port", str(port), "--host", "127.0.0.1", "--storage", "memory", "--password-cost", "10"
    ) as proc:
        await wait_up(base, proc)
        login = ("--server", base, "--email", "eve@example.org", "--password", "long enough")
        done = run_cli("account", "create", *login, "--pod", "eve")
        assert done.returncode == 0, done.stderr
        output = tmp_path / "eve.tar.gz"
        done = run_cli("export", *login, "--pod", "eve", "--output", str(output))
        assert done.returncode == 0, done.stderr
        done = run_cli("account", "delete", *login)
        assert done.returncode == 0, done.stderr
        code = json.loads(done.stdout)["reclaimCode"]
        done = run_cli("account", "create", *login)
        assert done.returncode == 0, done.stderr
        done = run_cli("import", *login, "--pod", "eve", "--input", str(output))
        assert done.returncode == 1
        assert "(409)" in done.stderr
        assert "reclaim code" in done.stderr
        done = run_cli("import", *login, "--pod", "eve", "--input", str(output), "--reclaim", code)
        assert done.returncode == 0, done.stderr
        imported = json.loads(done.stdout)
        assert imported["created"] is True
        assert imported["renamed"] is False
        async with aiohttp.ClientSession() as s, s.get(base + "eve/profile/card") as r:
            assert r.status == 200  # no longer 410: the hold ended with the import


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_line_is_drawn_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = Progress("exporting eve", 4_000_000)
    progress.show(1_000_000)
    progress.show(4_100_000, last=True)  # the archive's headers come on top of the data
    assert terminal.getvalue() == (
        "\rexporting eve: 1.0 MB of 4.0 MB (25%)\rexporting eve: 4.1 MB of 4.0 MB (100%)\n"
    )
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    Progress("exporting eve", 4_000_000).show(1_000_000, last=True)
    assert piped.getvalue() == ""


async def test_account_delete_erases_one_pod_then_the_account(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with server(
        "--port", str(port), "--host", "127.0.0.1", "--storage", "memory", "--password-cost", "10"
    ) as proc:
        await wait_up(base, proc)
        login = ("--server", base, "--email", "del@example.org", "--password", "long enough")
        assert run_cli("account", "create", *login, "--pod", "del-one").returncode == 0
        async with aiohttp.ClientSession() as s:
            token_answer = await s.post(
                base + ".account/api/login",
                json={"email": "del@example.org", "password": "long enough"},
            )
            token = (await token_answer.json())["token"]
            made = await s.post(
                base + ".account/api/pods",
                json={"name": "del-two"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert made.status == 201
        done = run_cli(
            "account", "delete", *login[:4], "--password", "wrong one", "--pod", "del-one"
        )
        assert done.returncode == 1
        assert "wrong e-mail address or password" in done.stderr  # nothing erased
        done = run_cli("account", "delete", *login, "--pod", "del-one")
        assert done.returncode == 0, done.stderr
        erased = json.loads(done.stdout)
        assert erased["receipt"]["scope"] == "pod"
        assert erased["receipt"]["pods"] == 1
        assert erased["reclaimCode"]
        async with aiohttp.ClientSession() as s:
            async with s.get(base + "del-one/") as r:
                assert r.status == 410
            async with s.get(base + "del-two/profile/card") as r:
                assert r.status == 200  # the other pod stays, and the account
        done = run_cli("account", "delete", *login)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["receipt"]["scope"] == "account"
        async with aiohttp.ClientSession() as s, s.get(base + "del-two/profile/card") as r:
            assert r.status == 410
        done = run_cli("account", "delete", *login)
        assert done.returncode == 1
        assert "wrong e-mail address or password" in done.stderr


async def test_admin_erase_takes_a_pod_then_the_account_without_its_password(
    tmp_path: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    data = tmp_path / "data"
    args = ("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(data))
    with server(*args, "--fsync", "off", "--password-cost", "10") as proc:
        await wait_up(base, proc)
        login = ("--server", base, "--email", "bea@example.org", "--password", "long enough")
        assert run_cli("account", "create", *login, "--pod", "bea-one").returncode == 0
        async with aiohttp.ClientSession() as s:
            answer = await s.post(
                base + ".account/api/login",
                json={"email": "bea@example.org", "password": "long enough"},
            )
            token = (await answer.json())["token"]
            made = await s.post(
                base + ".account/api/pods",
                json={"name": "bea-two"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert made.status == 201

        def admin(*command: str) -> subprocess.CompletedProcess[str]:
            return run_cli("admin", "--server", base, "--data-dir", str(data), *command)

        done = admin("erase", "bea@example.org", "--pod", "bea-two")
        assert done.returncode == 0, done.stderr
        erased = json.loads(done.stdout)
        assert (erased["receipt"]["scope"], erased["receipt"]["pods"]) == ("pod", 1)
        assert erased["reclaimCode"]
        [account] = json.loads(admin("accounts", "--json").stdout)["accounts"]
        assert [pod["name"] for pod in account["pods"]] == ["bea-one"]
        async with aiohttp.ClientSession() as s:
            async with s.get(base + "bea-two/profile/card") as r:
                assert r.status == 410
            async with s.get(base + "bea-one/profile/card") as r:
                assert r.status == 200  # the other pod stays

        done = admin("erase", "bea@example.org")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["receipt"]["scope"] == "account"
        assert json.loads(admin("accounts", "--json").stdout)["accounts"] == []
        async with aiohttp.ClientSession() as s, s.get(base + "bea-one/profile/card") as r:
            assert r.status == 410
        webid = base + "bea-one/profile/card#me"
        done = run_cli("client", "create", *login, "--webid", webid, "--name", "x")
        assert done.returncode == 1  # its log-in is gone with it
        done = admin("erase", "bea@example.org")
        assert done.returncode == 1
        assert "no account has that e-mail address" in done.stderr
        assert "Traceback" not in done.stderr
    # Nothing in the data directory names the account any more.
    for path in data.rglob("*"):
        if path.is_file():
            assert b"bea@example.org" not in path.read_bytes(), path
