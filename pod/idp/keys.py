"""The provider's signing keys: made with `cryptography`, kept in the KeyValueStore, rotatable;
and the key that signs its browser cookies. Imports storage.

The newest key signs; older keys stay in the JWKS until every token they signed has expired, so
rotation never invalidates a token still in flight. A rotation announced on the change feed (by
any worker) makes the next use re-read the key list; it is also re-read now and then, for a
rotation nobody announced (`kluis idp rotate-keys` on a stopped server's data).

Owns the KeyValueStore namespace `idp`: the signing keys under `signing_keys`, the cookie key
under `cookie_key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final, final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey, KeySet

from pod.feed import ChangeFeed, Event, RecordChanged
from pod.storage.kv import KeyValueStore, Record
from pod.storage.records import Expiry, Records, declare

log = logging.getLogger(__name__)
ALGORITHM: Final = "ES256"
_SIGNING_KEYS: Final = "signing_keys"
_COOKIE_KEY: Final = "cookie_key"
_RELOAD_SECONDS: Final = 60.0


class IdpRecord:
    """A record of the `idp` namespace: a `KeyRing` or a `CookieKey`, as its key says."""

    __slots__ = ()

    def to_json(self) -> Record:
        raise NotImplementedError

    @classmethod
    def from_json(cls, key: str, data: Record) -> IdpRecord:
        if key == _SIGNING_KEYS:
            return KeyRing.from_json(key, data)
        return CookieKey.from_json(key, data)


@final
@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    pem: str  # PKCS #8
    created: float


@final
@dataclass(frozen=True, slots=True)
class KeyRing(IdpRecord):
    """The signing keys, oldest first: the last one signs."""

    keys: tuple[SigningKey, ...]

    def to_json(self) -> Record:
        return {"keys": [{"kid": k.kid, "pem": k.pem, "created": k.created} for k in self.keys]}

    @classmethod
    def from_json(cls, key: str, data: Record) -> KeyRing:
        return cls(
            tuple(
                SigningKey(str(k["kid"]), str(k["pem"]), float(k["created"]))
                for k in data.get("keys") or ()
            )
        )


@final
@dataclass(frozen=True, slots=True)
class CookieKey(IdpRecord):
    """The HMAC key of the account pages' cookies."""

    k: str

    def to_json(self) -> Record:
        return {"k": self.k}

    @classmethod
    def from_json(cls, key: str, data: Record) -> CookieKey:
        return cls(str(data["k"]))


IDP: Final = declare("idp", IdpRecord, ttl=Expiry.NEVER)


def _new_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return SigningKey(secrets.token_hex(8), pem, time.time())


@final
class SigningKeys:
    def __init__(self, kv: KeyValueStore, *, retire_after: float) -> None:
        """`retire_after`: how long a replaced key stays published (the longest token lifetime)."""
        self._records = Records(kv, IDP)
        self.retire_after = retire_after
        self._keys: tuple[SigningKey, ...] = ()
        self._loaded = 0.0
        self._changed = False  # a change was announced since the keys were read
        self._imported: dict[str, ECKey] = {}
        self._key_set: KeySet | None = None  # of `_keys`; a new one whenever they change
        self._reloads: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        """Read the keys, creating the first one on a fresh server."""
        self._changed = False  # before reading: a change announced meanwhile reads again
        ring = await self._ring()
        if ring is None or not ring.keys:
            ring = KeyRing((_new_key(),))
            if not await self._records.put_new(_SIGNING_KEYS, ring):
                ring = await self._ring() or ring
        self._replace(ring.keys)
        self._loaded = time.monotonic()

    def _replace(self, keys: tuple[SigningKey, ...]) -> None:
        if keys != self._keys:
            self._keys = keys
            self._key_set = None

    def follow(self, feed: ChangeFeed) -> None:
        """Re-read the keys on their next use after a change to them is announced."""
        feed.subscribe(self._stale)

    def _stale(self, event: Event) -> None:
        if not (isinstance(event, RecordChanged) and event.namespace == IDP.name):
            return
        self._changed = True
        # Verifying tokens reads `key_set` without I/O: read the new keys now, so a token signed
        # by a key another worker just made verifies here too.
        with contextlib.suppress(RuntimeError):  # no running loop: the next use reads them
            task = asyncio.get_running_loop().create_task(
                self._reload(), context=contextvars.Context()
            )
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

    async def _reload(self) -> None:
        try:
            await self._fresh()
        except OSError:
            log.exception("could not re-read the signing keys; the next use tries again")

    async def _fresh(self) -> None:
        if self._changed or not self._keys or time.monotonic() - self._loaded > _RELOAD_SECONDS:
            await self.load()

    async def rotate(self) -> str:
        """Add a new signing key; retire keys replaced longer ago than `retire_after`."""
        await self.load()
        now = time.time()
        keys = [*self._keys, _new_key()]
        # A key is retired once its successor has signed for longer than any token lives.
        kept = tuple(
            k
            for i, k in enumerate(keys)
            if i == len(keys) - 1 or now - keys[i + 1].created < self.retire_after
        )
        await self._records.put(_SIGNING_KEYS, KeyRing(kept))
        self._replace(kept)
        self._loaded = time.monotonic()
        return kept[-1].kid

    async def _ring(self) -> KeyRing | None:
        found = await self._records.get(_SIGNING_KEYS)
        return found if isinstance(found, KeyRing) else None

    def _import(self, key: SigningKey) -> ECKey:
        found = self._imported.get(key.kid)
        if found is None:
            found = ECKey.import_key(key.pem, {"kid": key.kid, "alg": ALGORITHM, "use": "sig"})
            self._imported[key.kid] = found
        return found

    async def current(self) -> ECKey:
        await self._fresh()
        return self._import(self._keys[-1])

    async def public_jwks(self) -> dict[str, Any]:
        await self._fresh()
        return {"keys": [self._import(k).as_dict(private=False) for k in self._keys]}

    def key_set(self) -> KeySet:
        """The public keys, for verifying tokens this provider issued (no I/O: last loaded).
        The same object until the keys change, so a token verified with it can be trusted
        while it is still the one answered."""
        if self._key_set is None:
            self._key_set = KeySet([self._import(k) for k in self._keys])
        return self._key_set


@final
class CookieKeys:
    """The key that signs the account pages' cookies: made on first use, the same for every
    process serving the data directory."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._records = Records(kv, IDP)
        self._key: str | None = None

    async def current(self) -> str:
        if self._key is None:
            found = await self._records.get(_COOKIE_KEY)
            if not isinstance(found, CookieKey):
                # Of processes starting together, the first to claim the key wins.
                await self._records.put_new(_COOKIE_KEY, CookieKey(secrets.token_urlsafe(32)))
                found = await self._records.get(_COOKIE_KEY)
            assert isinstance(found, CookieKey)
            self._key = found.k
        return self._key
