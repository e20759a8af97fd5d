"""Log-in sessions of the account pages: the server-side record a session cookie names.

Imports storage. Owns the KeyValueStore namespace `sessions`: a record per logged-in browser
(the account, the log-in time and the CSRF secret of its forms), kept for `LIFETIME`, so
logging out ends a session for good. Cookies, their signatures and CSRF checks are HTTP's
(`pod.http.sessions`); this module never sees a request.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Final, final

from pod.storage.kv import KeyValueStore, Record
from pod.storage.records import Records, declare

LIFETIME: Final = 14 * 24 * 3600


@final
@dataclass(frozen=True, slots=True)
class LoggedIn:
    """A logged-in session, stored under its id."""

    id: str
    csrf: str
    account: str
    auth_time: float

    def to_json(self) -> Record:
        return {"csrf": self.csrf, "account": self.account, "auth_time": self.auth_time}

    @classmethod
    def from_json(cls, key: str, data: Record) -> LoggedIn:
        return cls(key, str(data["csrf"]), str(data["account"]), float(data["auth_time"]))


# A session id in a signed cookie is a bearer credential: the change feed names it by hash.
SESSIONS: Final = declare("sessions", LoggedIn, ttl=LIFETIME, secret_keys=True)


@final
class LoginSessions:
    """Starts, finds and ends logged-in sessions."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._records = Records(kv, SESSIONS)

    async def find(self, session_id: str) -> LoggedIn | None:
        """The live session `session_id`, or None (never was, logged out, or expired)."""
        return await self._records.get(session_id)

    async def start(self, account: str, *, replacing: str | None = None) -> LoggedIn:
        """A new session for `account` with a fresh id (so no session fixation), ending the
        session `replacing` if given."""
        if replacing is not None:
            await self._records.delete(replacing)
        session = LoggedIn(
            id=secrets.token_urlsafe(24),
            csrf=secrets.token_urlsafe(24),
            account=account,
            auth_time=time.time(),
        )
        await self._records.put(session.id, session)
        return session

    async def end(self, session_id: str) -> None:
        await self._records.delete(session_id)

    async def end_all(self, account: str) -> int:
        """End every session of `account` (disabled, erased, or its password reset); how many.
        A scan of every session: the operator's commands and password resets are rare."""
        ended = 0
        for session_id, session in await self._records.items():
            if session.account == account and await self._records.delete(session_id):
                ended += 1
        return ended
