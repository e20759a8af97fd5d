"""Revoked token grants: a revoked app or client credential loses access on the next request, not
when its tokens expire. Imports storage.kv.

Access tokens are self-contained JWTs that stay valid until they expire (an hour), so revoking
what they were issued for must be checked on every request. A record per (WebID, client id) says
that tokens issued up to its time no longer count; it lives in the KeyValueStore for as long as
such a token could still be valid (so a restart forgets nothing), and in memory for the check,
which is a dictionary look-up.
"""

from __future__ import annotations

import hashlib
import time
from typing import final

from pod.storage.kv import KeyValueStore

_NAMESPACE = "revocations"


def _key(webid: str, client_id: str) -> str:
    return hashlib.sha256(f"{webid}\n{client_id}".encode()).hexdigest()


@final
class Revocations:
    """Which (WebID, client id) grants were revoked, and when."""

    def __init__(self, kv: KeyValueStore, *, keep: float) -> None:
        """`keep`: seconds a record is needed, the longest an access token can stay valid."""
        self.kv = kv
        self.keep = keep
        self._before: dict[str, float] = {}

    async def load(self) -> None:
        """Read the records still needed (call at start-up)."""
        self._before = {
            key: float(record["before"]) for key, record in await self.kv.items(_NAMESPACE)
        }

    async def revoke(self, *, webid: str, client_id: str) -> None:
        """Tokens issued until now to `client_id` acting as `webid` no longer count."""
        now = time.time()
        key = _key(webid, client_id)
        await self.kv.put(
            _NAMESPACE,
            key,
            {"webid": webid, "client_id": client_id, "before": now},
            ttl=self.keep,
        )
        self._before = {k: t for k, t in self._before.items() if t > now - self.keep}
        self._before[key] = now

    def is_revoked(self, *, webid: str, client_id: str, issued_at: float) -> bool:
        """Whether a token issued at `issued_at` (its `iat`, whole seconds) was revoked. A token
        issued in the second of a revocation counts as revoked: `iat` cannot tell it apart."""
        before = self._before.get(_key(webid, client_id))
        return before is not None and issued_at <= before
