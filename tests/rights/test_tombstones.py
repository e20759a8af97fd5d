"""Held names (pod.accounts.tombstones): a request pays for the held-name check only while some
name is held, and a hold stored by another process reaches this one through the change feed."""

from __future__ import annotations

from pod.accounts.tombstones import HELD_NAMES, Hold, Tombstones
from pod.feed import Change, RecordChanged
from pod.ldp.storages import Storages
from pod.storage.kv import MemoryKeyValueStore


async def test_no_request_is_checked_while_no_name_is_held() -> None:
    tombstones = Tombstones(MemoryKeyValueStore(), Storages())
    await tombstones.load()
    # Outside every pod, and in one: nothing to check while nothing is held.
    assert not tombstones.may_be_held("/bench/doc")
    assert not tombstones.may_be_held("/")
    await tombstones.hold("gone", Hold(tombstones.clock() + 60, "r1", "h"))
    assert tombstones.may_be_held("/gone/profile/card")
    assert tombstones.may_be_held("/bench/doc")  # not a pod: asked of the holds


async def test_a_hold_heard_from_another_process_is_checked_and_a_release_too() -> None:
    kv = MemoryKeyValueStore()
    here = Tombstones(kv, Storages())
    await here.load()
    there = Tombstones(kv, Storages())  # another process on the same records
    await there.load()
    await there.hold("gone", Hold(there.clock() + 60, "r1", "h"))
    [(key, _)] = await kv.items(HELD_NAMES.name)
    assert not here.may_be_held("/gone/doc")  # not heard yet
    here.follow(RecordChanged(Change.UPDATE, HELD_NAMES.name, key))
    assert here.may_be_held("/gone/doc")
    here.follow(RecordChanged(Change.DELETE, HELD_NAMES.name, key))
    assert not here.may_be_held("/gone/doc")


async def test_holds_stored_before_a_start_are_checked_after_it() -> None:
    kv = MemoryKeyValueStore()
    before = Tombstones(kv, Storages())
    await before.load()
    await before.hold("gone", Hold(before.clock() + 60, "r1", "h"))
    after = Tombstones(kv, Storages())
    await after.load()
    assert after.may_be_held("/gone/doc")
