"""Per-pod quotas (issue 15 §5): 507 with a clear message and nothing stored, deletes free room,
concurrent writers never over-commit, consent/ is never refused, the counter is always the sum
of what is stored, and an unclean stop is counted again. Over real HTTP, on both backends."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.web import Application
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pod.app import create_app
from pod.config import Settings
from pod.http.keys import ACCOUNTS, QUOTAS
from pod.ldp.quotas import Quotas, amount
from pod.storage.base import Backend
from pod.storage.kv import MemoryKeyValueStore
from tests.conftest import POD, url
from tests.support import (
    CLIENT_ID,
    Agent,
    PodClient,
    TestIssuer,
    free_port,
    kluis_process,
    seed_open_storage,
    stop_process,
    wait_until_serving,
)

QUOTA = 20_000
BYTES = {"Content-Type": "application/octet-stream"}
TURTLE = {"Content-Type": "text/turtle"}
N3 = {"Content-Type": "text/n3"}
OWNER_APP = "https://owner-app.example/id"  # the vault takes the owner's decisions from it


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, pod_quota_bytes=QUOTA)


@pytest.fixture
def alice(issuer: TestIssuer) -> Agent:
    """The owner of /pod/, signed in through her own app (the vault refuses an app's decisions
    about itself)."""
    owner = Agent(issuer, "alice")
    owner.token = issuer.mint(webid=owner.webid, jkt=owner.jkt, client_id=OWNER_APP)
    return owner


async def stored(app: Application, root: str = POD) -> dict[str, tuple[int, str]]:
    """Size and version of everything in the pod at `root`, walked in the backend itself."""
    backend: Backend = app[QUOTAS].backend
    top = await backend.stat(root)
    assert top is not None
    found = {root: (top.size, top.version)}
    pending = [root]
    while pending:
        for child in await backend.children(pending.pop()):
            found[child.path] = (child.size, child.version)
            if child.is_container:
                pending.append(child.path)
    return found


async def stored_bytes(app: Application, root: str = POD) -> int:
    return sum(size for size, _ in (await stored(app, root)).values())


async def left(app: Application) -> int:
    used, limit = await app[QUOTAS].usage(POD)
    assert used == await stored_bytes(app)
    return limit - used


def patch_inserting(text: str) -> str:
    return (
        "@prefix solid: <http://www.w3.org/ns/solid/terms#>. "
        f'_:p a solid:InsertDeletePatch; solid:inserts {{ <#s> <#p> "{text}" }}.'
    )


def test_amounts_read_as_people_write_them() -> None:
    assert amount(0) == "0 bytes"
    assert amount(1) == "1 byte"
    assert amount(999) == "999 bytes"
    assert amount(1_000) == "1 kB"
    assert amount(1_234_567) == "1.2 MB"
    assert amount(1_234_567, point=",") == "1,2 MB"
    assert amount(100_000_000) == "100 MB"
    assert amount(999_960_000) == "1 GB"
    assert amount(12_300_000_000_000) == "12.3 TB"


@pytest.mark.parametrize("method", ["PUT", "POST", "PATCH"])
async def test_a_write_past_the_quota_is_507_and_stores_nothing(
    client: PodClient, app: Application, method: str
) -> None:
    assert (await client.put(POD + "notes", data="<#a> <#b> <#c> .", headers=TURTLE)).status == 201
    room = await left(app)
    before = await stored(app)
    if method == "PUT":
        r = await client.put(POD + "big.bin", data=b"x" * (room + 1), headers=BYTES)
    elif method == "POST":
        r = await client.post(POD, data=b"x" * (room + 1), headers=BYTES)
    else:
        r = await client.patch(POD + "notes", data=patch_inserting("y" * room), headers=N3)
    assert r.status == 507, await r.text()
    detail = (await r.json())["detail"]
    assert detail.endswith(f"; the pod {POD} has {amount(room)} left of its {amount(QUOTA)} quota")
    if method != "PATCH":  # the patched document's growth is the new triple's, not its text's
        assert detail.startswith(f"this write needs {amount(room + 1)} more;")
    assert await stored(app) == before  # not a byte, not a version
    assert await left(app) == room
    # Exactly what is left still fits.
    if method == "PATCH":
        r = await client.put(POD + "fits.bin", data=b"x" * room, headers=BYTES)
    else:
        r = await client.put(POD + "big.bin", data=b"x" * room, headers=BYTES)
    assert r.status == 201, await r.text()
    assert await left(app) == 0


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_a_refused_write_leaves_no_container_behind(
    client: PodClient, app: Application, method: str
) -> None:
    """A write into containers that do not exist yet is refused before they are made."""
    room = await left(app)
    before = await stored(app)
    target = POD + "new/deeper/doc"
    if method == "PUT":
        r = await client.put(target, data=b"x" * (room + 1), headers=BYTES)
    else:
        r = await client.patch(target, data=patch_inserting("y" * room), headers=N3)
    assert r.status == 507, await r.text()
    assert await stored(app) == before  # no new/ nor new/deeper/
    assert (await client.get(POD + "new/")).status == 404


async def test_a_delete_frees_room_and_a_smaller_replacement_is_always_allowed(
    client: PodClient, app: Application
) -> None:
    room = await left(app)
    assert (await client.put(POD + "a.bin", data=b"a" * (room - 100), headers=BYTES)).status == 201
    assert (await client.put(POD + "b.bin", data=b"b" * 101, headers=BYTES)).status == 507
    # Full to the byte, a replacement that shrinks still goes through.
    assert (await client.put(POD + "c.bin", data=b"c" * 100, headers=BYTES)).status == 201
    assert await left(app) == 0
    assert (await client.put(POD + "c.bin", data=b"c" * 40, headers=BYTES)).status == 204
    assert await left(app) == 60
    assert (await client.delete(POD + "a.bin")).status == 204
    assert await left(app) == room - 40
    assert (await client.put(POD + "b.bin", data=b"b" * 101, headers=BYTES)).status == 201
    assert await left(app) == room - 141


async def test_concurrent_writers_never_pass_the_quota(client: PodClient, app: Application) -> None:
    room = await left(app)
    size = room // 10 + 7  # ten fit only if the counter lets more in than it should
    responses = await asyncio.gather(
        *(client.put(f"{POD}w/{i}.bin", data=b"w" * size, headers=BYTES) for i in range(32))
    )
    statuses = [r.status for r in responses]
    assert set(statuses) == {201, 507}
    # Each holds `size` bytes; the container they share holds none of its own.
    assert statuses.count(201) == room // size
    used, limit = await app[QUOTAS].usage(POD)
    assert used == await stored_bytes(app)
    assert used <= limit


async def test_consent_writes_are_counted_but_never_refused(
    client: PodClient, app: Application, bob: Agent
) -> None:
    doc = POD + "prefs/topics"
    assert (await client.put(doc, data="<#t> <#is> 'jazz' .", headers=TURTLE)).status == 201
    room = await left(app)
    assert (await client.put(POD + "full.bin", data=b"f" * room, headers=BYTES)).status == 201
    assert (await client.put(POD + "one.bin", data=b"1", headers=BYTES)).status == 507
    until = datetime.fromtimestamp(time.time() + 600, UTC).isoformat().replace("+00:00", "Z")
    grant = {
        "recipient": bob.webid,
        "client": CLIENT_ID,
        "resources": [url(doc)],
        "modes": ["read"],
        "purposes": ["https://w3id.org/dpv#ProvidePersonalisedRecommendations"],
        "expires": until,
    }
    r = await client.post("/.kluis/consent/pod/grants", json=grant)
    assert r.status == 201, await r.text()
    given_grant = await r.json()
    assert (await client.get(doc, as_agent=bob)).status == 200
    # GDPR Art. 7(3): withdrawing consent is as easy as giving it, full pod or not.
    api = "/" + given_grant["api"].split("/", 3)[3]
    r = await client.post(api, json={"action": "withdraw"})
    assert r.status == 200, await r.text()
    assert (await client.get(doc, as_agent=bob)).status == 403
    used, limit = await app[QUOTAS].usage(POD)
    assert used == await stored_bytes(app)
    assert used > limit  # counted all the same
    assert (await client.put(POD + "one.bin", data=b"1", headers=BYTES)).status == 507


async def test_an_operators_limit_overrides_the_setting_and_is_kept(
    client: PodClient, app: Application
) -> None:
    quotas = app[QUOTAS]
    used, _ = await quotas.usage(POD)
    await quotas.set_limit(POD, used + 10)
    assert await quotas.limit(POD) == used + 10
    assert (await client.put(POD + "a.bin", data=b"a" * 11, headers=BYTES)).status == 507
    assert (await client.put(POD + "a.bin", data=b"a" * 10, headers=BYTES)).status == 201
    await quotas.set_limit(POD, None)  # no limit at all, whatever the setting
    assert await quotas.limit(POD) == 0
    r = await client.put(POD + "b.bin", data=b"b" * (QUOTA + 1), headers=BYTES)
    assert r.status == 201, await r.text()
    assert (await quotas.usage(POD))[1] == 0
    # Kept in the key-value store: another counter over the same records reads it.
    kv = app[ACCOUNTS].kv
    again = Quotas(quotas.backend, kv, quotas.storages, default_limit=QUOTA)
    assert await again.limit(POD) == 0
    await quotas.set_limit(POD, 5_000_000)
    assert await Quotas(quotas.backend, kv, quotas.storages).limit(POD) == 5_000_000
    await quotas.use_default_limit(POD)
    assert await quotas.limit(POD) == QUOTA
    assert (await client.put(POD + "c.bin", data=b"c", headers=BYTES)).status == 507
    with pytest.raises(ValueError, match="negative"):
        await quotas.set_limit(POD, -1)


async def test_a_recount_finds_what_changed_behind_the_counters_back(
    client: PodClient, app: Application
) -> None:
    quotas = app[QUOTAS]
    assert (await client.put(POD + "a.bin", data=b"a" * 500, headers=BYTES)).status == 201
    # Written into the backend itself, as a restored backup would be: the counter cannot know.
    await quotas.backend.write(POD + "b.bin", b"b" * 700, content_type="application/x-thing")
    used, _ = await quotas.usage(POD)
    assert used == await stored_bytes(app) - 700
    assert await quotas.recount(POD) == await stored_bytes(app)
    assert (await quotas.usage(POD))[0] == await stored_bytes(app)
    assert (await client.put(POD + "a.bin", data=b"a", headers=BYTES)).status == 204
    assert (await quotas.usage(POD))[0] == await stored_bytes(app)


async def test_a_fresh_start_trusts_a_clean_record_and_counts_an_unclean_one(
    client: PodClient, app: Application
) -> None:
    quotas = app[QUOTAS]
    assert (await client.put(POD + "a.bin", data=b"a" * 300, headers=BYTES)).status == 201
    kv = MemoryKeyValueStore()
    first = Quotas(quotas.backend, kv, quotas.storages)
    exact = await stored_bytes(app)
    assert (await first.usage(POD))[0] == exact  # no record: counted
    await first.close()
    record = await kv.get("usage", POD)
    assert record is not None
    assert (record["used"], record["clean"]) == (exact, True)
    # A clean record is believed as it is (here: one that says 1 byte).
    await kv.put("usage", POD, {"used": 1, "clean": True, "counted_at": time.time()})
    assert (await Quotas(quotas.backend, kv, quotas.storages).usage(POD))[0] == 1
    # An unclean one is counted again.
    await kv.put("usage", POD, {"used": 1, "clean": False, "counted_at": time.time()})
    assert (await Quotas(quotas.backend, kv, quotas.storages).usage(POD))[0] == exact


# --- random writes and deletes: the counter is always the sum of what is stored --------------

_DOCUMENTS = ("a.bin", "b.bin", "d/e.bin", "d/f/g.bin", "t")
_CONTAINERS = ("d/", "d/f/", "h/")
_Step = tuple[str, str, int]


def _steps() -> st.SearchStrategy[list[_Step]]:
    size = st.integers(min_value=0, max_value=4_000)
    step = st.one_of(
        st.tuples(st.just("PUT"), st.sampled_from(_DOCUMENTS), size),
        st.tuples(st.just("PUT"), st.sampled_from(_CONTAINERS), st.integers(0, 2)),
        st.tuples(st.just("POST"), st.sampled_from(("", "d/", "h/")), size),
        st.tuples(st.just("PATCH"), st.sampled_from(("t", "d/t", "h/")), st.integers(0, 600)),
        st.tuples(st.just("DELETE"), st.sampled_from(_DOCUMENTS + _CONTAINERS), st.just(0)),
    )
    return st.lists(step, min_size=1, max_size=12)


def _generated(count: int) -> list[list[_Step]]:
    found: list[list[_Step]] = []

    @hypothesis_settings(max_examples=count, database=None, deadline=None)
    @given(_steps())
    def collect(steps: list[_Step]) -> None:
        found.append(steps)

    collect()
    return found


async def _send(client: PodClient, where: str, step: _Step) -> int:
    method, name, size = step
    path = where + name
    if method == "PUT" and name.endswith("/"):
        body = "" if size == 0 else f"<> <http://purl.org/dc/terms/title> '{'c' * 40 * size}' ."
        return (await client.put(path, data=body, headers=TURTLE)).status
    if method == "PUT":
        return (await client.put(path, data=b"p" * size, headers=BYTES)).status
    if method == "POST":
        return (await client.post(path, data=b"q" * size, headers=BYTES)).status
    if method == "PATCH":
        text = "r" * size
        if name.endswith("/"):  # a container's own description
            return (
                await client.patch(
                    path,
                    data=(
                        "@prefix solid: <http://www.w3.org/ns/solid/terms#>. _:p a "
                        "solid:InsertDeletePatch; solid:inserts "
                        f"{{ <> <http://purl.org/dc/terms/title> '{text}' }}."
                    ),
                    headers=N3,
                )
            ).status
        return (await client.patch(path, data=patch_inserting(text), headers=N3)).status
    return (await client.delete(path)).status


async def test_the_counter_is_always_the_sum_of_what_is_stored(
    client: PodClient, app: Application
) -> None:
    sequences = _generated(25)
    assert len(sequences) >= 15
    statuses: set[int] = set()
    for number, steps in enumerate(sequences):
        where = f"{POD}{number % 3}/"  # later sequences find the leftovers of earlier ones
        for step in steps:
            status = await _send(client, where, step)
            assert status in (200, 201, 204, 404, 409, 415, 507), (step, status)
            statuses.add(status)
        used, limit = await app[QUOTAS].usage(POD)
        assert used == await stored_bytes(app), steps
        assert used <= limit
    assert {201, 204} <= statuses  # the sequences did write and replace
    # And a refusal, if the sequences happened to make none.
    assert (await _send(client, POD, ("PUT", "over.bin", QUOTA + 1))) == 507
    assert (await app[QUOTAS].usage(POD))[0] == await stored_bytes(app)


# --- an unclean stop: a real `kluis serve`, killed -----------------------------------------


def _on_disk(folder: Path) -> int:
    """What the file backend's metadata sizes add up to: every file a URL names, and each
    container's own description (`.kluis~self.ttl`); not its other layout files."""
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            if not name.startswith(".kluis~") or name == ".kluis~self.ttl":
                total += (Path(directory) / name).stat().st_size
    return total


async def test_a_restart_after_kill_9_counts_the_pod_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed_open_storage(data, "open")  # anyone may write there: no log-in needed
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    limit = 20_000
    options = ("--data-dir", str(data), "--pod-quota-bytes", str(limit), "--access-log", "false")

    async def put(session: aiohttp.ClientSession, name: str, size: int) -> tuple[int, str]:
        async with session.put(base + "open/" + name, data=b"z" * size, headers=BYTES) as r:
            return r.status, await r.text()

    logs = [tmp_path / f"kluis-{n}.log" for n in range(3)]
    async with aiohttp.ClientSession() as session:
        with kluis_process(port, logs[0], *options) as proc:
            await wait_until_serving(base, proc)
            assert (await put(session, "a.bin", 3_000))[0] == 201
            stop_process(proc)  # graceful: the counter is stored clean
        assert "counted /open/" in logs[0].read_text()  # it had no record yet
        with kluis_process(port, logs[1], *options) as proc:
            await wait_until_serving(base, proc)
            assert (await put(session, "b.bin", 4_000))[0] == 201
            proc.kill()  # kill -9 right after the write: no chance to store the counter
            proc.wait()
        assert "counted /open/" not in logs[1].read_text()  # the clean record was believed
        with kluis_process(port, logs[2], *options) as proc:
            await wait_until_serving(base, proc)
            room = limit - _on_disk(data / "open")
            # Had the stale record (from before b.bin) been believed, this would fit.
            status, text = await put(session, "c.bin", room + 1)
            assert status == 507, text
            assert f"has {amount(room)} left" in text
            assert (await put(session, "c.bin", room))[0] == 201
            assert (await put(session, "d.bin", 1))[0] == 507
            stop_process(proc)
        assert "counted /open/" in logs[2].read_text()


def test_a_negative_quota_is_refused() -> None:
    with pytest.raises(ValueError, match="pod_quota_bytes"):
        Settings(pod_quota_bytes=-1)
    app: Application = create_app(Settings(storage="memory", pod_quota_bytes=5))
    assert app[QUOTAS].default_limit == 5
