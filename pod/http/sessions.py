"""Browser sessions for the account pages: a signed, HttpOnly, SameSite cookie, plus a CSRF token
for every form.

The cookie is a compact JWS (HS256, joserfc), so a forged or altered cookie is ignored. Before
log-in it carries only a random CSRF secret and nothing is stored server-side: a visitor who has
not submitted a form leaves no state behind (pages are cheap to request, so anything they stored
would be a disk-filling lever). At log-in it is replaced by one naming a session record kept
server-side (the account and the log-in time), so logging out ends the session for good; the new
session id also rules out session fixation.

A second cookie, the device cookie, marks a browser that has logged in to an account before; the
log-in limits (`pod.accounts.service.LoginLimiter`) count its attempts apart from strangers'.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Final, final

from aiohttp import web
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from pod.storage.kv import KeyValueStore

log = logging.getLogger(__name__)

COOKIE: Final = "kluis_session"
DEVICE_COOKIE: Final = "kluis_device"
LIFETIME: Final = 14 * 24 * 3600
DEVICE_LIFETIME: Final = 365 * 24 * 3600
_MAX_COOKIE: Final = 1024


@final
@dataclass(slots=True)
class Session:
    """A logged-in session (`id` names its record), or a visitor's (`id` None: nothing stored)."""

    id: str | None
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

    async def _read(self, request: web.Request, name: str) -> dict[str, object] | None:
        """The payload of our signed cookie `name`, or None if absent, altered or not ours."""
        cookie = request.cookies.get(name)
        if not cookie or len(cookie) > _MAX_COOKIE:
            return None
        try:
            verified = jws.deserialize_compact(
                cookie, await self._signing_key(), algorithms=["HS256"]
            )
            payload = json.loads(verified.payload)
        except (JoseError, ValueError, TypeError, RecursionError):
            return None
        return payload if isinstance(payload, dict) else None

    async def _write(
        self, response: web.StreamResponse, name: str, payload: dict[str, str], max_age: int
    ) -> None:
        token = jws.serialize_compact(
            {"alg": "HS256"},
            json.dumps(payload).encode(),
            await self._signing_key(),
            algorithms=["HS256"],
        )
        response.set_cookie(
            name,
            token,
            max_age=max_age,
            path=self.path,
            httponly=True,
            secure=self.secure,
            samesite="Lax",
        )

    async def load(self, request: web.Request) -> Session | None:
        payload = await self._read(request, COOKIE)
        if payload is None:
            return None
        csrf = payload.get("csrf")
        if isinstance(csrf, str):
            return Session(id=None, csrf=csrf)
        session_id = payload.get("sid")
        if not isinstance(session_id, str):
            return None
        record = await self.kv.get("sessions", session_id)
        if record is None:
            return None
        return Session(
            id=session_id,
            csrf=str(record["csrf"]),
            account=record.get("account"),
            auth_time=record.get("auth_time"),
        )

    async def ensure(self, request: web.Request, response: web.StreamResponse) -> Session:
        """The request's session, or a visitor's one (a cookie set on `response`, nothing kept)."""
        found = await self.load(request)
        if found is not None:
            return found
        session = Session(id=None, csrf=secrets.token_urlsafe(24))
        await self._write(response, COOKIE, {"csrf": session.csrf}, LIFETIME)
        return session

    async def log_in(
        self, previous: Session | None, response: web.StreamResponse, account: str
    ) -> Session:
        """A fresh session for `account`, replacing the previous one."""
        if previous is not None and previous.id is not None:
            await self.kv.delete("sessions", previous.id)
        session_id = secrets.token_urlsafe(24)
        session = Session(
            id=session_id, csrf=secrets.token_urlsafe(24), account=account, auth_time=time.time()
        )
        await self.kv.put(
            "sessions",
            session_id,
            {"csrf": session.csrf, "account": account, "auth_time": session.auth_time},
            ttl=LIFETIME,
        )
        await self._write(response, COOKIE, {"sid": session_id}, LIFETIME)
        await self._write(
            response,
            DEVICE_COOKIE,
            {"dev": secrets.token_urlsafe(16), "acc": account},
            DEVICE_LIFETIME,
        )
        return session

    async def end(self, session: Session | None, response: web.StreamResponse) -> None:
        if session is not None and session.id is not None:
            await self.kv.delete("sessions", session.id)
            if session.account is not None:
                log.info("logged out: account %s", session.account)
        response.del_cookie(COOKIE, path=self.path)

    async def device(self, request: web.Request) -> tuple[str, str] | None:
        """The (device id, account id) of this browser's device cookie, if it has a valid one."""
        payload = await self._read(request, DEVICE_COOKIE)
        if payload is None:
            return None
        device, account = payload.get("dev"), payload.get("acc")
        if not isinstance(device, str) or not isinstance(account, str):
            return None
        return device, account

    @staticmethod
    def check_csrf(session: Session | None, token: str | None) -> bool:
        return (
            session is not None
            and token is not None
            and hmac.compare_digest(session.csrf.encode(), token.encode())
        )
