"""The KeyValueStore contract (pod/storage/kv.py), checked against every implementation, and
the typed records and announcing wrapper over it (pod/storage/records.py)."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pod import logs
from pod.feed import SERVER, Actor, Change, Event, LocalFeed, RecordChanged, act_as, encode
from pod.storage.kv import FileKeyValueStore, KeyValueStore, MemoryKeyValueStore, Record
from pod.storage.records import (
    AnnouncingKeyValueStore,
    Expiry,
    Namespace,
    Records,
    declare,
    declared,
    feed_key,
)


def _implementation(name: str, tmp_path: Path) -> KeyValueStore:
    if name == "memory":
        return MemoryKeyValueStore()
    return FileKeyValueStore(tmp_path / "kv")


# The contract holds for each implementation, and for each wrapped in the announcing store that
# create_app puts around it.
@pytest.fixture(params=["memory", "file", "announced memory", "announced file"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> KeyValueStore:
    name = str(request.param)
    if name.startswith("announced "):
        return AnnouncingKeyValueStore(_implementation(name.split()[1], tmp_path), LocalFeed())
    return _implementation(name, tmp_path)


@pytest.fixture(params=["memory", "file"])
def raw(request: pytest.FixtureRequest, tmp_path: Path) -> KeyValueStore:
    """One implementation, unwrapped."""
    return _implementation(str(request.param), tmp_path)


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


# --- typed records ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    tags: tuple[str, ...] = ()

    def to_json(self) -> Record:
        return {"text": self.text, "tags": list(self.tags)}

    @classmethod
    def from_json(cls, key: str, data: Record) -> Note:
        return cls(str(data["text"]), tuple(data.get("tags", ())))


@dataclass(frozen=True, slots=True)
class Keyed:
    """A record type that takes its key from the store, as accounts take their id."""

    key: str
    n: int

    def to_json(self) -> Record:
        return {"n": self.n}

    @classmethod
    def from_json(cls, key: str, data: Record) -> Keyed:
        return cls(key, int(data["n"]))


NOTES = declare("test_notes", Note, ttl=Expiry.NEVER)
KEYED = declare("test_keyed", Keyed, ttl=Expiry.NEVER)
BRIEF = declare("test_brief", Note, ttl=0.2)
PER_RECORD = declare("test_per_record", Note, ttl=Expiry.PER_RECORD)
SECRET = declare("test_secret", Note, ttl=Expiry.NEVER, secret_keys=True)


async def test_typed_records_come_back_typed_and_are_stored_as_their_json(
    raw: KeyValueStore,
) -> None:
    notes = Records(raw, NOTES)
    assert await notes.get("a") is None
    note = Note("hello", ("x", "y"))
    await notes.put("a", note)
    assert await notes.get("a") == note
    # the on-disk form is the record type's JSON, under the namespace's name
    assert await raw.get("test_notes", "a") == {"text": "hello", "tags": ["x", "y"]}
    assert await notes.items() == [("a", note)]
    assert not await notes.put_new("a", Note("other"))
    assert await notes.put_new("b", Note("other"))
    assert await notes.take("b") == Note("other")
    assert await notes.take("b") is None
    assert await notes.delete("a")
    assert not await notes.delete("a")
    assert await notes.items() == []


async def test_a_record_type_may_take_its_key(raw: KeyValueStore) -> None:
    keyed = Records(raw, KEYED)
    await keyed.put("k1", Keyed("ignored", 1))
    assert await raw.get("test_keyed", "k1") == {"n": 1}
    assert await keyed.get("k1") == Keyed("k1", 1)
    assert await keyed.items() == [("k1", Keyed("k1", 1))]


async def test_records_live_as_their_namespace_says(raw: KeyValueStore) -> None:
    brief = Records(raw, BRIEF)
    await brief.put("default", Note("goes"))
    await brief.put("kept", Note("stays"), ttl=None)
    await brief.put("longer", Note("stays a while"), ttl=60)
    assert {k for k, _ in await brief.items()} == {"default", "kept", "longer"}
    await asyncio.sleep(0.3)
    assert await brief.get("default") is None
    assert {k for k, _ in await brief.items()} == {"kept", "longer"}


async def test_a_namespace_s_lifetime_is_kept_by_its_writers(raw: KeyValueStore) -> None:
    with pytest.raises(ValueError, match="never expire"):
        await Records(raw, NOTES).put("a", Note("x"), ttl=60)
    per_record = Records(raw, PER_RECORD)
    with pytest.raises(ValueError, match="need a ttl"):
        await per_record.put("a", Note("x"))
    with pytest.raises(ValueError, match="need a ttl"):
        await per_record.put_new("a", Note("x"))
    await per_record.put("forever", Note("x"), ttl=None)
    await per_record.put("gone", Note("x"), ttl=-1)
    assert [k for k, _ in await per_record.items()] == ["forever"]
    assert await raw.items("test_notes") == []  # nothing was written by the refused puts


def test_a_namespace_is_declared_once_with_a_name_a_file_can_hold() -> None:
    with pytest.raises(ValueError, match="declared already"):
        declare("test_notes", Note, ttl=Expiry.NEVER)
    with pytest.raises(ValueError, match="identifier"):
        declare("../escape", Note, ttl=Expiry.NEVER)
    assert declared()["test_notes"] is NOTES


def _every_declared() -> Mapping[str, Namespace[Any]]:
    importlib.import_module("pod.app")  # the composition root imports every owner
    return declared()


def test_every_namespace_whose_records_expire_is_swept() -> None:
    expiring = {name for name, ns in _every_declared().items() if ns.expires}
    # the namespaces app.py listed by hand before the declarations, and the DPoP replay record
    assert expiring >= {
        *("auth_requests", "clients", "codes", "codes_used", "sessions", "api_tokens"),
        *("refresh", "refresh_used", "revocations", "dpop"),
    }
    never = {name for name, ns in _every_declared().items() if not ns.expires}
    assert never >= {"accounts", "emails", "pod_names", "credentials", "idp", "server"}
    assert {"consents", "redirects"} <= never


# --- announcements ------------------------------------------------------------------------------


def _announcing(raw: KeyValueStore) -> tuple[AnnouncingKeyValueStore, list[Event]]:
    feed, heard = LocalFeed(), list[Event]()
    feed.subscribe(heard.append)
    return AnnouncingKeyValueStore(raw, feed), heard


def _changes(heard: list[Event]) -> list[tuple[Change, str, str]]:
    return [(e.change, e.namespace, e.key) for e in heard if isinstance(e, RecordChanged)]


async def test_every_write_is_announced_once_and_reads_are_not(raw: KeyValueStore) -> None:
    kv, heard = _announcing(raw)
    ns = "test_notes"  # declared with plain keys
    await kv.put(ns, "a", {"text": "1"})
    await kv.put(ns, "a", {"text": "2"})
    assert await kv.put_new(ns, "b", {"text": "3"})
    assert not await kv.put_new(ns, "b", {"text": "4"})  # claimed nothing
    assert await kv.take(ns, "b") == {"text": "3"}
    assert await kv.take(ns, "b") is None  # removed nothing
    assert await kv.delete(ns, "a")
    assert not await kv.delete(ns, "a")
    await kv.get(ns, "a")
    await kv.items(ns)
    assert _changes(heard) == [
        (Change.UPDATE, ns, "a"),
        (Change.UPDATE, ns, "a"),
        (Change.CREATE, ns, "b"),
        (Change.DELETE, ns, "b"),
        (Change.DELETE, ns, "a"),
    ]
    assert await raw.items(ns) == []  # the writes reached the wrapped store


async def test_typed_writes_are_announced_through_the_wrapper(raw: KeyValueStore) -> None:
    kv, heard = _announcing(raw)
    await Records(kv, NOTES).put("n", Note("x"))
    assert _changes(heard) == [(Change.UPDATE, "test_notes", "n")]


async def test_announcements_carry_the_actor_and_request_id(raw: KeyValueStore) -> None:
    kv, heard = _announcing(raw)
    await kv.put("test_notes", "server's", {"text": "at start-up"})

    async def in_a_request() -> None:
        logs.REQUEST_ID.set("req-42")
        act_as("https://alice.example/profile/card#me", "https://app.example/id")
        await kv.put("test_notes", "alice's", {"text": "in a request"})

    # a request's task has a context of its own, as aiohttp gives each request
    await asyncio.create_task(in_a_request(), context=contextvars.copy_context())
    assert [e.actor for e in heard] == [
        SERVER,
        Actor("https://alice.example/profile/card#me", "https://app.example/id", "req-42"),
    ]


async def test_no_value_and_no_secret_key_goes_on_the_feed(raw: KeyValueStore) -> None:
    kv, heard = _announcing(raw)
    secret_value = "s3cret-value-" + "x" * 20
    await kv.put("test_secret", "session-id-123", {"text": secret_value})
    await kv.put("test_undeclared", "token-456", {"text": secret_value})
    await kv.put("test_notes", "public-name", {"text": secret_value})
    wire = [encode(e) for e in heard]
    assert not any(secret_value in line for line in wire)
    # keys of a namespace declared secret, and of one nobody declared, are hashed ...
    assert [e.key for e in heard if isinstance(e, RecordChanged)] == [
        hashlib.sha256(b"session-id-123").hexdigest(),
        hashlib.sha256(b"token-456").hexdigest(),
        "public-name",  # ... those declared plain are not
    ]
    assert not any("session-id-123" in line or "token-456" in line for line in wire)
    assert feed_key("test_secret", "k") == hashlib.sha256(b"k").hexdigest()


def test_the_namespaces_whose_keys_are_secrets_are_hashed_on_the_feed() -> None:
    ns = _every_declared()
    # session ids, sign-in request handles and e-mail addresses are kept under themselves
    assert all(ns[name].secret_keys for name in ("sessions", "auth_requests", "emails"))
    # tokens and codes are kept under their SHA-256 already
    for name in ("api_tokens", "codes", "codes_used", "refresh", "refresh_used", "redirects"):
        assert not ns[name].secret_keys


# --- stored forms ---------------------------------------------------------------------------------

# Each namespace's records exactly as Kluis wrote them before the record types existed: data
# directories from then must read, and records written back must keep this form.
_PEM = "-----BEGIN PRIVATE KEY-----\nMIG...\n-----END PRIVATE KEY-----\n"
STORED: list[tuple[str, str, Record]] = [
    (
        "accounts",
        "a1",
        {
            "email": "ann@example.org",
            "password_hash": "scrypt$15$8$1$AA$AA",
            "created": 1700000000.5,
            "pods": ["ann"],
            "webids": ["https://pod.example/ann/profile/card#me"],
        },
    ),
    (
        "accounts",
        "a2",
        {
            "email": "bo@example.org",
            "password_hash": "scrypt$15$8$1$AA$AA",
            "created": 1700000000.5,
            "pods": [],
            "webids": [],
            "disabled": True,
        },
    ),
    ("emails", "ann@example.org", {"account": "a1"}),
    ("pod_names", "ann", {"account": "a1"}),
    ("api_tokens", "ab" * 32, {"account": "a1"}),
    ("resets", "ac" * 32, {"account": "a1"}),
    (
        "credentials",
        "kluis-cc-0123",
        {
            "name": "back end",
            "webid": "https://pod.example/ann/profile/card#me",
            "account": "a1",
            "created": 1700000000.5,
            "secret_hash": "cd" * 32,
        },
    ),
    ("sessions", "sid", {"csrf": "c", "account": "a1", "auth_time": 1700000000.5}),
    (
        "idp",
        "signing_keys",
        {
            "keys": [
                {"kid": "k1", "pem": _PEM, "created": 1.5},
                {"kid": "k2", "pem": _PEM, "created": 2.5},
            ]
        },
    ),
    ("idp", "cookie_key", {"k": "secret"}),
    (
        "auth_requests",
        "req",
        {
            "id": "req",
            "client_id": "https://app.example/id",
            "client_name": "App",
            "client_uri": "https://app.example",
            "redirect_uri": "https://app.example/cb",
            "scope": ["openid", "webid"],
            "state": None,
            "nonce": "n",
            "code_challenge": "ch",
            "prompt": ["login"],
            "max_age": 60,
        },
    ),
    (
        "consents",
        "a1|https://app.example/id",
        {
            "client_id": "https://app.example/id",
            "client_name": "App",
            "client_uri": "https://app.example",
            "webid": "https://pod.example/ann/profile/card#me",
            "granted": 1700000000.5,
        },
    ),
    ("redirects", "ef" * 32, {"client_id": "c", "redirect_uri": "https://app.example/cb"}),
    (
        "codes",
        "01" * 32,
        {
            "client_id": "c",
            "redirect_uri": "https://app.example/cb",
            "code_challenge": "ch",
            "account": "a1",
            "webid": "https://pod.example/ann/profile/card#me",
            "client_name": "App",
            "scope": ["openid", "webid", "offline_access"],
            "nonce": None,
            "auth_time": 1700000000.5,
        },
    ),
    ("codes_used", "02" * 32, {"family": "f1"}),
    (
        "refresh",
        "03" * 32,
        {
            "client_id": "c",
            "client_name": "App",
            "account": "a1",
            "webid": "https://pod.example/ann/profile/card#me",
            "scope": ["openid", "offline_access"],
            "family": "f1",
            "jkt": "thumb",
            "auth_time": 1700000000.5,
        },
    ),
    ("refresh_used", "04" * 32, {"family": "f1"}),
    (
        "clients",
        "c1",
        {
            "client_id": "c1",
            "redirect_uris": ["https://app.example/cb"],
            "post_logout_redirect_uris": [],
            "token_endpoint_auth_method": "none",
        },
    ),
    (
        "clients",
        "c2",
        {
            "client_id": "c2",
            "redirect_uris": ["https://app.example/cb"],
            "post_logout_redirect_uris": ["https://app.example/bye"],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"],
            "client_name": "App",
            "client_uri": "https://app.example",
            "logo_uri": "https://app.example/logo.png",
            "secret_hash": "05" * 32,
            "used": True,
        },
    ),
    (
        "revocations",
        "06" * 32,
        {"webid": "https://pod.example/ann/profile/card#me", "client_id": "c", "before": 1.5},
    ),
    ("dpop", "replay", {"key": "00" * 16, "seen": {"0123456789abcdef": 1700000000.5}}),
    ("server", "base_url", {"url": "https://pod.example/"}),
    ("usage", "/ann/", {"used": 123456, "clean": False, "counted_at": 1700000000.5}),
    ("quotas", "/ann/", {"bytes": 100000000}),
    (
        "redirects",
        "ee" * 32,
        {"client_id": "c", "redirect_uri": "https://app.example/cb", "account": "a1"},
    ),
    ("held_names", "07" * 32, {"until": 1700000000.5, "receipt": "r1", "reclaim": "08" * 32}),
    (
        "erasures",
        "r1",
        {
            "erased_at": 1700000000.5,
            "scope": "account",
            "pods": 1,
            "files": 12,
            "bytes": 3456,
            "records": 7,
            "log_lines": 2,
            "shared": 1,
            "held_until": 1731536000.5,
        },
    ),
    (
        "erasure_jobs",
        "r2",
        {
            "account": "a1",
            "scope": "pod",
            "pods": ["ann"],
            "webids": ["https://pod.example/ann/profile/card#me"],
            "started": 1700000000.5,
            "held_until": 1731536000.5,
            "reclaim": "08" * 32,
            "counts": {"done": 4, "files": 12},
        },
    ),
    ("tombstone_key", "hmac", {"secret": "09" * 32}),
]


@pytest.mark.parametrize(
    ("namespace", "key", "stored"), STORED, ids=[f"{n}:{k}" for n, k, _ in STORED]
)
async def test_records_keep_the_form_they_were_stored_in(
    raw: KeyValueStore, namespace: str, key: str, stored: Record
) -> None:
    ns = _every_declared()[namespace]
    await raw.put(namespace, key, stored)
    records = Records(raw, ns)
    found = await records.get(key)
    assert found is not None
    assert found.to_json() == stored
    if ns.expires:
        await records.put(key, found, ttl=None)
    else:
        await records.put(key, found)
    assert await raw.get(namespace, key) == stored


def test_every_namespace_of_kluis_has_its_stored_form_here() -> None:
    ours = {name for name in _every_declared() if not name.startswith("test_")}
    assert ours == {namespace for namespace, _, _ in STORED}
