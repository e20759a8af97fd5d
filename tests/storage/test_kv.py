"""The KeyValueStore contract (pod/storage/kv.py), checked against every implementation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pod.storage.kv import FileKeyValueStore, KeyValueStore, MemoryKeyValueStore


@pytest.fixture(params=["memory", "file"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> KeyValueStore:
    if request.param == "memory":
        return MemoryKeyValueStore()
    return FileKeyValueStore(tmp_path / "kv")


async def test_a_record_comes_back_as_put_and_is_never_shared(kv: KeyValueStore) -> None:
    assert await kv.get("things", "a") is None
    record = {"n": 1, "list": [1, "two", None], "nested": {"ok": True}}
    await kv.put("things", "a", record)
    record["n"] = 2  # the caller's object is not the stored one ...
    got = await kv.get("things", "a")
    assert got == {"n": 1, "list": [1, "two", None], "nested": {"ok": True}}
    assert got is not None
    got["list"].append("x")  # ... and neither is what it gets back
    assert await kv.get("things", "a") == {"n": 1, "list": [1, "two", None], "nested": {"ok": True}}
    await kv.put("things", "a", {"n": 3})
    assert await kv.get("things", "a") == {"n": 3}


async def test_namespaces_are_apart(kv: KeyValueStore) -> None:
    await kv.put("one", "k", {"v": 1})
    await kv.put("two", "k", {"v": 2})
    assert await kv.get("one", "k") == {"v": 1}
    assert await kv.get("two", "k") == {"v": 2}
    assert await kv.delete("one", "k")
    assert await kv.get("one", "k") is None
    assert await kv.get("two", "k") == {"v": 2}
    assert await kv.items("three") == []


async def test_expired_records_are_gone_everywhere(kv: KeyValueStore) -> None:
    await kv.put("codes", "old", {"x": 1}, ttl=-1)
    await kv.put("codes", "new", {"x": 2}, ttl=60)
    assert await kv.get("codes", "old") is None
    assert [k for k, _ in await kv.items("codes")] == ["new"]
    assert await kv.take("codes", "old") is None
    # an expired record frees its key for put_new
    assert await kv.put_new("codes", "old", {"x": 3})
    assert await kv.get("codes", "old") == {"x": 3}


async def test_put_new_claims_a_key_once(kv: KeyValueStore) -> None:
    assert await kv.put_new("names", "alice", {"account": "1"})
    assert not await kv.put_new("names", "alice", {"account": "2"})
    assert await kv.get("names", "alice") == {"account": "1"}


async def test_take_removes_and_of_many_takers_one_wins(kv: KeyValueStore) -> None:
    await kv.put("codes", "c", {"code": 1})
    assert await kv.take("codes", "c") == {"code": 1}
    assert await kv.take("codes", "c") is None
    assert await kv.get("codes", "c") is None
    await kv.put("codes", "c", {"code": 2})
    taken = await asyncio.gather(*(kv.take("codes", "c") for _ in range(20)))
    assert [t for t in taken if t is not None] == [{"code": 2}]


async def test_of_many_claimants_one_wins(kv: KeyValueStore) -> None:
    won = await asyncio.gather(*(kv.put_new("names", "n", {"i": i}) for i in range(20)))
    assert won.count(True) == 1
    assert await kv.get("names", "n") == {"i": won.index(True)}


async def test_delete_says_whether_there_was_a_record(kv: KeyValueStore) -> None:
    assert not await kv.delete("things", "missing")
    await kv.put("things", "k", {})
    assert await kv.delete("things", "k")
    assert not await kv.delete("things", "k")


@pytest.fixture
def memory_and_file(tmp_path_factory: pytest.TempPathFactory) -> list[KeyValueStore]:
    return [MemoryKeyValueStore(), FileKeyValueStore(tmp_path_factory.mktemp("kv"))]


@given(key=st.text(min_size=1, max_size=300))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_any_key_is_a_key(memory_and_file: list[KeyValueStore], key: str) -> None:
    # Keys are WebIDs, e-mail addresses, client ids and hashes: slashes, dots, any Unicode.
    for kv in memory_and_file:
        await kv.put("keys", key, {"key": key})
        assert await kv.get("keys", key) == {"key": key}
        assert (key, {"key": key}) in await kv.items("keys")
        assert await kv.take("keys", key) == {"key": key}


def test_a_namespace_is_a_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="namespace"):
        FileKeyValueStore(tmp_path)._file("../escape", "k")


async def test_records_keep_their_expiry_when_replaced_under_another_key(tmp_path: Path) -> None:
    # What `kluis migrate` does to records whose keys name the old base URL.
    kv = FileKeyValueStore(tmp_path)
    await kv.put("tokens", "http://old/a", {"webid": "http://old/a#me"}, ttl=600)
    [(key, _, expires)] = kv.records("tokens")
    assert expires is not None
    assert expires > time.time() + 590
    kv.replace("tokens", key, "http://new/a", {"webid": "http://new/a#me"}, expires)
    assert await kv.get("tokens", "http://old/a") is None
    [(_, _, kept)] = kv.records("tokens")
    assert kept is not None
    assert abs(kept - expires) < 5
    assert kv.namespaces() == ["tokens"]


async def test_expired_records_leave_the_disk_when_a_namespace_is_read(tmp_path: Path) -> None:
    kv = FileKeyValueStore(tmp_path)
    await kv.put("codes", "old", {"x": 1}, ttl=-1)
    await kv.put("codes", "new", {"x": 2}, ttl=60)
    assert len(list((tmp_path / "codes").glob("*.json"))) == 2
    assert [k for k, _ in await kv.items("codes")] == ["new"]
    assert len(list((tmp_path / "codes").glob("*.json"))) == 1
