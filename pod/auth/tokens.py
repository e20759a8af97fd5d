"""Access tokens: issuer discovery, JWKS caching and JWT verification. Imports fetch, errors.

Keys come from `<iss>/.well-known/openid-configuration` -> `jwks_uri`, cached for a TTL and
fetched again once when a token names an unknown `kid` (rate-limited, so a stream of bogus kids
cannot make us hammer an issuer). Verified tokens are cached until they expire: the signature of
the same bytes under the same keys cannot change its answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, final
from urllib.parse import urlsplit

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from pod.auth.dpop import ALGORITHMS
from pod.errors import FetchError, Unauthenticated
from pod.fetch import Fetcher

MAX_TOKEN_LENGTH: Final = 16 * 1024
_TOKEN_CACHE_SIZE: Final = 10_000


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(f"invalid access token: {message}", error="invalid_token")


def same_issuer(a: str, b: str) -> bool:
    """Issuer URLs compare equal apart from a trailing slash (SPEC.md §10)."""
    return a.rstrip("/") == b.rstrip("/")


@final
@dataclass(frozen=True, slots=True)
class AccessToken:
    """The claims Kluis relies on, from a verified Solid-OIDC access token."""

    webid: str
    client_id: str
    issuer: str
    jkt: str | None  # cnf.jkt: the thumbprint of the DPoP key the token is bound to
    expires: float
    issued_at: float  # iat; 0 when the issuer left it out


@dataclass(slots=True)
class _Keys:
    keys: KeySet
    kids: frozenset[str]
    fetched: float


@final
class IssuerKeys:
    """The signing keys of OpenID issuers, discovered and cached."""

    def __init__(
        self, fetcher: Fetcher, *, ttl: float = 600.0, refetch_after: float = 30.0
    ) -> None:
        self.fetcher = fetcher
        self.ttl = ttl
        self.refetch_after = refetch_after
        self._cache: dict[str, _Keys] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._local: dict[str, Callable[[], KeySet]] = {}

    def register_local(self, issuer: str, keys: Callable[[], KeySet]) -> None:
        """Serve `issuer`'s keys from this process (Kluis's own identity provider)."""
        self._local[issuer.rstrip("/")] = keys

    async def key_set(self, issuer: str, *, kid: str | None) -> KeySet:
        local = self._local.get(issuer.rstrip("/"))
        if local is not None:
            return local()
        now = time.monotonic()
        entry = self._cache.get(issuer)
        if (
            entry is not None
            and now - entry.fetched < self.ttl
            and (kid is None or kid in entry.kids or now - entry.fetched < self.refetch_after)
        ):
            return entry.keys
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        async with lock:
            entry = self._cache.get(issuer)
            if entry is not None and time.monotonic() - entry.fetched < self.refetch_after:
                return entry.keys  # someone else just fetched
            fresh = await self._fetch(issuer)
            self._cache[issuer] = fresh
            return fresh.keys

    async def _fetch(self, issuer: str) -> _Keys:
        discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            config = _json(await self.fetcher.get(discovery_url, accept="application/json"))
            if not same_issuer(str(config.get("issuer", "")), issuer):
                raise _invalid(f"{discovery_url} names a different issuer")
            jwks_uri = config.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise _invalid(f"{discovery_url} has no jwks_uri")
            document = _json(await self.fetcher.get(jwks_uri, accept="application/json"))
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except FetchError as exc:
            raise _invalid(f"cannot get the keys of issuer {issuer}: {exc.message}") from exc
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise _invalid(f"issuer {issuer} publishes unusable keys: {exc}") from exc
        kids = frozenset(k.kid for k in keys.keys if k.kid)
        return _Keys(keys, kids, time.monotonic())


def _json(fetched: Any) -> dict[str, Any]:
    if fetched.status != 200:
        raise FetchError(f"{fetched.url} answered {fetched.status}")
    try:
        value = json.loads(fetched.body)
    except (ValueError, RecursionError) as exc:
        raise FetchError(f"{fetched.url} is not JSON") from exc
    if not isinstance(value, dict):
        raise FetchError(f"{fetched.url} is not a JSON object")
    return value


@final
class TokenVerifier:
    """Verifies Solid-OIDC access tokens (JWTs)."""

    def __init__(self, keys: IssuerKeys, *, skew: float = 30.0) -> None:
        self.keys = keys
        self.skew = skew
        self._verified: OrderedDict[str, AccessToken] = OrderedDict()

    async def verify(self, token: str, *, now: float | None = None) -> AccessToken:
        """The token's claims. Raises Unauthenticated(error="invalid_token") with the reason."""
        current = time.time() if now is None else now
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires + self.skew < current:
                raise _invalid("expired")
            return cached
        claims = await self._verify_signature(token)
        access = self._check_claims(claims, current)
        self._verified[token] = access
        if len(self._verified) > _TOKEN_CACHE_SIZE:
            self._verified.popitem(last=False)
        return access

    async def _verify_signature(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise _invalid("too long")
        try:
            unverified = jws.extract_compact(token.encode("ascii"))
            header = unverified.headers()
            payload = json.loads(unverified.payload)
        except (JoseError, ValueError, UnicodeError, RecursionError) as exc:
            raise _invalid(f"not a JWT: {exc}") from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise _invalid(f"alg {alg!r} is not an allowed asymmetric algorithm")
        issuer = payload.get("iss") if isinstance(payload, dict) else None
        if not isinstance(issuer, str) or urlsplit(issuer).scheme not in ("http", "https"):
            raise _invalid("iss is missing or not a URL")
        kid = header.get("kid")
        keys = await self.keys.key_set(issuer, kid=kid if isinstance(kid, str) else None)
        try:
            verified = jwt.decode(token, keys, algorithms=[alg])
        except (JoseError, ValueError, TypeError, RecursionError) as exc:
            raise _invalid(f"signature check failed: {exc}") from exc
        return dict(verified.claims)

    def _check_claims(self, claims: dict[str, Any], now: float) -> AccessToken:
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or exp + self.skew < now:
            raise _invalid("expired")
        if isinstance(iat, int | float) and iat > now + self.skew:
            raise _invalid("issued in the future; check the issuer's clock")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf > now + self.skew:
            raise _invalid("not valid yet")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if "solid" not in audiences:
            raise _invalid('aud must contain "solid"')
        webid = claims.get("webid")
        if not isinstance(webid, str) or urlsplit(webid).scheme not in ("http", "https"):
            raise _invalid("the webid claim is missing")
        client_id = claims.get("client_id", claims.get("azp"))
        if not isinstance(client_id, str) or not client_id:
            raise _invalid("the client_id claim is missing")
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        return AccessToken(
            webid=webid,
            client_id=client_id,
            issuer=str(claims["iss"]),
            jkt=jkt if isinstance(jkt, str) else None,
            expires=float(exp),
            issued_at=float(iat) if isinstance(iat, int | float) else 0.0,
        )
