"""Browser sessions for the account pages: a signed, HttpOnly, SameSite cookie naming a session
record kept server-side, plus a per-session CSRF token for every form.

The cookie is a compact JWS (HS256, joserfc) over the session id, so a forged or altered cookie
is ignored; the record holds the account and the log-in time, so logging out ends the session for
good. A new session id is issued at log-in (no session fixation).
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Final, final

from aiohttp import web
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from pod.storage.kv import KeyValueStore

COOKIE: Final = "kluis_session"
LIFETIME: Final = 14 * 24 * 3600


@final
@dataclass(slots=True)
class Session:
    id: str
    csrf: str
    account: str | None = None
    auth_time: float | None = None


@final
class Sessions:
    def __init__(self, kv: KeyValueStore, *, secure: bool, path: str = "/") -> None:
        self.kv = kv
        self.secure = secure
        self.path = path
        self._key: OctKey | None = None

    async def _signing_key(self) -> OctKey:
        if self._key is None:
            record = await self.kv.get("idp", "cookie_key")
            if record is None:
                await self.kv.put_new("idp", "cookie_key", {"k": secrets.token_urlsafe(32)})
                record = await self.kv.get("idp", "cookie_key")
            assert record is not None
            self._key = OctKey.import_key(str(record["k"]))
        return self._key

    async def load(self, request: web.Request) -> Session | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie or len(cookie) > 1024:
            return None
        try:
            verified = jws.deserialize_compact(
                cookie, await self._signing_key(), algorithms=["HS256"]
            )
            session_id = json.loads(verified.payload)["sid"]
        except (JoseError, ValueError, KeyError, TypeError):
            return None
        record = await self.kv.get("sessions", str(session_id))
        if record is None:
            return None
        return Session(
            id=str(session_id),
            csrf=str(record["csrf"]),
            account=record.get("account"),
            auth_time=record.get("auth_time"),
        )

    async def ensure(self, request: web.Request, response: web.StreamResponse) -> Session:
        """The request's session, or a new anonymous one (set on `response`)."""
        found = await self.load(request)
        return found if found is not None else await self.start(response)

    async def start(self, response: web.StreamResponse, *, account: str | None = None) -> Session:
        session = Session(
            id=secrets.token_urlsafe(24),
            csrf=secrets.token_urlsafe(24),
            account=account,
            auth_time=time.time() if account else None,
        )
        await self.kv.put(
            "sessions",
            session.id,
            {"csrf": session.csrf, "account": session.account, "auth_time": session.auth_time},
            ttl=LIFETIME,
        )
        token = jws.serialize_compact(
            {"alg": "HS256"},
            json.dumps({"sid": session.id}).encode(),
            await self._signing_key(),
            algorithms=["HS256"],
        )
        response.set_cookie(
            COOKIE,
            token,
            max_age=LIFETIME,
            path=self.path,
            httponly=True,
            secure=self.secure,
            samesite="Lax",
        )
        return session

    async def log_in(
        self, previous: Session | None, response: web.StreamResponse, account: str
    ) -> Session:
        """A fresh session for `account`, replacing the previous one."""
        if previous is not None:
            await self.kv.delete("sessions", previous.id)
        return await self.start(response, account=account)

    async def end(self, session: Session | None, response: web.StreamResponse) -> None:
        if session is not None:
            await self.kv.delete("sessions", session.id)
        response.del_cookie(COOKIE, path=self.path)

    @staticmethod
    def check_csrf(session: Session | None, token: str | None) -> bool:
        return (
            session is not None
            and token is not None
            and hmac.compare_digest(session.csrf.encode(), token.encode())
        )
