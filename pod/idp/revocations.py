"""Revoked token grants: a revoked app or client credential loses access on the next request, not
when its tokens expire. Imports storage and feed.

Access tokens are self-contained JWTs that stay valid until they expire (an hour), so revoking
what they were issued for must be checked on every request. A record per (WebID, client id) says
that tokens issued up to its time no longer count; it lives in the KeyValueStore (namespace
`revocations`, owned here) for as long as such a token could still be valid (so a restart
forgets nothing), and in memory for the check, which is a dictionary look-up. A record whose
client id is `ALL_CLIENTS` revokes every client's tokens for the WebID: the operator disabled
its account (`kluis admin disable`).

The memory copy follows the change feed: a revocation written by any process (another worker,
a maintenance command) marks its key stale, and the next check re-reads that record before it
answers. With nothing stale a check does no I/O.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, final

from pod.feed import ChangeFeed, Event, RecordChanged
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
# Client ids are URLs or `kluis-cc-` ids; only an operator's static client named `*` could
# collide, and it would then be revoked with every disabled account.
ALL_CLIENTS: Final = "*"


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
        # Keys a change was announced for and not yet re-read, with how many announcements
        # came: a re-read clears a key only if no newer one came while it waited for storage.
        self._stale: dict[str, int] = {}
        self._refreshing = asyncio.Lock()

    def follow(self, feed: ChangeFeed) -> None:
        """Keep the memory copy current with the revocations `feed` announces."""
        feed.subscribe(self._heard)

    def _heard(self, event: Event) -> None:
        if isinstance(event, RecordChanged) and event.namespace == REVOCATIONS.name:
            self._stale[event.key] = self._stale.get(event.key, 0) + 1

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

    async def forget(self, webids: Collection[str]) -> int:
        """Delete the records naming `webids` (they are erased, and their profiles with them,
        so no token issued for them verifies any more); how many there were."""
        forgotten = 0
        for key, revocation in await self._records.items():
            if revocation.webid in webids and await self._records.delete(key):
                self._before.pop(key, None)
                forgotten += 1
        return forgotten

    async def is_revoked(self, *, webid: str, client_id: str, issued_at: float) -> bool:
        """Whether a token issued at `issued_at` (its `iat`, whole seconds) was revoked. A token
        issued in the second of a revocation counts as revoked: `iat` cannot tell it apart."""
        if self._stale:
            await self._refresh()
        if not self._before:  # nothing revoked in the last hour: no hashing
            return False
        before = self._before.get(record_key(webid, client_id))
        if before is not None and issued_at <= before:
            return True
        # Asked once per token, when its signature is checked (pod.auth.tokens), not per request.
        every = self._before.get(record_key(webid, ALL_CLIENTS))
        return every is not None and issued_at <= every

    async def _refresh(self) -> None:
        """Re-read every stale record. One refresh at a time, so reads land in order; a check
        that found keys stale waits for the refresh under way rather than answer from the copy
        meanwhile (a key leaves `_stale` only once read)."""
        async with self._refreshing:
            for key, heard in list(self._stale.items()):
                found = await self._records.get(key)
                if found is None:
                    self._before.pop(key, None)
                else:
                    self._before[key] = found.before
                if self._stale.get(key) == heard:
                    del self._stale[key]
