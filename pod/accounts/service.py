"""The account service: sign-up, log-in, pods, WebIDs and client credentials.

One code path for the JSON account API, the HTML pages and (through the API) the CLI. Imports
accounts.passwords, accounts.pods, storage.kv, ldp. Records live in the KeyValueStore:
`accounts` (by id), `emails` (email -> account id, claimed atomically), `pod_names`,
`credentials` (client id -> WebID binding and the secret's hash).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final, final

from pod.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    check_new_password,
    hash_password,
    verify_password,
)
from pod.accounts.pods import Pod, check_pod_name, provision_pod, webid_of
from pod.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthenticated
from pod.ldp.resources import ResourceStore
from pod.ratelimit import RateLimiter
from pod.storage.kv import KeyValueStore

_EMAIL: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,62}$")
CREDENTIAL_PREFIX: Final = "kluis-cc-"
SIGNUPS_PER_HOUR: Final = 20
_NAME_MAX: Final = 100
API_TOKEN_LIFETIME: Final = 24 * 3600


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Audit lines name accounts by id and WebID, never by e-mail address (personal data), and never
# carry a password or secret.
log = logging.getLogger(__name__)


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

    @classmethod
    def from_record(cls, client_id: str, record: dict[str, Any]) -> Credential:
        return cls(
            client_id,
            str(record["name"]),
            str(record["webid"]),
            str(record["account"]),
            float(record["created"]),
        )


@final
@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """Where a log-in comes from: the client's address, and the device cookie of a browser that
    logged in to an account before (`device` its id, `device_account` that account), if any."""

    address: str
    device: str | None = None
    device_account: str | None = None


_Slots = list[tuple[RateLimiter, str]]
_WINDOW: Final = 900.0


@final
class LoginLimiter:
    """Limits on password guessing that slow an attacker down without locking the owner out.

    Attempts are counted before the password is checked, so concurrent guesses cannot slip past
    the count (the right one among forty is refused like the rest). A browser that logged in to
    the account before carries a device cookie (OWASP, "Slow Down Online Guessing Attacks with
    Device Cookies"), and its attempts count only against that device: an attacker, who has
    none, cannot lock the owner's browser out. Attempts from unknown devices count per client
    address (proxies trusted by the `trusted_proxies` setting are looked through), per address
    and account, and per account: guessing one account from many addresses is slowed to
    `per_account` tries per window in all, while its owner's browser keeps working.
    """

    def __init__(
        self,
        *,
        per_pair: int = 5,
        per_address: int = 20,
        per_account: int = 10,
        per_device: int = 5,
        window: float = _WINDOW,
    ) -> None:
        what = "failed log-ins"
        self.pairs = RateLimiter(limit=per_pair, window=window, what=what)
        self.addresses = RateLimiter(limit=per_address, window=window, what=what + " from here")
        self.accounts = RateLimiter(
            limit=per_account, window=window, what=what + " for this account from new devices"
        )
        self.devices = RateLimiter(limit=per_device, window=window, what=what)

    def begin(self, email: str, attempt: LoginAttempt, *, account: str | None) -> _Slots:
        """Count an attempt at `email` (whose account id is `account`, if any) in every limit
        that applies, or raise TooManyRequests having counted nothing."""
        slots: _Slots
        if attempt.device is not None and account is not None and attempt.device_account == account:
            slots = [(self.devices, attempt.device)]
        else:
            slots = [
                (self.addresses, attempt.address),
                (self.pairs, f"{attempt.address}|{email}"),
                (self.accounts, email),
            ]
        for limiter, key in slots:
            try:
                limiter.check(key)
            except TooManyRequests:
                log.info(
                    "log-in locked out: too many %s (account %s, address %s)",
                    limiter.what,
                    account or "unknown",
                    attempt.address,
                )
                raise
        for limiter, key in slots:
            limiter.take(key)
        return slots

    def succeeded(self, slots: _Slots) -> None:
        """The password was right: this attempt, and the failures of its pair or device before
        it (the owner's typos), no longer count."""
        for limiter, key in slots:
            if limiter is self.pairs or limiter is self.devices:
                limiter.forget(key)
            else:
                limiter.give_back(key)


@final
class AccountService:
    def __init__(
        self,
        kv: KeyValueStore,
        store: ResourceStore,
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
        self.signups = RateLimiter(
            limit=SIGNUPS_PER_HOUR, window=3600.0, what="sign-ups from this address"
        )

    # --- accounts ---------------------------------------------------------------------

    async def sign_up(
        self, email: str, password: str, *, pod: str | None = None, address: str
    ) -> Account:
        """Create an account, and its first pod when `pod` names one. `address` is the client's:
        each may try `SIGNUPS_PER_HOUR` sign-ups, since each tells whether an e-mail address
        has an account here and each account costs storage."""
        if not self.allow_signup:
            raise Forbidden("sign-up is closed on this server")
        self.signups.take(address)
        email = normalize_email(email)
        if pod is not None:
            check_pod_name(pod)
        context = [email, email.split("@", 1)[0], pod or "", "kluis", "solid"]
        await asyncio.to_thread(check_new_password, password, context=context)
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
        log.info("signed up: account %s, WebID %s", account.id, ", ".join(account.webids) or "-")
        return account

    async def log_in(self, email: str, password: str, *, attempt: LoginAttempt) -> Account:
        """The account for these credentials. Raises Unauthenticated or TooManyRequests."""
        try:
            email = normalize_email(email)
        except BadRequest as exc:
            raise Unauthenticated("wrong e-mail address or password") from exc
        found = await self.kv.get("emails", email)
        account_id = str(found["account"]) if found else None
        slots = self.limiter.begin(email, attempt, account=account_id)
        account = await self.get(account_id) if account_id else None
        # Hash even for unknown e-mail addresses, so timing does not reveal which exist.
        stored = account.password_hash if account else f"scrypt${self.password_cost}$8$1$AA$AA"
        if not await verify_password(password[:MAX_PASSWORD_LENGTH], stored) or account is None:
            raise Unauthenticated("wrong e-mail address or password")
        self.limiter.succeeded(slots)
        return account

    async def get(self, account_id: str) -> Account | None:
        record = await self.kv.get("accounts", account_id)
        return None if record is None else Account.from_record(account_id, record)

    async def require(self, account_id: str) -> Account:
        account = await self.get(account_id)
        if account is None:
            raise Unauthenticated("the account no longer exists; log in again")
        return account

    # --- API tokens (the JSON account API, `kluis account` and `kluis client`) --------------

    async def issue_api_token(self, account: Account) -> str:
        """A bearer token for the account API, valid API_TOKEN_LIFETIME seconds.

        Kept under its SHA-256 only, so reading the data directory yields no usable token.
        """
        token = secrets.token_urlsafe(32)
        await self.kv.put(
            "api_tokens", _token_key(token), {"account": account.id}, ttl=API_TOKEN_LIFETIME
        )
        return token

    async def account_of_api_token(self, token: str) -> Account:
        record = await self.kv.get("api_tokens", _token_key(token))
        if record is None:
            raise Unauthenticated("the API token is invalid or expired; log in again")
        return await self.require(str(record["account"]))

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
        log.info(
            "client credentials %s created: WebID %s, account %s", client_id, webid, account.id
        )
        return credential, secret

    async def credentials(self, account: Account) -> list[Credential]:
        return sorted(
            (
                Credential.from_record(cid, r)
                for cid, r in await self.kv.items("credentials")
                if r.get("account") == account.id
            ),
            key=lambda c: c.created,
        )

    async def revoke_credential(self, account: Account, client_id: str) -> Credential:
        """Delete credentials of `account`; return what they were. Raises NotFound."""
        record = await self.kv.get("credentials", client_id)
        if record is None or record.get("account") != account.id:
            raise NotFound("no such credential on this account")
        await self.kv.delete("credentials", client_id)
        credential = Credential.from_record(client_id, record)
        log.info(
            "client credentials %s revoked: WebID %s, account %s",
            client_id,
            credential.webid,
            account.id,
        )
        return credential

    async def check_client_secret(self, client_id: str, secret: str) -> Credential | None:
        """The credential if `secret` is right (constant-time), else None."""
        record = await self.kv.get("credentials", client_id)
        if record is None:
            return None
        if not hmac.compare_digest(_secret_hash(secret), str(record["secret_hash"])):
            return None
        return Credential.from_record(client_id, record)
