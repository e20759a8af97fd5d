"""Revoked token grants: a revoked app or client credential loses access on the next request, not
when its tokens expire. Imports storage.

Access tokens are self-contained JWTs that stay valid until they expire (an hour), so revoking
what they were issued for must be checked on every request. A record per (WebID, client id) says
that tokens issued up to its time no longer count; it lives in the KeyValueStore (namespace
`revocations`, owned here) for as long as such a token could still be valid (so a restart
forgets nothing), and in memory for the check, which is a dictionary look-up.

"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Final, final

from pod.storage.kv import KeyValueStore, Record
from pod.storage.records import Expiry, Records, declare


@final
@dataclass(frozen=True, slots=True)
class Revocation:
    """Tokens issued to `client_id` acting as `webid` up to `before` no longer count."""

    webid: str
    client_id: str
    before: float

    def to_json(self) -> Record:
        return {"webid": self.webid, "client_id": self.client_id, "before": self.before}

    @classmethod
    def from_json(cls, key: str, data: Record) -> Revocation:
        return cls(str(data["webid"]), str(data["client_id"]), float(data["before"]))


# Each record lives as long as a token it refuses could (the `keep` its writer gives). Keys are
# hashes already, so the change feed carries them as they are.
REVOCATIONS: Final = declare("revocations", Revocation, ttl=Expiry.PER_RECORD)


def record_key(webid: str, client_id: str) -> str:
    """The key of the revocation record of `client_id` acting as `webid`."""
    return hashlib.sha256(f"{webid}\n{client_id}".encode()).hexdigest()


@final
class Revocations:
    """Which (WebID, client id) grants were revoked, and when."""

    def __init__(self, kv: KeyValueStore, *, keep: float) -> None:
        """`keep`: seconds a record is needed, the longest an access token can stay valid."""
        self._records = Records(kv, REVOCATIONS)
        self.keep = keep
        self._before: dict[str, float] = {}

    async def load(self) -> None:
        """Read the records still needed (call at start-up)."""
        self._before = {key: r.before for key, r in await self._records.items()}

    async def revoke(self, *, webid: str, client_id: str) -> None:
        """Tokens issued until now to `client_id` acting as `webid` no longer count."""
        now = time.time()
        key = record_key(webid, client_id)
        await self._records.put(key, Revocation(webid, client_id, now), ttl=self.keep)
        self._before = {k: t for k, t in self._before.items() if t > now - self.keep}
        self._before[key] = now

    def is_revoked(self, *, webid: str, client_id: str, issued_at: float) -> bool:
        """Whether a token issued at `issued_at` (its `iat`, whole seconds) was revoked. A token
        issued in the second of a revocation counts as revoked: `iat` cannot tell it apart."""
        before = self._before.get(record_key(webid, client_id))
        return before is not None and issued_at <= before
