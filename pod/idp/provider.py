"""The OpenID Provider: authorization requests, codes, tokens, refresh, client credentials.

Imports idp.clients, idp.keys, idp.revocations, accounts, auth.dpop, storage. Built on authlib's
OAuth 2.0 building blocks (its error types, PKCE S256) and joserfc for JWTs; the flow state lives
in the KeyValueStore, so single-use codes and refresh-token rotation stay atomic across workers.
This module owns its namespaces: `auth_requests`, `consents`, `redirects`, `codes`, `refresh`, and
`codes_used` and `refresh_used` (what a redeemed code or refresh token issued, to revoke on reuse).

Solid-OIDC specifics: tokens are DPoP-bound when the token request carries a DPoP proof
(access token `cnf.jkt`, `token_type: DPoP`); access tokens are JWTs with `webid`, `client_id`,
`azp` and `aud` including "solid"; ID tokens carry `webid`. Refresh tokens rotate on every use,
are bound to the DPoP key of public clients, and a replayed one revokes its whole family; a
replayed authorization code revokes what it issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar, final
from urllib.parse import unquote, urlencode, urlsplit

from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from yarl import URL

from pod.accounts.service import CREDENTIAL_PREFIX, Account, AccountService
from pod.auth.dpop import ALGORITHMS as DPOP_ALGORITHMS
from pod.auth.dpop import ProofVerifier, ReplayCache
from pod.errors import Unauthenticated
from pod.idp.clients import Client, Clients
from pod.idp.keys import ALGORITHM, SigningKeys
from pod.idp.oauth_errors import error_text
from pod.idp.revocations import ALL_CLIENTS, Revocations
from pod.storage.kv import KeyValueStore, Record
from pod.storage.records import Expiry, JsonRecord, Records, declare

ACCESS_TOKEN_LIFETIME: Final = 3600
ID_TOKEN_LIFETIME: Final = 3600
CODE_LIFETIME: Final = 60
REFRESH_TOKEN_LIFETIME: Final = 14 * 24 * 3600
AUTH_REQUEST_LIFETIME: Final = 900
SCOPES: Final = ("openid", "webid", "offline_access", "profile")
# The one response type (a set: OAuth 2.0 Multiple Response Types §2), as discovery says.
RESPONSE_TYPES: Final = frozenset({"code"})
PROMPTS: Final = frozenset({"none", "login", "consent", "select_account"})
log = logging.getLogger(__name__)


class CannotRedirect(OAuth2Error):
    """An authorization error that must be shown to the user, not sent to the redirect URI."""

    error = "invalid_request"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _redirect_key(account: str, client_id: str, redirect_uri: str) -> str:
    return _hash(f"{account}\n{client_id}\n{redirect_uri}")


class LoginRequired(OAuth2Error):
    """The request needs a (fresher) log-in before a code may be issued (OIDC Core §3.1.2.1)."""

    error = "login_required"


@final
@dataclass(frozen=True, slots=True)
class AuthRequest:
    """A validated authorization request, waiting for the user to log in and consent."""

    id: str
    client_id: str
    client_name: str
    client_uri: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: tuple[str, ...] = ()
    max_age: int | None = None

    def to_json(self) -> Record:
        return {
            "id": self.id,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "client_uri": self.client_uri,
            "redirect_uri": self.redirect_uri,
            "scope": list(self.scope),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "prompt": list(self.prompt),
            "max_age": self.max_age,
        }

    @classmethod
    def from_json(cls, key: str, data: Record) -> AuthRequest:
        return cls(
            id=str(data["id"]),
            client_id=str(data["client_id"]),
            client_name=str(data["client_name"]),
            client_uri=str(data["client_uri"]),
            redirect_uri=str(data["redirect_uri"]),
            scope=tuple(data["scope"]),
            state=data.get("state"),
            nonce=data.get("nonce"),
            code_challenge=str(data["code_challenge"]),
            prompt=tuple(data.get("prompt") or ()),
            max_age=data.get("max_age"),
        )

    @property
    def destination(self) -> str:
        """Where the browser really goes afterwards: the redirect URI's origin (shown to the
        person; a client's own `client_uri` is only a claim)."""
        return origin_of(self.redirect_uri)

    def redirect(self, issuer: str, **params: str) -> str:
        """The redirect URI with `params`, `state` and `iss` (RFC 9207) added."""
        query = dict(params)
        if self.state is not None:
            query["state"] = self.state
        query["iss"] = issuer
        separator = "&" if urlsplit(self.redirect_uri).query else "?"
        return self.redirect_uri + separator + urlencode(query)


@final
@dataclass(frozen=True, slots=True)
class Consent:
    """A person's choice to let an app sign them in as `webid` without asking again; stored
    under "account id|client id"."""

    client_id: str
    client_name: str
    client_uri: str
    webid: str
    granted: float

    def to_json(self) -> Record:
        return {
            "client_id": self.client_id,
            "client_name": self.client_name,
            "client_uri": self.client_uri,
            "webid": self.webid,
            "granted": self.granted,
        }

    @classmethod
    def from_json(cls, key: str, data: Record) -> Consent:
        return cls(
            str(data["client_id"]),
            str(data.get("client_name") or ""),
            str(data.get("client_uri") or ""),
            str(data["webid"]),
            float(data.get("granted") or 0),
        )


@final
@dataclass(frozen=True, slots=True)
class TrustedRedirect:
    """A redirect URI a person has been sent to with a code: errors may go there unasked.
    `account` says whose it is, so erasing the account finds it (the key is a hash); None in
    records written before it was kept."""

    client_id: str
    redirect_uri: str
    account: str | None = None

    def to_json(self) -> Record:
        found: Record = {"client_id": self.client_id, "redirect_uri": self.redirect_uri}
        if self.account is not None:
            found["account"] = self.account
        return found

    @classmethod
    def from_json(cls, key: str, data: Record) -> TrustedRedirect:
        account = data.get("account")
        return cls(
            str(data["client_id"]),
            str(data["redirect_uri"]),
            None if account is None else str(account),
        )


@final
@dataclass(frozen=True, slots=True)
class CodeGrant:
    """What an authorization code, stored under its SHA-256, was issued for."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    account: str
    webid: str
    client_name: str | None
    scope: tuple[str, ...]
    nonce: Any
    auth_time: Any

    def to_json(self) -> Record:
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": self.code_challenge,
            "account": self.account,
            "webid": self.webid,
            "client_name": self.client_name,
            "scope": list(self.scope),
            "nonce": self.nonce,
            "auth_time": self.auth_time,
        }

    @classmethod
    def from_json(cls, key: str, data: Record) -> CodeGrant:
        return cls(
            client_id=str(data["client_id"]),
            redirect_uri=str(data["redirect_uri"]),
            code_challenge=str(data["code_challenge"]),
            account=str(data["account"]),
            webid=str(data["webid"]),
            client_name=data.get("client_name"),
            scope=tuple(data["scope"]),
            nonce=data.get("nonce"),
            auth_time=data.get("auth_time"),
        )


@final
@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """What a refresh token, stored under its SHA-256, stands for: its family began at the
    code it descends from; `jkt` the DPoP key it is bound to, if any."""

    client_id: str
    client_name: str | None
    account: str
    webid: str
    scope: tuple[str, ...]
    family: str
    jkt: str | None
    auth_time: Any

    def to_json(self) -> Record:
        return {
            "client_id": self.client_id,
            "client_name": self.client_name,
            "account": self.account,
            "webid": self.webid,
            "scope": list(self.scope),
            "family": self.family,
            "jkt": self.jkt,
            "auth_time": self.auth_time,
        }

    @classmethod
    def from_json(cls, key: str, data: Record) -> RefreshGrant:
        return cls(
            client_id=str(data["client_id"]),
            client_name=data.get("client_name"),
            account=str(data["account"]),
            webid=str(data["webid"]),
            scope=tuple(data["scope"]),
            family=str(data["family"]),
            jkt=data.get("jkt"),
            auth_time=data.get("auth_time"),
        )


@final
@dataclass(frozen=True, slots=True)
class Redeemed:
    """A code or refresh token that was used (under its SHA-256): the family its use began or
    continued, revoked if it comes back."""

    family: str

    def to_json(self) -> Record:
        return {"family": self.family}

    @classmethod
    def from_json(cls, key: str, data: Record) -> Redeemed:
        return cls(str(data["family"]))


# An authorization request's id travels in the sign-in page's URL as its only handle: the change
# feed names it by hash. Codes and tokens are keyed by their hashes already.
AUTH_REQUESTS: Final = declare(
    "auth_requests", AuthRequest, ttl=AUTH_REQUEST_LIFETIME, secret_keys=True
)
CONSENTS: Final = declare("consents", Consent, ttl=Expiry.NEVER)
REDIRECTS: Final = declare("redirects", TrustedRedirect, ttl=Expiry.NEVER)
CODES: Final = declare("codes", CodeGrant, ttl=CODE_LIFETIME)
CODES_USED: Final = declare("codes_used", Redeemed, ttl=24 * 3600)
REFRESH: Final = declare("refresh", RefreshGrant, ttl=REFRESH_TOKEN_LIFETIME)
REFRESH_USED: Final = declare("refresh_used", Redeemed, ttl=REFRESH_TOKEN_LIFETIME)
_Grant = TypeVar("_Grant", bound=JsonRecord)


@final
class Provider:
    def __init__(
        self,
        *,
        issuer: str,
        kv: KeyValueStore,
        keys: SigningKeys,
        clients: Clients,
        accounts: AccountService,
        proofs: ProofVerifier,
        replay: ReplayCache,
        endpoints: Mapping[str, str],
        revocations: Revocations,
    ) -> None:
        self.issuer = issuer
        self.kv = kv
        self._auth_requests = Records(kv, AUTH_REQUESTS)
        self._consents = Records(kv, CONSENTS)
        self._redirects = Records(kv, REDIRECTS)
        self._codes = Records(kv, CODES)
        self._codes_used = Records(kv, CODES_USED)
        self._refresh_tokens = Records(kv, REFRESH)
        self._refresh_used = Records(kv, REFRESH_USED)
        self.keys = keys
        self.clients = clients
        self.accounts = accounts
        self.proofs = proofs
        self.replay = replay
        self.endpoints = dict(endpoints)
        self.revocations = revocations

    def configuration(self) -> dict[str, Any]:
        """OpenID discovery (Solid-OIDC §discovery)."""
        e = self.endpoints
        return {
            "issuer": self.issuer,
            "authorization_endpoint": e["authorization"],
            "token_endpoint": e["token"],
            "jwks_uri": e["jwks"],
            "registration_endpoint": e["registration"],
            "userinfo_endpoint": e["userinfo"],
            "end_session_endpoint": e["end_session"],
            "scopes_supported": list(SCOPES),
            "response_types_supported": [" ".join(sorted(RESPONSE_TYPES))],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "dpop_signing_alg_values_supported": sorted(DPOP_ALGORITHMS),
            "claims_supported": [
                "sub",
                "webid",
                "iss",
                "aud",
                "azp",
                "iat",
                "exp",
                "auth_time",
                "nonce",
            ],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
            "solid_oidc_supported": "https://solidproject.org/TR/solid-oidc",
        }

    # --- authorization endpoint ---------------------------------------------------------

    async def begin(self, params: Mapping[str, str]) -> AuthRequest:
        """Validate an authorization request and keep it while the user logs in.

        Raises CannotRedirect for an unknown client or redirect URI (shown to the user), and
        other OAuth2Errors with `redirect_uri` set (to be sent back to the client).
        """
        client_id = params.get("client_id", "")
        try:
            client = await self.clients.find(client_id)
        except InvalidClientError as exc:
            raise CannotRedirect(description=exc.description) from exc
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise CannotRedirect(
                description=error_text(
                    f"the redirect URI {redirect_uri!r} is not registered for this client"
                )
            )
        state = params.get("state")

        def fail(error: type[OAuth2Error], description: str) -> OAuth2Error:
            return error(description=description, state=state, redirect_uri=redirect_uri)

        # OAuth 2.0 Multiple Response Types §2: the value is a space-separated set, so
        # "id_token code" and "code id_token" are one request and get one answer.
        response_types = frozenset(params.get("response_type", "").split())
        if response_types != RESPONSE_TYPES:
            # Only the code flow. The hybrid "code id_token" (which CSS advertises and older
            # clients send) returns an ID token in the redirect URI's fragment: we would have to
            # answer in response_mode=fragment and sign an ID token with c_hash for a browser
            # URL (OIDC Core §3.3), while Solid-OIDC needs nothing but the code flow with PKCE
            # and DPoP (https://solidproject.org/TR/solid-oidc#authorization-code-pkce-flow),
            # and every maintained Solid client uses it. A client that offers both falls back
            # to "code" when it reads response_types_supported; one that insists gets this
            # RFC 6749 §4.1.2.1 error at its redirect URI.
            # Built, not called with keywords: authlib before 1.6 takes the type only.
            error = UnsupportedResponseTypeError(" ".join(sorted(response_types)) or "(none)")
            error.description = (
                "only response_type=code is supported (no implicit or hybrid flow); "
                "see response_types_supported in the OpenID configuration"
            )
            error.state = state
            error.redirect_uri = redirect_uri
            raise error
        scope = params.get("scope", "").split()
        if "openid" not in scope:
            raise fail(InvalidScopeError, "the scope must include openid")
        scope = [s for s in scope if s in SCOPES]
        challenge = params.get("code_challenge")
        if not challenge or params.get("code_challenge_method") != "S256":
            raise fail(InvalidRequestError, "PKCE is required: send code_challenge with S256")
        prompt = params.get("prompt", "").split()
        if not set(prompt) <= PROMPTS or ("none" in prompt and len(prompt) > 1):
            raise fail(InvalidRequestError, "invalid prompt")
        max_age = params.get("max_age")
        if max_age is not None and not max_age.isdigit():
            raise fail(InvalidRequestError, "max_age must be a number of seconds")
        request = AuthRequest(
            id=secrets.token_urlsafe(16),
            client_id=client.client_id,
            client_name=client.display_name,
            client_uri=client.uri or origin_of(redirect_uri),
            redirect_uri=redirect_uri,
            scope=tuple(scope),
            state=state,
            nonce=params.get("nonce"),
            code_challenge=challenge,
            prompt=tuple(prompt),
            max_age=None if max_age is None else int(max_age),
        )
        await self._auth_requests.put(request.id, request)
        return request

    async def pending(self, request_id: str) -> AuthRequest | None:
        return await self._auth_requests.get(request_id)

    async def logged_in(self, request: AuthRequest) -> AuthRequest:
        """The user just logged in for this request: `prompt=login` and `max_age` are met."""
        request = replace(
            request, prompt=tuple(p for p in request.prompt if p != "login"), max_age=None
        )
        await self._auth_requests.put(request.id, request)
        return request

    def needs_login(self, request: AuthRequest, auth_time: float | None) -> bool:
        if auth_time is None or "login" in request.prompt:
            return True
        return request.max_age is not None and time.time() - auth_time > request.max_age

    async def has_consent(self, request: AuthRequest, account: Account, webid: str) -> bool:
        if "consent" in request.prompt:
            return False
        consent = await self._consents.get(f"{account.id}|{request.client_id}")
        return consent is not None and consent.webid == webid

    async def approve(
        self,
        request: AuthRequest,
        *,
        account: Account,
        webid: str,
        auth_time: float,
        remember: bool,
    ) -> str:
        """Issue a code; the URL to send the user back to the client with it.

        Raises AccessDeniedError for a WebID that is not the account's, and LoginRequired
        when the request asks for a fresher log-in (`prompt=login`, `max_age`) than
        `auth_time`: no page can skip that by posting the consent form directly.
        """
        if self.needs_login(request, auth_time):
            raise LoginRequired(description="this app asks you to log in again first")
        if webid not in account.webids:
            raise AccessDeniedError(description="that WebID is not yours")
        await self._auth_requests.delete(request.id)
        await self.clients.mark_used(request.client_id)
        await self._redirects.put(
            _redirect_key(account.id, request.client_id, request.redirect_uri),
            TrustedRedirect(request.client_id, request.redirect_uri, account.id),
        )
        scope = request.scope
        if remember:
            await self._consents.put(
                f"{account.id}|{request.client_id}",
                Consent(
                    request.client_id, request.client_name, request.client_uri, webid, time.time()
                ),
            )
        else:
            # Allowed once: the app may act while its access token lasts (an hour), never
            # longer unless the person chose to keep it connected, so one-time consent gives no
            # refresh token whatever the app asked for. RFC 6749 §3.3: the token response then
            # names the narrower scope it granted.
            scope = tuple(s for s in request.scope if s != "offline_access")
        code = secrets.token_urlsafe(32)
        await self._codes.put(
            _hash(code),
            CodeGrant(
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                account=account.id,
                webid=webid,
                client_name=request.client_name,
                scope=scope,
                nonce=request.nonce,
                auth_time=auth_time,
            ),
        )
        return request.redirect(self.issuer, code=code)

    async def trusts_redirect(
        self, account: Account | None, client_id: str, redirect_uri: str
    ) -> bool:
        """Whether the browser may be sent to `redirect_uri` without the person choosing to go:
        only where this person has let this app sign them in before, or for a client the
        operator registered. RFC 9700 §4.11.1: anyone can be a Solid client with any redirect
        URI, so an automatic error redirect to an unknown one makes this server an open
        redirector."""
        if self.clients.is_static(client_id):
            return True
        if account is None:
            return False
        key = _redirect_key(account.id, client_id, redirect_uri)
        return await self._redirects.get(key) is not None

    async def deny(self, request: AuthRequest, error: str = "access_denied") -> str:
        await self._auth_requests.delete(request.id)
        return request.redirect(self.issuer, error=error)

    # --- token endpoint ---------------------------------------------------------------

    async def token(
        self, form: Mapping[str, str], *, authorization: str | None, dpop: str | None
    ) -> dict[str, Any]:
        """The token endpoint. Raises OAuth2Error (authlib) with the right error and status."""
        jkt = self._dpop_key(dpop)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return await self._authorization_code(form, authorization, jkt)
        if grant == "refresh_token":
            return await self._refresh(form, authorization, jkt)
        if grant == "client_credentials":
            return await self._client_credentials(form, authorization, jkt)
        error = UnsupportedGrantTypeError(grant)
        error.description = f"grant_type {grant!r} is not supported"
        raise error

    def _dpop_key(self, dpop: str | None) -> str | None:
        if dpop is None:
            return None
        try:
            proof = self.proofs.verify(
                dpop, method="POST", url=self.endpoints["token"], access_token=None
            )
            self.replay.check_and_remember(proof)
        except Unauthenticated as exc:
            raise InvalidRequestError(description=error_text(exc.message)) from exc
        return proof.jkt

    async def _client(self, form: Mapping[str, str], authorization: str | None) -> Client:
        client_id, secret = _client_secret(form, authorization)
        client = await self.clients.find(client_id)
        if not client.is_public and not client.check_secret(secret):
            raise InvalidClientError(description="client authentication failed")
        return client

    async def _authorization_code(
        self, form: Mapping[str, str], authorization: str | None, jkt: str | None
    ) -> dict[str, Any]:
        client = await self._client(form, authorization)
        code = form.get("code", "")

        def check(grant: CodeGrant) -> None:
            if grant.client_id != client.client_id:
                raise InvalidGrantError(description="the code was issued to another client")
            if form.get("redirect_uri") != grant.redirect_uri:
                raise InvalidGrantError(
                    description="redirect_uri differs from the authorization request"
                )
            verifier = form.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(_s256(verifier), grant.code_challenge):
                raise InvalidGrantError(description="the PKCE code_verifier does not match")

        # RFC 6749 §4.1.2: a replayed code revokes the tokens issued with it.
        grant = await self._redeem(
            self._codes,
            self._codes_used,
            code,
            "the code is invalid, expired or already used",
            check,
        )
        family = secrets.token_hex(8)
        await self._codes_used.put(_hash(code), Redeemed(family))
        return await self._tokens(
            client_id=client.client_id,
            account=grant.account,
            webid=grant.webid,
            scope=grant.scope,
            jkt=jkt,
            nonce=grant.nonce,
            auth_time=grant.auth_time,
            family=family,
            bind_refresh=client.is_public,
            client_name=grant.client_name or client.display_name,
        )

    async def _refresh(
        self, form: Mapping[str, str], authorization: str | None, jkt: str | None
    ) -> dict[str, Any]:
        client = await self._client(form, authorization)
        token = form.get("refresh_token", "")

        def check(grant: RefreshGrant) -> None:
            if grant.client_id != client.client_id:
                raise InvalidGrantError(description="the refresh token belongs to another client")
            if grant.jkt is not None and grant.jkt != jkt:
                raise InvalidGrantError(
                    description="this refresh token is bound to a DPoP key; prove it with that key"
                )

        # A replayed refresh token was stolen, or its holder was: revoke the whole family.
        grant = await self._redeem(
            self._refresh_tokens,
            self._refresh_used,
            token,
            "the refresh token is invalid, expired or used",
            check,
        )
        await self._refresh_used.put(_hash(token), Redeemed(grant.family))
        return await self._tokens(
            client_id=client.client_id,
            account=grant.account,
            webid=grant.webid,
            scope=grant.scope,
            jkt=jkt,
            nonce=None,
            auth_time=grant.auth_time,
            family=grant.family,
            bind_refresh=grant.jkt is not None,
            client_name=grant.client_name or client.display_name,
        )

    async def _client_credentials(
        self, form: Mapping[str, str], authorization: str | None, jkt: str | None
    ) -> dict[str, Any]:
        client_id, secret = _client_secret(form, authorization)
        if not client_id.startswith(CREDENTIAL_PREFIX):
            raise UnauthorizedClientError(
                description="client_credentials is for credentials created by an account owner"
            )
        credential = await self.accounts.check_client_secret(client_id, secret or "")
        if credential is None:
            raise InvalidClientError(description="unknown or revoked client credentials")
        await self._check_account(credential.account)
        access = await self._access_token(
            webid=credential.webid, client_id=client_id, jkt=jkt, scope=["webid"]
        )
        return {
            "access_token": access,
            "token_type": "DPoP" if jkt else "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": "webid",
        }

    async def _tokens(
        self,
        *,
        client_id: str,
        account: str,
        webid: str,
        scope: tuple[str, ...],
        jkt: str | None,
        nonce: Any,
        auth_time: Any,
        family: str,
        bind_refresh: bool,
        client_name: str,
    ) -> dict[str, Any]:
        await self._check_account(account)
        response: dict[str, Any] = {
            "access_token": await self._access_token(
                webid=webid, client_id=client_id, jkt=jkt, scope=scope
            ),
            "token_type": "DPoP" if jkt else "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(scope),
            "id_token": await self._id_token(
                webid=webid, client_id=client_id, nonce=nonce, auth_time=auth_time
            ),
        }
        if "offline_access" in scope:
            refresh = secrets.token_urlsafe(32)
            await self._refresh_tokens.put(
                _hash(refresh),
                RefreshGrant(
                    client_id=client_id,
                    client_name=client_name,
                    account=account,
                    webid=webid,
                    scope=scope,
                    family=family,
                    jkt=jkt if bind_refresh else None,
                    auth_time=auth_time,
                ),
            )
            response["refresh_token"] = refresh
        return response

    async def _check_account(self, account_id: str) -> None:
        """Issue nothing for an account that is gone or that the operator disabled: a code or
        refresh token issued before still exists. Raises InvalidGrantError."""
        account = await self.accounts.get(account_id)
        if account is None:
            raise InvalidGrantError(description="the account no longer exists")
        if account.disabled:
            raise InvalidGrantError(
                description="the account was disabled by the operator of this server"
            )

    async def _redeem(
        self,
        grants: Records[_Grant],
        used: Records[Redeemed],
        secret: str,
        refusal: str,
        check: Callable[[_Grant], None],
    ) -> _Grant:
        """Take a single-use record (code or refresh token) once `check` accepts the request
        for it; on reuse revoke its family.

        `check` runs before the record is taken, so a request that fails it (another client,
        a wrong PKCE verifier, a thief without the DPoP key) neither burns the real client's
        code nor makes its next use look like a replay that revokes the family.
        """
        found = await grants.get(_hash(secret)) if secret else None
        if found is not None:
            check(found)
            taken = await grants.take(_hash(secret))
            if taken is not None:
                return taken
        redeemed = await used.get(_hash(secret)) if secret else None
        if redeemed is not None:
            await self._revoke_family(redeemed.family)
        raise InvalidGrantError(description=refusal)

    async def _revoke_family(self, family: str) -> None:
        for key, grant in await self._refresh_tokens.items():
            if grant.family == family:
                await self._refresh_tokens.delete(key)

    async def revoke_app(self, account: Account, client_id: str) -> None:
        """Forget a remembered consent and every refresh token the app holds for `account`; the
        app's access tokens stop working at once."""
        for webid in account.webids:
            await self.revocations.revoke(webid=webid, client_id=client_id)
        await self._consents.delete(f"{account.id}|{client_id}")
        for key, grant in await self._refresh_tokens.items():
            if grant.account == account.id and grant.client_id == client_id:
                await self._refresh_tokens.delete(key)
        log.info("app %s revoked: account %s", client_id, account.id)

    async def revoke_everything(self, account: Account) -> None:
        """End every app's access for `account` (the operator disabled it, or its password was
        reset): the access tokens issued for its WebIDs so far stop working at the next
        request, in every process, and its refresh tokens are deleted, so its apps sign in
        again. Its client credentials and remembered consents stay: refused while it is
        disabled (`_check_account`); a password reset deletes the credentials itself
        (`AccountService.forget_credentials`), and a remembered consent needs the new password
        to be used."""
        for webid in account.webids:
            await self.revocations.revoke(webid=webid, client_id=ALL_CLIENTS)
        for key, grant in await self._refresh_tokens.items():
            if grant.account == account.id:
                await self._refresh_tokens.delete(key)
        log.info("every token of account %s revoked", account.id)

    async def forget_account(self, account_id: str, webids: Collection[str], *, whole: bool) -> int:
        """Delete what lets apps act for `account_id` as `webids` (its erasure): remembered
        consents, refresh tokens and unredeemed codes, and (`whole`: the account goes) the
        remembered redirects. Unlike `revoke_app` it writes no revocation, which would name
        the WebID: tokens issued already stop verifying once the WebID's profile is gone
        (`pod.auth.webid`). Returns the records deleted."""
        deleted = 0
        prefix = f"{account_id}|"
        for key, consent in await self._consents.items():
            if key.startswith(prefix) and (whole or consent.webid in webids):
                deleted += await self._consents.delete(key)
        for key, grant in await self._refresh_tokens.items():
            if grant.account == account_id and (whole or grant.webid in webids):
                deleted += await self._refresh_tokens.delete(key)
        for key, code in await self._codes.items():
            if code.account == account_id and (whole or code.webid in webids):
                deleted += await self._codes.delete(key)
        if whole:
            for key, redirect in await self._redirects.items():
                if redirect.account == account_id:
                    deleted += await self._redirects.delete(key)
        return deleted

    async def revoke_credential(self, account: Account, client_id: str) -> None:
        """Delete client credentials of `account`; their access tokens stop working at once.
        Raises NotFound."""
        credential = await self.accounts.revoke_credential(account, client_id)
        await self.revocations.revoke(webid=credential.webid, client_id=client_id)

    async def connected_apps(self, account: Account) -> list[dict[str, Any]]:
        """Every app that can act for `account` without them present: one holding a live
        refresh token (`stays_connected`) or a remembered consent (`remembered`), oldest first,
        with the WebIDs it acts as. `revoke_app` ends all of that for an app."""
        apps: dict[str, dict[str, Any]] = {}

        def entry(
            client_id: str, client_name: str | None, webid: str, granted: float
        ) -> dict[str, Any]:
            if client_id not in apps:
                apps[client_id] = {
                    "client_id": client_id,
                    "client_name": client_id,
                    "webids": [],
                    "remembered": False,
                    "stays_connected": False,
                    "granted": granted,
                }
            app = apps[client_id]
            if client_name:
                app["client_name"] = client_name
            if webid and webid not in app["webids"]:
                app["webids"].append(webid)
            return app

        prefix = f"{account.id}|"
        for key, consent in await self._consents.items():
            if key.startswith(prefix):
                app = entry(consent.client_id, consent.client_name, consent.webid, consent.granted)
                app["remembered"] = True
        for _, grant in await self._refresh_tokens.items():
            if grant.account == account.id:
                # a refresh token's family began when its person last logged in
                granted = float(grant.auth_time or 0)
                entry(grant.client_id, grant.client_name, grant.webid, granted)[
                    "stays_connected"
                ] = True
        return sorted(apps.values(), key=lambda app: (app["granted"], app["client_id"]))

    async def _access_token(
        self, *, webid: str, client_id: str, jkt: str | None, scope: Sequence[str]
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": ["solid", client_id],
            "sub": webid,
            "webid": webid,
            "client_id": client_id,
            "azp": client_id,
            "iat": now,
            "exp": now + ACCESS_TOKEN_LIFETIME,
            "jti": secrets.token_hex(16),
            "scope": " ".join(scope),
        }
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        return await self._sign(claims, typ="at+jwt")

    async def _id_token(self, *, webid: str, client_id: str, nonce: Any, auth_time: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": webid,
            "aud": client_id,
            "azp": client_id,
            "webid": webid,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
            "jti": secrets.token_hex(16),
        }
        if nonce:
            claims["nonce"] = nonce
        if auth_time is not None:
            claims["auth_time"] = int(auth_time)
        return await self._sign(claims, typ="JWT")

    async def _sign(self, claims: dict[str, Any], *, typ: str) -> str:
        key = await self.keys.current()
        header = {"alg": ALGORITHM, "typ": typ, "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=[ALGORITHM])

    # --- logout -----------------------------------------------------------------------

    async def logout_redirect(
        self,
        *,
        id_token_hint: str | None,
        post_logout_redirect_uri: str | None,
        state: str | None,
    ) -> str | None:
        """Where to send the user after logging out (OIDC RP-Initiated Logout), if anywhere."""
        if not post_logout_redirect_uri:
            return None
        if not id_token_hint:
            raise InvalidRequestError(description="post_logout_redirect_uri needs id_token_hint")
        try:
            token = jwt.decode(id_token_hint, self.keys.key_set(), algorithms=[ALGORITHM])
        except (JoseError, ValueError) as exc:
            raise InvalidRequestError(
                description="id_token_hint is not one of our ID tokens"
            ) from exc
        client = await self.clients.find(str(token.claims.get("aud", "")))
        if post_logout_redirect_uri not in client.post_logout_redirect_uris:
            raise InvalidRequestError(
                description="post_logout_redirect_uri is not registered for this client"
            )
        query = urlencode({"state": state}) if state else ""
        if not query:
            return post_logout_redirect_uri
        separator = "&" if urlsplit(post_logout_redirect_uri).query else "?"
        return post_logout_redirect_uri + separator + query


def _client_secret(form: Mapping[str, str], authorization: str | None) -> tuple[str, str | None]:
    """Client id and secret from HTTP Basic (RFC 6749 §2.3.1, form-encoded) or the form."""
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            client_id, _, secret = decoded.partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidClientError(description="malformed Basic credentials") from exc
        return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
    return form.get("client_id", ""), form.get("client_secret")


def _s256(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2), by authlib."""
    challenge: str = create_s256_code_challenge(verifier)  # type: ignore[no-untyped-call]
    return challenge


def origin_of(url: str) -> str:
    """`url`'s origin as browsers write it in `Origin`: scheme://host, and :port unless the
    default (https://html.spec.whatwg.org/multipage/browsers.html#ascii-serialisation-of-an-origin);
    user info is dropped, so `https://bank.example@evil.example/` shows as evil.example. A URL
    without a host is returned whole."""
    try:
        return str(URL(url).origin())
    except ValueError:
        return url
