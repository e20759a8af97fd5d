"""The provider's signing keys: made with `cryptography`, kept in the KeyValueStore, rotatable.

The newest key signs; older keys stay in the JWKS until every token they signed has expired, so
rotation never invalidates a token still in flight. The key list is re-read from storage now and
then, so a rotation done by another process (`kluis idp rotate-keys`) is picked up.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Final, final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey, KeySet

from pod.storage.kv import KeyValueStore

ALGORITHM: Final = "ES256"
_NAMESPACE: Final = "idp"
_RECORD: Final = "signing_keys"
_RELOAD_SECONDS: Final = 60.0


def _new_key() -> dict[str, Any]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {"kid": secrets.token_hex(8), "pem": pem, "created": time.time()}


@final
class SigningKeys:
    def __init__(self, kv: KeyValueStore, *, retire_after: float) -> None:
        """`retire_after`: how long a replaced key stays published (the longest token lifetime)."""
        self.kv = kv
        self.retire_after = retire_after
        self._keys: list[dict[str, Any]] = []
        self._loaded = 0.0
        self._imported: dict[str, ECKey] = {}

    async def load(self) -> None:
        """Read the keys, creating the first one on a fresh server."""
        record = await self.kv.get(_NAMESPACE, _RECORD)
        if record is None or not record.get("keys"):
            record = {"keys": [_new_key()]}
            if not await self.kv.put_new(_NAMESPACE, _RECORD, record):
                record = await self.kv.get(_NAMESPACE, _RECORD) or record
        self._keys = list(record["keys"])
        self._loaded = time.monotonic()

    async def _fresh(self) -> None:
        if not self._keys or time.monotonic() - self._loaded > _RELOAD_SECONDS:
            await self.load()

    async def rotate(self) -> str:
        """Add a new signing key; retire keys replaced longer ago than `retire_after`."""
        await self.load()
        now = time.time()
        keys = [*self._keys, _new_key()]
        # A key is retired once its successor has signed for longer than any token lives.
        kept = [
            k
            for i, k in enumerate(keys)
            if i == len(keys) - 1 or now - keys[i + 1]["created"] < self.retire_after
        ]
        await self.kv.put(_NAMESPACE, _RECORD, {"keys": kept})
        self._keys = kept
        self._loaded = time.monotonic()
        return str(kept[-1]["kid"])

    def _import(self, key: dict[str, Any]) -> ECKey:
        found = self._imported.get(key["kid"])
        if found is None:
            found = ECKey.import_key(
                key["pem"], {"kid": key["kid"], "alg": ALGORITHM, "use": "sig"}
            )
            self._imported[key["kid"]] = found
        return found

    async def current(self) -> ECKey:
        await self._fresh()
        return self._import(self._keys[-1])

    async def public_jwks(self) -> dict[str, Any]:
        await self._fresh()
        return {"keys": [self._import(k).as_dict(private=False) for k in self._keys]}

    def key_set(self) -> KeySet:
        """The public keys, for verifying tokens this provider issued (no I/O: last loaded)."""
        return KeySet([self._import(k) for k in self._keys])
