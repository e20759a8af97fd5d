"""DPoP proofs are single-use across restarts too (RFC 9449 §11.1; issue 10, item 16).

A real `kluis serve` process with file storage is stopped gracefully, then killed, and each time
a captured request is replayed against the next process.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from pod.auth.dpop import Proof, ReplayCache
from pod.auth.replay_state import resume, save
from pod.errors import Unauthenticated
from pod.storage.kv import MemoryKeyValueStore
from tests.interop.conftest import Server, client_credentials, person
from tests.support import free_port
from tests.support import wait_until_serving as wait_up
from tests.test_cli import server

TURTLE = {"Content-Type": "text/turtle"}


async def test_a_captured_request_does_not_replay_after_a_restart(tmp_path: Path) -> None:
    port = free_port()
    kluis = Server(f"http://127.0.0.1:{port}/", tmp_path / "unused.log")
    args = (
        *("--port", str(port), "--host", "127.0.0.1", "--data-dir", str(tmp_path / "data")),
        *("--password-cost", "10", "--fsync", "false", "--access-log", "false"),
    )
    doc = kluis.url("ann/private")
    async with aiohttp.ClientSession() as http:
        with server(*args) as proc:
            await wait_up(kluis.url(".well-known/openid-configuration"), proc)
            ann = await person(kluis, http, "ann")
            token = await client_credentials(kluis, http, ann)
            async with http.put(
                doc, data="<#a> <#b> 1 .", headers={**TURTLE, **token.headers("PUT", doc)}
            ) as r:
                assert r.status == 201
            captured = token.headers("GET", doc)
            async with http.get(doc, headers=captured) as r:
                assert r.status == 200
            proc.send_signal(signal.SIGTERM)  # a graceful stop saves the proofs it has seen
            assert proc.wait(timeout=15) == 0
        with server(*args) as proc:
            await wait_up(kluis.url(".well-known/openid-configuration"), proc)
            async with http.get(doc, headers=captured) as r:
                assert r.status == 401
                assert "already used" in r.headers["WWW-Authenticate"]
            before_crash = token.headers("GET", doc)
            async with http.get(doc, headers=before_crash) as r:
                assert r.status == 200
            await asyncio.sleep(1.1)  # a proof's iat is in whole seconds
            proc.kill()  # a crash saves nothing
            proc.wait()
        with server(*args) as proc:
            await wait_up(kluis.url(".well-known/openid-configuration"), proc)
            async with http.get(doc, headers=before_crash) as r:
                assert r.status == 401
                assert "before the server restarted" in r.headers["WWW-Authenticate"]
            async with http.get(doc, headers=token.headers("GET", doc)) as r:
                assert r.status == 200  # a fresh proof with the same token works


def _proof(jti: str, iat: float) -> Proof:
    return Proof(jkt="k", jti=jti, iat=iat)


def test_snapshot_and_restore_carry_the_window_over() -> None:
    cache = ReplayCache(window=60.0)
    cache.check_and_remember(_proof("old", 0), now=0.0)
    cache.check_and_remember(_proof("recent", 100), now=100.0)
    key, saved = cache.snapshot(now=110.0)
    assert list(saved.values()) == [100.0]  # "old" left the window
    restarted = ReplayCache(window=60.0)
    restarted.restore(key, saved)
    with pytest.raises(Unauthenticated, match="already used"):
        restarted.check_and_remember(_proof("recent", 100), now=111.0)
    restarted.check_and_remember(_proof("new", 111), now=111.0)
    restarted.check_and_remember(_proof("old", 111), now=111.0)


def test_an_id_is_refused_while_in_the_window_and_forgotten_after() -> None:
    cache = ReplayCache(window=60.0)
    cache.check_and_remember(_proof("a", 100), now=100.5)
    with pytest.raises(Unauthenticated, match="already used"):
        cache.check_and_remember(_proof("a", 100), now=160.4)
    cache.check_and_remember(_proof("a", 100), now=161.0)  # its iat is checked by the verifier


def test_a_full_cache_forgets_the_oldest_second_and_refuses_its_proofs() -> None:
    """Forgetting a second before it left the window must not let its proofs be used again,
    nor those whose iat was up to `skew` ahead of it."""
    cache = ReplayCache(window=60.0, max_entries=3, skew=5.0)
    for n, second in enumerate((100, 110, 120)):
        cache.check_and_remember(_proof(f"p{n}", second), now=second + 0.2)
    cache.check_and_remember(_proof("p3", 120), now=120.5)  # over: second 100 goes
    for iat in (100, 105.9):
        with pytest.raises(Unauthenticated, match="made before"):
            cache.check_and_remember(_proof("p0", iat), now=120.6)
    with pytest.raises(Unauthenticated, match="already used"):
        cache.check_and_remember(_proof("p1", 110), now=120.6)
    cache.check_and_remember(_proof("p4", 110), now=120.7)  # over again: second 110 goes
    with pytest.raises(Unauthenticated, match="made before"):
        cache.check_and_remember(_proof("p5", 115), now=120.8)
    cache.check_and_remember(_proof("p6", 116), now=120.8)


def test_after_a_crash_only_proofs_made_after_the_start_count() -> None:
    cache = ReplayCache(window=60.0)
    cache.refuse_before(1000.0)
    with pytest.raises(Unauthenticated, match="before the server restarted"):
        cache.check_and_remember(_proof("a", 999), now=1001.0)
    cache.check_and_remember(_proof("b", 1000), now=1001.0)


async def test_a_saved_cache_is_taken_back_only_with_its_key() -> None:
    """A graceful stop saves the digests with their key; a saved cache without a key (as
    versions before the digests saved it) is not trusted: proofs from before the start are
    refused, as after a crash."""
    kv = MemoryKeyValueStore()
    cache = ReplayCache(window=60.0)
    cache.check_and_remember(_proof("seen", time.time()))
    await save(cache, kv)
    restarted = ReplayCache(window=60.0)
    await resume(restarted, kv)
    assert restarted.not_before is None
    with pytest.raises(Unauthenticated, match="already used"):
        restarted.check_and_remember(_proof("seen", time.time()))
    await kv.put("dpop", "replay", {"seen": {"seen": time.time()}}, ttl=60)
    older = ReplayCache(window=60.0)
    await resume(older, kv)
    assert older.not_before is not None
    with pytest.raises(Unauthenticated, match="before the server restarted"):
        older.check_and_remember(_proof("seen", older.not_before - 1))
