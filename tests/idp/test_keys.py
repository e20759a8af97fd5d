"""The provider's signing keys, kept by two workers that share a key-value store and a feed."""

from __future__ import annotations

import asyncio

from pod.feed import LocalFeed
from pod.idp.keys import SigningKeys
from pod.storage.kv import MemoryKeyValueStore
from pod.storage.records import AnnouncingKeyValueStore


async def test_a_rotation_by_one_worker_reaches_the_other_at_once() -> None:
    feed = LocalFeed()
    kv = AnnouncingKeyValueStore(MemoryKeyValueStore(), feed)
    one, two = SigningKeys(kv, retire_after=3600), SigningKeys(kv, retire_after=3600)
    one.follow(feed)
    two.follow(feed)
    await one.load()
    await two.load()
    first = (await one.current()).kid
    assert (await two.current()).kid == first
    new = await one.rotate()
    await asyncio.sleep(0)  # the announced change starts worker two's re-read
    await asyncio.sleep(0)
    assert new in {key.kid for key in two.key_set()}, "verifying needs no request first"
    assert (await two.current()).kid == new
    assert first in {key.kid for key in two.key_set()}  # still verifies what it signed


async def test_without_the_feed_a_rotation_is_seen_only_after_the_reload_interval() -> None:
    kv = MemoryKeyValueStore()
    one, two = SigningKeys(kv, retire_after=3600), SigningKeys(kv, retire_after=3600)
    await one.load()
    await two.load()
    new = await one.rotate()
    assert new not in {key.kid for key in two.key_set()}
