"""The account service: sign-up, log-in, pods, WebIDs and client credentials.

One code path for the JSON account API, the HTML pages and (through the API) the CLI. Imports
accounts.passwords, accounts.pods, storage, ldp. This module owns these KeyValueStore
namespaces: `accounts` (by id), `emails` (email -> account id, claimed atomically), `pod_names`,
`credentials` (client id -> WebID binding and the secret's hash), `api_tokens` (a token's
SHA-256 -> account id) and `resets` (a one-time password-reset token's SHA-256 -> account id,
valid an hour: `kluis admin reset-link`, for servers with no mail to send one).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final, final

from pod.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    check_new_password,
    hash_password,
    verify_password,
)
from pod.accounts.pods import Pod, check_pod_name, provision_pod, webid_of
from pod.accounts.tombstones import Tombstones
from pod.errors import (
    AccountDisabled,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from pod.ldp.resources import ResourceStore
from pod.ratelimit import RateLimiter
from pod.storage.kv import KeyValueStore, Record
from pod.storage.records import Expiry, Records, declare

_EMAIL: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,62}$")
CREDENTIAL_PREFIX: Final = "kluis-cc-"
SIGNUPS_PER_HOUR: Final = 20
_NAME_MAX: Final = 100
API_TOKEN_LIFETIME: Final = 24 * 3600
RESET_LIFETIME: Final = 3600


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
    """An account, stored under its id. Not frozen: `add_pod` extends the caller's copy.
    `disabled`: the operator disabled it; records stored before the flag existed load as
    enabled."""

    id: str
    email: str
    password_hash: str
    created: float
    pods: list[str] = field(default_factory=list)
    webids: list[str] = field(default_factory=list)
    disabled: bool = False

    def to_json(self) -> Record:
        stored: Record = {
            "email": self.email,
            "password_hash": self.password_hash,
            "created": self.created,
            "pods": self.pods,
            "webids": self.webids,
        }
        if self.disabled:  # absent otherwise: an enabled account keeps the form it had
            stored["disabled"] = True
        return stored

    @classmethod
    def from_json(cls, key: str, data: Record) -> Account:
        return cls(
            id=key,
            email=str(data["email"]),
            password_hash=str(data["password_hash"]),
            created=float(data["created"]),
            pods=list(data.get("pods", [])),
            webids=list(data.get("webids", [])),
            disabled=bool(data.get("disabled", False)),
        )


@final
@dataclass(frozen=True, slots=True)
class Owner:
    """Whose something is: the account an e-mail address, a pod name or an API token names."""

    account: str

    def to_json(self) -> Record:
        return {"account": self.account}

    @classmethod
    def from_json(cls, key: str, data: Record) -> Owner:
        return cls(str(data["account"]))


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
@dataclass(frozen=True, slots=True)
class _StoredCredential:
    """A credential as stored under its client id: with its secret's hash."""

    credential: Credential
    secret_hash: str

    def to_json(self) -> Record:
        c = self.credential
        return {
            "name": c.name,
            "webid": c.webid,
            "account": c.account,
            "created": c.created,
            "secret_hash": self.secret_hash,
        }

    @classmethod
    def from_json(cls, key: str, data: Record) -> _StoredCredential:
        credential = Credential(
            key,
            str(data["name"]),
            str(data["webid"]),
            str(data["account"]),
            float(data["created"]),
        )
        return cls(credential, str(data["secret_hash"]))


ACCOUNTS: Final = declare("accounts", Account, ttl=Expiry.NEVER)
# E-mail addresses are personal data: the change feed names them by hash.
EMAILS: Final = declare("emails", Owner, ttl=Expiry.NEVER, secret_keys=True)
POD_NAMES: Final = declare("pod_names", Owner, ttl=Expiry.NEVER)
CREDENTIALS: Final = declare("credentials", _StoredCredential, ttl=Expiry.NEVER)
API_TOKENS: Final = declare("api_tokens", Owner, ttl=API_TOKEN_LIFETIME)  # keyed by hash
RESETS: Final = declare("resets", Owner, ttl=RESET_LIFETIME)  # keyed by hash
_DISABLED: Final = "this account was disabled by the operator of this server; ask them about it"
_RESET_GONE: Final = "this password-reset link is unknown, expired or used already"


async def all_accounts(kv: KeyValueStore) -> list[Account]:
    """Every account, by id (for maintenance, with no server running)."""
    return [account for _, account in sorted(await Records(kv, ACCOUNTS).items(), key=_first)]


def _first(item: tuple[str, Account]) -> str:
    return item[0]


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
        tombstones: Tombstones | None = None,
    ) -> None:
        self.kv = kv
        self._accounts = Records(kv, ACCOUNTS)
        self._emails = Records(kv, EMAILS)
        self._pod_names = Records(kv, POD_NAMES)
        self._credentials = Records(kv, CREDENTIALS)
        self._api_tokens = Records(kv, API_TOKENS)
        self._resets = Records(kv, RESETS)
        self.store = store
        self.issuer = issuer
        self.password_cost = password_cost
        self.allow_signup = allow_signup
        self.limiter = limiter or LoginLimiter()
        self.tombstones = tombstones  # names held back after an erasure
        self.signups = RateLimiter(
            limit=SIGNUPS_PER_HOUR, window=3600.0, what="sign-ups from this address"
        )

    # --- accounts ---------------------------------------------------------------------

    async def sign_up(
        self,
        email: str,
        password: str,
        *,
        pod: str | None = None,
        address: str,
        reclaim: str | None = None,
    ) -> Account:
        """Create an account, and its first pod when `pod` names one. `address` is the client's:
        each may try `SIGNUPS_PER_HOUR` sign-ups, since each tells whether an e-mail address
        has an account here and each account costs storage. `reclaim`: the reclaim code of an
        erased pod whose name is still held (`add_pod`)."""
        if not self.allow_signup:
            raise Forbidden("sign-up is closed on this server")
        self.signups.take(address)
        email = normalize_email(email)
        if pod is not None:
            check_pod_name(pod)
            if self.tombstones is not None:
                await self.tombstones.claim(pod, reclaim, check_only=True)
        context = [email, email.split("@", 1)[0], pod or "", "kluis", "solid"]
        await asyncio.to_thread(check_new_password, password, context=context)
        account_id = secrets.token_hex(12)
        if not await self._emails.put_new(email, Owner(account_id)):
            raise Conflict("there is already an account with that e-mail address")
        account = Account(
            id=account_id,
            email=email,
            password_hash=await hash_password(password, cost=self.password_cost),
            created=time.time(),
        )
        await self._accounts.put(account_id, account)
        if pod is not None:
            try:
                await self.add_pod(account, pod, reclaim=reclaim)
            except (BadRequest, Conflict):
                await self._accounts.delete(account_id)
                await self._emails.delete(email)
                raise
        log.info("signed up: account %s, WebID %s", account.id, ", ".join(account.webids) or "-")
        return account

    async def log_in(self, email: str, password: str, *, attempt: LoginAttempt) -> Account:
        """The account for these credentials. Raises Unauthenticated or TooManyRequests."""
        try:
            email = normalize_email(email)
        except BadRequest as exc:
            raise Unauthenticated("wrong e-mail address or password") from exc
        found = await self._emails.get(email)
        account_id = found.account if found else None
        slots = self.limiter.begin(email, attempt, account=account_id)
        account = await self.get(account_id) if account_id else None
        # Hash even for unknown e-mail addresses, so timing does not reveal which exist.
        stored = account.password_hash if account else f"scrypt${self.password_cost}$8$1$AA$AA"
        if not await verify_password(password[:MAX_PASSWORD_LENGTH], stored) or account is None:
            raise Unauthenticated("wrong e-mail address or password")
        self.limiter.succeeded(slots)
        # Only after the password: a guesser learns nothing about the account from it.
        if account.disabled:
            raise AccountDisabled(_DISABLED)
        return account

    async def get(self, account_id: str) -> Account | None:
        return await self._accounts.get(account_id)

    async def has_accounts(self) -> bool:
        return bool(await self._emails.items())

    async def require(self, account_id: str) -> Account:
        """The account, enabled. Raises Unauthenticated or AccountDisabled."""
        account = await self.get(account_id)
        if account is None:
            raise Unauthenticated("the account no longer exists; log in again")
        if account.disabled:
            raise AccountDisabled(_DISABLED)
        return account

    async def by_email(self, email: str) -> Account:
        """The account of `email`. Raises BadRequest (not an address) or NotFound."""
        found = await self._emails.get(normalize_email(email))
        account = None if found is None else await self.get(found.account)
        if account is None:
            raise NotFound("no account has that e-mail address")
        return account

    # --- the operator's (`kluis admin`) --------------------------------------------------

    async def set_disabled(self, account: Account, disabled: bool) -> None:
        """Disable or enable `account`. Disabling also deletes its API tokens; ending its page
        sessions and its apps' tokens is for the callers that own them (the HTTP sessions, the
        identity provider)."""
        account.disabled = disabled
        await self._accounts.put(account.id, account)
        if disabled:
            await self.forget_api_tokens(account)
        log.info("account %s %s by the operator", account.id, "disabled" if disabled else "enabled")

    async def forget_api_tokens(self, account: Account) -> int:
        """Delete every API token of `account`; how many there were."""
        gone = 0
        for key, owner in await self._api_tokens.items():
            if owner.account == account.id and await self._api_tokens.delete(key):
                gone += 1
        return gone

    async def issue_reset(self, account: Account) -> str:
        """A one-time password-reset token for `account`, valid RESET_LIFETIME seconds. Kept
        under its SHA-256 only, like API tokens."""
        token = secrets.token_urlsafe(32)
        await self._resets.put(_token_key(token), Owner(account.id))
        log.info("password-reset link made for account %s", account.id)
        return token

    async def account_of_reset(self, token: str) -> Account | None:
        """The account a live reset token is for (nothing is redeemed), or None."""
        found = await self._resets.get(_token_key(token)) if token else None
        return None if found is None else await self.get(found.account)

    async def reset_password(self, token: str, password: str) -> Account:
        """Redeem a reset token: `password` becomes the account's, and its API tokens go.
        The new password is checked before the token is taken, so a weak one does not use
        the link up. Raises BadRequest (a weak password) or Unauthenticated (the token is
        unknown, expired or used)."""
        account = await self.account_of_reset(token)
        if account is None:
            raise Unauthenticated(_RESET_GONE)
        context = [account.email, account.email.split("@", 1)[0], *account.pods, "kluis", "solid"]
        await asyncio.to_thread(check_new_password, password, context=context)
        password_hash = await hash_password(password, cost=self.password_cost)
        # Of two concurrent redemptions only one takes the record.
        taken = await self._resets.take(_token_key(token))
        fresh = None if taken is None else await self.get(taken.account)
        if fresh is None:
            raise Unauthenticated(_RESET_GONE)
        fresh.password_hash = password_hash
        await self._accounts.put(fresh.id, fresh)
        await self.forget_api_tokens(fresh)
        log.info("password reset with a one-time link: account %s", fresh.id)
        return fresh

    # --- API tokens (the JSON account API, `kluis account` and `kluis client`) --------------

    async def issue_api_token(self, account: Account) -> str:
        """A bearer token for the account API, valid API_TOKEN_LIFETIME seconds.

        Kept under its SHA-256 only, so reading the data directory yields no usable token.
        """
        token = secrets.token_urlsafe(32)
        await self._api_tokens.put(_token_key(token), Owner(account.id))
        return token

    async def account_of_api_token(self, token: str) -> Account:
        found = await self._api_tokens.get(_token_key(token))
        if found is None:
            raise Unauthenticated("the API token is invalid or expired; log in again")
        return await self.require(found.account)

    # --- pods -------------------------------------------------------------------------

    async def add_pod(
        self, account: Account, name: str, *, title: str = "", reclaim: str | None = None
    ) -> Pod:
        """Create pod `name` for `account`. A name held after an erasure needs its `reclaim`
        code (Conflict without it), which ends the hold once the pod exists."""
        check_pod_name(name)
        if self.tombstones is not None:
            await self.tombstones.claim(name, reclaim, check_only=True)
        if not await self._pod_names.put_new(name, Owner(account.id)):
            raise Conflict(f"the pod name {name!r} is taken")
        try:
            pod = await provision_pod(self.store, name, issuer=self.issuer, title=title)
        except Exception:
            await self._pod_names.delete(name)
            raise
        if self.tombstones is not None:
            await self.tombstones.claim(name, reclaim)
        account.pods.append(name)
        account.webids.append(pod.webid)
        await self._accounts.put(account.id, account)
        return pod

    def pods(self, account: Account) -> list[Pod]:
        return [
            Pod(name=n, root=self.store.url(f"/{n}/"), webid=webid_of(self.store, n))
            for n in account.pods
        ]

    # --- erasure (pod.rights.erasure) ---------------------------------------------------

    async def forget_credentials(
        self, account_id: str, webids: Collection[str], *, whole: bool
    ) -> int:
        """Delete the client credentials of `account_id` acting as `webids`, and (`whole`: the
        account goes) its API tokens; the records deleted."""
        deleted = 0
        for key, stored in await self._credentials.items():
            credential = stored.credential
            if credential.account == account_id and (whole or credential.webid in webids):
                deleted += await self._credentials.delete(key)
        if whole:
            for key, owner in await self._api_tokens.items():
                if owner.account == account_id:
                    deleted += await self._api_tokens.delete(key)
        return deleted

    async def remove_pods(self, account_id: str, names: Collection[str]) -> int:
        """Take erased pods `names` off the account and free their names' records (the names
        stay held by pod.accounts.tombstones); the records deleted."""
        deleted = 0
        account = await self.get(account_id)
        if account is not None:
            kept = [
                (n, w) for n, w in zip(account.pods, account.webids, strict=False) if n not in names
            ]
            account.pods = [n for n, _ in kept]
            account.webids = [w for _, w in kept]
            await self._accounts.put(account_id, account)
        for name in names:
            found = await self._pod_names.get(name)
            if found is not None and found.account == account_id:
                deleted += await self._pod_names.delete(name)
        return deleted

    async def remove_account(self, account_id: str) -> int:
        """Delete the account's record and its e-mail address's (its pods' names first, with
        `remove_pods`); the records deleted. Nothing to do if it is gone."""
        account = await self.get(account_id)
        if account is None:
            return 0
        deleted = await self.remove_pods(account_id, list(account.pods))
        deleted += await self._emails.delete(account.email)
        deleted += await self._accounts.delete(account_id)
        log.info("account %s erased", account_id)
        return deleted

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
        await self._credentials.put(client_id, _StoredCredential(credential, _secret_hash(secret)))
        log.info(
            "client credentials %s created: WebID %s, account %s", client_id, webid, account.id
        )
        return credential, secret

    async def credentials(self, account: Account) -> list[Credential]:
        return sorted(
            (
                stored.credential
                for _, stored in await self._credentials.items()
                if stored.credential.account == account.id
            ),
            key=lambda c: c.created,
        )

    async def revoke_credential(self, account: Account, client_id: str) -> Credential:
        """Delete credentials of `account`; return what they were. Raises NotFound."""
        stored = await self._credentials.get(client_id)
        if stored is None or stored.credential.account != account.id:
            raise NotFound("no such credential on this account")
        await self._credentials.delete(client_id)
        credential = stored.credential
        log.info(
            "client credentials %s revoked: WebID %s, account %s",
            client_id,
            credential.webid,
            account.id,
        )
        return credential

    async def check_client_secret(self, client_id: str, secret: str) -> Credential | None:
        """The credential if `secret` is right (constant-time), else None."""
        stored = await self._credentials.get(client_id)
        if stored is None:
            return None
        if not hmac.compare_digest(_secret_hash(secret), stored.secret_hash):
            return None
        return stored.credential
