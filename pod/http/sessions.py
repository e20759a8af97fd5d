"""Browser sessions for the account pages: a signed, HttpOnly, SameSite cookie, plus a CSRF token
for every form.

The cookie is a compact JWS (HS256, joserfc; the key is the identity provider's
`pod.idp.keys.CookieKeys`), so a forged or altered cookie is ignored. Before log-in it carries
only a random CSRF secret and nothing is stored server-side: a visitor who has not submitted a
form leaves no state behind (pages are cheap to request, so anything they stored would be a
disk-filling lever). At log-in it is replaced by one naming a session record kept server-side
(`pod.accounts.sessions`: the account and the log-in time), so logging out ends the session for
good; the new session id also rules out session fixation.

A second cookie, the device cookie, marks a browser that has logged in to an account before; the
log-in limits (`pod.accounts.service.LoginLimiter`) count its attempts apart from strangers'.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Final, final

from aiohttp import web
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from pod.accounts.sessions import LIFETIME, LoginSessions
from pod.idp.keys import CookieKeys

log = logging.getLogger(__name__)

COOKIE: Final = "kluis_session"
DEVICE_COOKIE: Final = "kluis_device"
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
    def __init__(
        self, logins: LoginSessions, keys: CookieKeys, *, secure: bool, path: str = "/"
    ) -> None:
        self.logins = logins
        self.keys = keys
        self.secure = secure
        self.path = path
        self._key: OctKey | None = None

    async def _signing_key(self) -> OctKey:
        if self._key is None:
            self._key = OctKey.import_key(await self.keys.current())
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
        found = await self.logins.find(session_id)
        if found is None:
            return None
        return Session(
            id=found.id, csrf=found.csrf, account=found.account, auth_time=found.auth_time
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
        started = await self.logins.start(
            account, replacing=None if previous is None else previous.id
        )
        session = Session(
            id=started.id, csrf=started.csrf, account=account, auth_time=started.auth_time
        )
        await self._write(response, COOKIE, {"sid": started.id}, LIFETIME)
        await self._write(
            response,
            DEVICE_COOKIE,
            {"dev": secrets.token_urlsafe(16), "acc": account},
            DEVICE_LIFETIME,
        )
        return session

    async def end(self, session: Session | None, response: web.StreamResponse) -> None:
        if session is not None and session.id is not None:
            await self.logins.end(session.id)
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
