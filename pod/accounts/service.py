"""The account service: sign-up, log-in, pods, WebIDs and client credentials.

One code path for the JSON account API, the HTML pages and (through the API) the CLI. Imports
accounts.passwords, accounts.pods, storage.kv, ldp. Records live in the KeyValueStore:
`accounts` (by id), `emails` (email -> account id, claimed atomically), `pod_names`,
`credentials` (client id -> WebID binding and the secret's hash).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Final, final

from pod.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    verify_password,
)
from pod.accounts.pods import Pod, check_pod_name, provision_pod, webid_of
from pod.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthenticated
from pod.ldp.store import SolidStore
from pod.storage.kv import KeyValueStore

_EMAIL: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,62}$")
CREDENTIAL_PREFIX: Final = "kluis-cc-"
_NAME_MAX: Final = 100


def normalize_email(email: str) -> str:
    normalized = email.strip().lower()
    if len(normalized) > 254 or not _EMAIL.match(normalized):
        raise BadRequest("that is not an e-mail address")
    return normalized


def _secret_hash(secret: str) -> str:
    # Client secrets are 256 random bits, so a plain SHA-256 is as good as a slow hash here.
    return hashlib.sha256(secret.encode()).hexdigest()


@final
@dataclass(slots=True)
class Account:
    id: str
    email: str
    password_hash: str
    created: float
    pods: list[str] = field(default_factory=list)
    webids: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "password_hash": self.password_hash,
            "created": self.created,
            "pods": self.pods,
            "webids": self.webids,
        }

    @classmethod
    def from_record(cls, account_id: str, record: dict[str, Any]) -> Account:
        return cls(
            id=account_id,
            email=str(record["email"]),
            password_hash=str(record["password_hash"]),
            created=float(record["created"]),
            pods=list(record.get("pods", [])),
            webids=list(record.get("webids", [])),
        )


@final
@dataclass(frozen=True, slots=True)
class Credential:
    """A client-credentials pair's public half: which WebID it acts as, and for whom."""

    id: str
    name: str
    webid: str
    account: str
    created: float


@final
class LoginLimiter:
    """At most `attempts` failed log-ins per e-mail and per client within `window` seconds."""

    def __init__(self, *, attempts: int = 5, window: float = 900.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures[key]
        while stamps and stamps[0] < now - self.window:
            stamps.popleft()
        return stamps

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            stamps = self._recent(key, now)
            if len(stamps) >= self.attempts:
                retry = int(stamps[0] + self.window - now) + 1
                raise TooManyRequests(
                    f"too many failed log-ins; try again in {retry} seconds", retry_after=retry
                )

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)

    def succeed(self, key: str) -> None:
        self._failures.pop(key, None)


@final
class AccountService:
    def __init__(
        self,
        kv: KeyValueStore,
        store: SolidStore,
        *,
        issuer: str,
        password_cost: int = 15,
        allow_signup: bool = True,
        limiter: LoginLimiter | None = None,
    ) -> None:
        self.kv = kv
        self.store = store
        self.issuer = issuer
        self.password_cost = password_cost
        self.allow_signup = allow_signup
        self.limiter = limiter or LoginLimiter()

    # --- accounts ---------------------------------------------------------------------

    async def sign_up(self, email: str, password: str, *, pod: str | None = None) -> Account:
        """Create an account, and its first pod when `pod` names one."""
        if not self.allow_signup:
            raise Forbidden("sign-up is closed on this server")
        email = normalize_email(email)
        if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise BadRequest(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        if pod is not None:
            check_pod_name(pod)
        account_id = secrets.token_hex(12)
        if not await self.kv.put_new("emails", email, {"account": account_id}):
            raise Conflict("there is already an account with that e-mail address")
        account = Account(
            id=account_id,
            email=email,
            password_hash=await hash_password(password, cost=self.password_cost),
            created=time.time(),
        )
        await self.kv.put("accounts", account_id, account.record())
        if pod is not None:
            try:
                await self.add_pod(account, pod)
            except (BadRequest, Conflict):
                await self.kv.delete("accounts", account_id)
                await self.kv.delete("emails", email)
                raise
        return account

    async def log_in(self, email: str, password: str, *, client: str) -> Account:
        """The account for these credentials. Raises Unauthenticated or TooManyRequests."""
        try:
            email = normalize_email(email)
        except BadRequest as exc:
            raise Unauthenticated("wrong e-mail address or password") from exc
        keys = (f"email:{email}", f"client:{client}")
        self.limiter.check(*keys)
        found = await self.kv.get("emails", email)
        account = await self.get(str(found["account"])) if found else None
        # Hash even for unknown e-mail addresses, so timing does not reveal which exist.
        stored = account.password_hash if account else f"scrypt${self.password_cost}$8$1$AA$AA"
        if not await verify_password(password[:MAX_PASSWORD_LENGTH], stored) or account is None:
            self.limiter.fail(*keys)
            raise Unauthenticated("wrong e-mail address or password")
        self.limiter.succeed(keys[0])
        return account

    async def get(self, account_id: str) -> Account | None:
        record = await self.kv.get("accounts", account_id)
        return None if record is None else Account.from_record(account_id, record)

    async def require(self, account_id: str) -> Account:
        account = await self.get(account_id)
        if account is None:
            raise Unauthenticated("the account no longer exists; log in again")
        return account

    # --- pods -------------------------------------------------------------------------

    async def add_pod(self, account: Account, name: str, *, title: str = "") -> Pod:
        check_pod_name(name)
        if not await self.kv.put_new("pod_names", name, {"account": account.id}):
            raise Conflict(f"the pod name {name!r} is taken")
        try:
            pod = await provision_pod(self.store, name, issuer=self.issuer, title=title)
        except Exception:
            await self.kv.delete("pod_names", name)
            raise
        account.pods.append(name)
        account.webids.append(pod.webid)
        await self.kv.put("accounts", account.id, account.record())
        return pod

    def pods(self, account: Account) -> list[Pod]:
        return [
            Pod(name=n, root=self.store.url(f"/{n}/"), webid=webid_of(self.store, n))
            for n in account.pods
        ]

    # --- client credentials -------------------------------------------------------------

    async def create_credential(
        self, account: Account, *, webid: str, name: str
    ) -> tuple[Credential, str]:
        """A new client id and secret acting as `webid`, which `account` must own."""
        if webid not in account.webids:
            raise Forbidden(f"{webid} is not a WebID of this account")
        name = name.strip()[:_NAME_MAX]
        if not name:
            raise BadRequest("give the credential a name, to recognise it later")
        client_id = CREDENTIAL_PREFIX + secrets.token_hex(12)
        secret = secrets.token_urlsafe(32)
        credential = Credential(client_id, name, webid, account.id, time.time())
        await self.kv.put(
            "credentials",
            client_id,
            {
                "name": name,
                "webid": webid,
                "account": account.id,
                "created": credential.created,
                "secret_hash": _secret_hash(secret),
            },
        )
        return credential, secret

    async def credentials(self, account: Account) -> list[Credential]:
        return sorted(
            (
                Credential(cid, str(r["name"]), str(r["webid"]), str(r["account"]), r["created"])
                for cid, r in await self.kv.items("credentials")
                if r.get("account") == account.id
            ),
            key=lambda c: c.created,
        )

    async def revoke_credential(self, account: Account, client_id: str) -> None:
        record = await self.kv.get("credentials", client_id)
        if record is None or record.get("account") != account.id:
            raise NotFound("no such credential on this account")
        await self.kv.delete("credentials", client_id)

    async def check_client_secret(self, client_id: str, secret: str) -> Credential | None:
        """The credential if `secret` is right (constant-time), else None."""
        record = await self.kv.get("credentials", client_id)
        if record is None:
            return None
        if not hmac.compare_digest(_secret_hash(secret), str(record["secret_hash"])):
            return None
        return Credential(
            client_id,
            str(record["name"]),
            str(record["webid"]),
            str(record["account"]),
            record["created"],
        )
