"""The OpenID Provider: authorization requests, codes, tokens, refresh, client credentials.

Imports idp.clients, idp.keys, accounts, auth.dpop, storage.kv. Built on authlib's OAuth 2.0
building blocks (its error types, PKCE S256) and joserfc for JWTs; the flow state lives in the
KeyValueStore, so single-use codes and refresh-token rotation stay atomic across workers.

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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, final
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
from pod.idp.revocations import Revocations
from pod.storage.kv import KeyValueStore

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
@dataclass(slots=True)
class AuthRequest:
    """A validated authorization request, waiting for the user to log in and consent."""

    id: str
    client_id: str
    client_name: str
    client_uri: str
    redirect_uri: str
    scope: list[str]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: list[str] = field(default_factory=list)
    max_age: int | None = None

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
            scope=scope,
            state=state,
            nonce=params.get("nonce"),
            code_challenge=challenge,
            prompt=prompt,
            max_age=None if max_age is None else int(max_age),
        )
        await self.kv.put("auth_requests", request.id, asdict(request), ttl=AUTH_REQUEST_LIFETIME)
        return request

    async def pending(self, request_id: str) -> AuthRequest | None:
        record = await self.kv.get("auth_requests", request_id)
        return None if record is None else AuthRequest(**record)

    async def logged_in(self, request: AuthRequest) -> AuthRequest:
        """The user just logged in for this request: `prompt=login` and `max_age` are met."""
        request.prompt = [p for p in request.prompt if p != "login"]
        request.max_age = None
        await self.kv.put("auth_requests", request.id, asdict(request), ttl=AUTH_REQUEST_LIFETIME)
        return request

    def needs_login(self, request: AuthRequest, auth_time: float | None) -> bool:
        if auth_time is None or "login" in request.prompt:
            return True
        return request.max_age is not None and time.time() - auth_time > request.max_age

    async def has_consent(self, request: AuthRequest, account: Account, webid: str) -> bool:
        if "consent" in request.prompt:
            return False
        record = await self.kv.get("consents", f"{account.id}|{request.client_id}")
        return record is not None and record.get("webid") == webid

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
        await self.kv.delete("auth_requests", request.id)
        await self.clients.mark_used(request.client_id)
        await self.kv.put(
            "redirects",
            _redirect_key(account.id, request.client_id, request.redirect_uri),
            {"client_id": request.client_id, "redirect_uri": request.redirect_uri},
        )
        scope = request.scope
        if remember:
            await self.kv.put(
                "consents",
                f"{account.id}|{request.client_id}",
                {
                    "client_id": request.client_id,
                    "client_name": request.client_name,
                    "client_uri": request.client_uri,
                    "webid": webid,
                    "granted": time.time(),
                },
            )
        else:
            # Allowed once: the app may act while its access token lasts (an hour), never
            # longer unless the person chose to keep it connected, so one-time consent gives no
            # refresh token whatever the app asked for. RFC 6749 §3.3: the token response then
            # names the narrower scope it granted.
            scope = [s for s in request.scope if s != "offline_access"]
        code = secrets.token_urlsafe(32)
        await self.kv.put(
            "codes",
            _hash(code),
            {
                "client_id": request.client_id,
                "redirect_uri": request.redirect_uri,
                "code_challenge": request.code_challenge,
                "account": account.id,
                "webid": webid,
                "client_name": request.client_name,
                "scope": scope,
                "nonce": request.nonce,
                "auth_time": auth_time,
            },
            ttl=CODE_LIFETIME,
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
        return await self.kv.get("redirects", key) is not None

    async def deny(self, request: AuthRequest, error: str = "access_denied") -> str:
        await self.kv.delete("auth_requests", request.id)
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

        def check(record: dict[str, Any]) -> None:
            if record["client_id"] != client.client_id:
                raise InvalidGrantError(description="the code was issued to another client")
            if form.get("redirect_uri") != record["redirect_uri"]:
                raise InvalidGrantError(
                    description="redirect_uri differs from the authorization request"
                )
            verifier = form.get("code_verifier", "")
            challenge = str(record["code_challenge"])
            if not verifier or not hmac.compare_digest(_s256(verifier), challenge):
                raise InvalidGrantError(description="the PKCE code_verifier does not match")

        # RFC 6749 §4.1.2: a replayed code revokes the tokens issued with it.
        record = await self._redeem(
            "codes", code, "the code is invalid, expired or already used", check
        )
        family = secrets.token_hex(8)
        await self.kv.put("codes_used", _hash(code), {"family": family}, ttl=24 * 3600)
        return await self._tokens(
            client_id=client.client_id,
            account=str(record["account"]),
            webid=str(record["webid"]),
            scope=list(record["scope"]),
            jkt=jkt,
            nonce=record.get("nonce"),
            auth_time=record.get("auth_time"),
            family=family,
            bind_refresh=client.is_public,
            client_name=str(record.get("client_name") or client.display_name),
        )

    async def _refresh(
        self, form: Mapping[str, str], authorization: str | None, jkt: str | None
    ) -> dict[str, Any]:
        client = await self._client(form, authorization)
        token = form.get("refresh_token", "")

        def check(record: dict[str, Any]) -> None:
            if record["client_id"] != client.client_id:
                raise InvalidGrantError(description="the refresh token belongs to another client")
            bound = record.get("jkt")
            if bound is not None and bound != jkt:
                raise InvalidGrantError(
                    description="this refresh token is bound to a DPoP key; prove it with that key"
                )

        # A replayed refresh token was stolen, or its holder was: revoke the whole family.
        record = await self._redeem(
            "refresh", token, "the refresh token is invalid, expired or used", check
        )
        family = str(record["family"])
        bound = record.get("jkt")
        await self.kv.put(
            "refresh_used", _hash(token), {"family": family}, ttl=REFRESH_TOKEN_LIFETIME
        )
        if await self.accounts.get(str(record["account"])) is None:
            raise InvalidGrantError(description="the account no longer exists")
        return await self._tokens(
            client_id=client.client_id,
            account=str(record["account"]),
            webid=str(record["webid"]),
            scope=list(record["scope"]),
            jkt=jkt,
            nonce=None,
            auth_time=record.get("auth_time"),
            family=family,
            bind_refresh=bound is not None,
            client_name=str(record.get("client_name") or client.display_name),
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
        scope: list[str],
        jkt: str | None,
        nonce: Any,
        auth_time: Any,
        family: str,
        bind_refresh: bool,
        client_name: str,
    ) -> dict[str, Any]:
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
            await self.kv.put(
                "refresh",
                _hash(refresh),
                {
                    "client_id": client_id,
                    "client_name": client_name,
                    "account": account,
                    "webid": webid,
                    "scope": scope,
                    "family": family,
                    "jkt": jkt if bind_refresh else None,
                    "auth_time": auth_time,
                },
                ttl=REFRESH_TOKEN_LIFETIME,
            )
            response["refresh_token"] = refresh
        return response

    async def _redeem(
        self,
        namespace: str,
        secret: str,
        refusal: str,
        check: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Take a single-use record (code or refresh token) once `check` accepts the request
        for it; on reuse revoke its family.

        `check` runs before the record is taken, so a request that fails it (another client,
        a wrong PKCE verifier, a thief without the DPoP key) neither burns the real client's
        code nor makes its next use look like a replay that revokes the family.
        """
        found = await self.kv.get(namespace, _hash(secret)) if secret else None
        if found is not None:
            check(found)
            record = await self.kv.take(namespace, _hash(secret))
            if record is not None:
                return record
        used = await self.kv.get(namespace + "_used", _hash(secret)) if secret else None
        if used is not None:
            await self._revoke_family(str(used["family"]))
        raise InvalidGrantError(description=refusal)

    async def _revoke_family(self, family: str) -> None:
        for key, record in await self.kv.items("refresh"):
            if record.get("family") == family:
                await self.kv.delete("refresh", key)

    async def revoke_app(self, account: Account, client_id: str) -> None:
        """Forget a remembered consent and every refresh token the app holds for `account`; the
        app's access tokens stop working at once."""
        for webid in account.webids:
            await self.revocations.revoke(webid=webid, client_id=client_id)
        await self.kv.delete("consents", f"{account.id}|{client_id}")
        for key, record in await self.kv.items("refresh"):
            if record.get("account") == account.id and record.get("client_id") == client_id:
                await self.kv.delete("refresh", key)
        log.info("app %s revoked: account %s", client_id, account.id)

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

        def entry(record: dict[str, Any]) -> dict[str, Any]:
            client_id = str(record["client_id"])
            if client_id not in apps:
                apps[client_id] = {
                    "client_id": client_id,
                    "client_name": client_id,
                    "webids": [],
                    "remembered": False,
                    "stays_connected": False,
                    # a refresh token's family began when its person last logged in
                    "granted": float(record.get("granted") or record.get("auth_time") or 0),
                }
            app = apps[client_id]
            if record.get("client_name"):
                app["client_name"] = str(record["client_name"])
            if record.get("webid") and record["webid"] not in app["webids"]:
                app["webids"].append(str(record["webid"]))
            return app

        prefix = f"{account.id}|"
        for key, record in await self.kv.items("consents"):
            if key.startswith(prefix):
                app = entry(record)
                app["remembered"] = True
        for _, record in await self.kv.items("refresh"):
            if record.get("account") == account.id:
                entry(record)["stays_connected"] = True
        return sorted(apps.values(), key=lambda app: (app["granted"], app["client_id"]))

    async def _access_token(
        self, *, webid: str, client_id: str, jkt: str | None, scope: list[str]
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
