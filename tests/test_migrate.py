"""Moving a data directory to another base URL: real `kluis` processes over HTTP.

A server moved to another port (or host, or behind a TLS proxy) refuses to start until
`kluis migrate` has moved its state; then the pods made on the old base URL work on the new one:
public profiles, the owner's own token, private documents, writes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import rdflib

from pod.migrate import BaseUrlChanged, check_base_url, served_at
from pod.storage.kv import FileKeyValueStore
from tests.support import free_port, stop_process
from tests.support import wait_until_serving as wait_up
from tests.test_cli import run_cli, server

PASSWORD = "a long password"
SOLID = rdflib.Namespace("http://www.w3.org/ns/solid/terms#")
PIM = rdflib.Namespace("http://www.w3.org/ns/pim/space#")
ME = rdflib.URIRef("#me")

pytestmark = pytest.mark.slow


def options(data: Path, port: int, *extra: str) -> list[str]:
    return [
        "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data),
        "--password-cost", "10", "--allow-bearer", "true", *extra,
    ]  # fmt: skip


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` by relative path, as a digest of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def private(path: Path) -> bool:
    return path.stat().st_mode & 0o077 == 0


async def token(s: aiohttp.ClientSession, base: str, client: dict[str, Any]) -> dict[str, str]:
    async with s.post(
        base + ".oidc/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["clientId"],
            "client_secret": client["clientSecret"],
        },
    ) as r:
        assert r.status == 200, await r.text()
        return {"Authorization": "Bearer " + (await r.json())["access_token"]}


async def profile(s: aiohttp.ClientSession, card: str) -> rdflib.Graph:
    async with s.get(card, headers={"Accept": "text/turtle"}) as r:
        assert r.status == 200, await r.text()
        return rdflib.Graph().parse(data=await r.text(), format="turtle", publicID=card)


async def test_pods_made_on_one_base_url_work_on_another(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = free_port()
    old = f"http://127.0.0.1:{first}/"
    with server(*options(data, first)) as proc:
        await wait_up(old, proc)
        done = run_cli(
            "account", "create", "--server", old, "--email", "ann@example.org", "--pod", "ann",
            env={"KLUIS_PASSWORD": PASSWORD},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        done = run_cli(
            "client", "create", "--server", old, "--email", "ann@example.org",
            "--webid", old + "ann/profile/card#me", "--name", "scripts",
            env={"KLUIS_PASSWORD": PASSWORD},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        client = json.loads(done.stdout)
        async with aiohttp.ClientSession() as s:
            auth = await token(s, old, client)
            async with s.put(
                old + "ann/notes/n",
                data="<#it> <http://xmlns.com/foaf/0.1/maker> </ann/profile/card#me> .",
                headers={**auth, "Content-Type": "text/turtle"},
            ) as r:
                assert r.status == 201, await r.text()
        stop_process(proc)
    # What the server wrote itself names its own resources relatively.
    card_file = (data / "ann" / "profile" / "card").read_text()
    assert "127.0.0.1" not in card_file
    assert "127.0.0.1" not in (data / "ann" / ".acl").read_text()

    second = free_port()
    new = f"http://127.0.0.1:{second}/"
    # Started elsewhere, it says what to run instead of locking every pod.
    with server(*options(data, second)) as proc:
        assert proc.wait(timeout=60) == 1
        assert proc.stderr is not None
        said = proc.stderr.read().decode()
        assert f"was served at {old}, not {new}" in said
        assert "kluis migrate" in said
        assert "Traceback" not in said

    before = snapshot(data)
    dry = run_cli("migrate", *options(data, second), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert (plan["dryRun"], plan["from"], plan["to"]) == (True, old, new)
    assert any(r.startswith("accounts: ") for r in plan["records"])
    assert any(r.startswith("credentials: ") for r in plan["records"])
    assert "/ann/" in plan["storageOwners"]
    assert plan["backup"] is None
    assert snapshot(data) == before  # a dry run writes nothing

    done = run_cli("migrate", *options(data, second))
    assert done.returncode == 0, done.stderr
    backup = Path(json.loads(done.stdout)["backup"])
    assert backup.parent == data.parent
    assert snapshot(backup) == before
    assert private(backup)
    again = run_cli("migrate", *options(data, second), "--dry-run")
    assert json.loads(again.stdout)["records"] == []  # nothing left to move

    with server(*options(data, second)) as proc:
        await wait_up(new, proc)
        async with aiohttp.ClientSession() as s:
            graph = await profile(s, new + "ann/profile/card")
            webid = rdflib.URIRef(new + "ann/profile/card#me")
            assert graph.value(webid, SOLID.oidcIssuer) == rdflib.URIRef(new)
            assert graph.value(webid, PIM.storage) == rdflib.URIRef(new + "ann/")
            # The owner's credentials still act as the (moved) WebID, with Control of the pod.
            auth = await token(s, new, client)
            async with s.get(new + "ann/notes/n", headers={**auth, "Accept": "text/turtle"}) as r:
                assert r.status == 200, await r.text()
                note = rdflib.Graph().parse(
                    data=await r.text(), format="turtle", publicID=new + "ann/notes/n"
                )
            assert (rdflib.URIRef(new + "ann/notes/n#it"), None, webid) in note
            async with s.put(
                new + "ann/notes/m",
                data="<#a> <#b> 1 .",
                headers={**auth, "Content-Type": "text/turtle"},
            ) as r:
                assert r.status == 201, await r.text()
            async with s.get(new + "ann/notes/n") as r:
                assert r.status == 401  # still private to anyone else
        stop_process(proc)

    # A move to another path rewrites the documents too.
    moved = f"http://127.0.0.1:{second}/pods/"
    done = run_cli("migrate", *options(data, second, "--base-url", moved))
    assert done.returncode == 0, done.stderr
    assert "/ann/notes/n" in json.loads(done.stdout)["documents"]
    with server(*options(data, second, "--base-url", moved)) as proc:
        await wait_up(moved, proc)
        async with aiohttp.ClientSession() as s:
            graph = await profile(s, moved + "ann/profile/card")
            webid = rdflib.URIRef(moved + "ann/profile/card#me")
            assert graph.value(webid, PIM.storage) == rdflib.URIRef(moved + "ann/")
            auth = await token(s, moved, client)
            async with s.get(moved + "ann/notes/n", headers=auth) as r:
                assert r.status == 200, await r.text()
                assert "</pods/ann/profile/card#me>" in await r.text()


def test_migrate_without_state_says_so(tmp_path: Path) -> None:
    done = run_cli("migrate", "--data-dir", str(tmp_path / "empty"), "--port", "4000")
    assert done.returncode == 1
    assert "nothing to move" in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_data_directory_from_before_the_record_is_known_by_its_webids(
    tmp_path: Path,
) -> None:
    kv = FileKeyValueStore(tmp_path)
    await kv.put(
        "accounts",
        "a1",
        {
            "email": "ann@example.org",
            "password_hash": "scrypt$15$8$1$AA$AA",
            "created": 1.0,
            "pods": ["ann"],
            "webids": ["https://old.example/ann/profile/card#me"],
        },
    )
    assert await served_at(kv) == "https://old.example/"
    with pytest.raises(BaseUrlChanged, match="kluis migrate"):
        await check_base_url(kv, "https://new.example/")
    await check_base_url(kv, "https://old.example/")  # recorded now
    assert await served_at(kv) == "https://old.example/"
