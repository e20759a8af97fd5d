"""The DPoP replay cache across restarts: saved at shutdown, taken back at start. Imports
auth.dpop, storage.

Owns the KeyValueStore namespace `dpop`: one record, `replay`, the proof ids the last process saw
within the acceptance window. It is taken (read and removed at once) at start, so a crash after
it leaves none behind and the next start knows it cannot trust the cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, final

from pod.auth.dpop import ReplayCache
from pod.storage.kv import KeyValueStore, Record
from pod.storage.records import Expiry, Records, declare

log = logging.getLogger(__name__)
_KEY: Final = "replay"


@final
@dataclass(frozen=True, slots=True)
class SeenProofs:
    """Proof ids (as `ReplayCache.snapshot` gives them) with when they were seen, seconds since
    the epoch."""

    key: str  # the digests' key, hex
    seen: Mapping[str, float]  # digest (hex) -> the second it was seen in

    def to_json(self) -> Record:
        return {"key": self.key, "seen": dict(self.seen)}

    @classmethod
    def from_json(cls, key: str, data: Record) -> SeenProofs:
        seen, digest_key = data.get("seen"), data.get("key")
        if not isinstance(seen, dict) or not isinstance(digest_key, str):
            raise ValueError("no proof ids in the saved DPoP replay cache")
        return cls(digest_key, {str(k): float(v) for k, v in seen.items()})


# A saved cache is worth keeping only as long as the proofs it names are acceptable: the
# cache's window, which its writer gives.
DPOP: Final = declare("dpop", SeenProofs, ttl=Expiry.PER_RECORD)


async def resume(replay: ReplayCache, kv: KeyValueStore) -> None:
    """RFC 9449 §11.1: a DPoP proof is single-use, across restarts too. Take back the proof ids
    the previous process saved when it stopped; after a crash there are none, so proofs made
    before this start are refused. A proof's iat is in whole seconds, so those of the second this
    process started in still count: they were made while no server was running, unless the
    crash and the restart fell within that same second."""
    try:
        saved = await Records(kv, DPOP).take(_KEY)
        if saved is not None:
            replay.restore(saved.key, dict(saved.seen))
            return
    except (ValueError, TypeError):  # not what `save` writes: trust nothing from before
        pass
    replay.refuse_before(int(time.time()))


async def save(replay: ReplayCache, kv: KeyValueStore) -> None:
    """Keep what `replay` holds for the next process (at a graceful shutdown)."""
    try:
        digest_key, seen = replay.snapshot()
        await Records(kv, DPOP).put(_KEY, SeenProofs(digest_key, seen), ttl=replay.window)
    except OSError:
        log.exception(
            "could not save the DPoP replay cache; proofs older than the restart will be refused"
        )
