"""Access tokens: issuer discovery, JWKS caching and JWT verification. Imports fetch, ldp.locks,
cache, errors.

Keys come from `<iss>/.well-known/openid-configuration` -> `jwks_uri`, cached for a TTL and
fetched again once when a token names an unknown `kid` (rate-limited, so a stream of bogus kids
cannot make us hammer an issuer). A failed lookup is remembered for `failure_ttl` seconds, so a
token naming an issuer that cannot be reached costs one outbound fetch, not one per request.
Verified tokens are cached until they expire: the signature of the same bytes under the same keys
cannot change its answer. So an entry holds only while its issuer's keys are the very ones it was
verified with, and all go when the change feed announces a change to our own signing keys or a
revocation (`TokenVerifier.follow`). Every issuer named in a token is an input from anyone, so
the caches are bounded in bytes and a per-issuer lock lives only while a lookup holds or awaits
it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Final, final
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from pod.auth.dpop import ALGORITHMS, extract_compact, registry_for
from pod.cache import LruCache, size_of
from pod.errors import FetchError, Unauthenticated
from pod.feed import ChangeFeed, Event, RecordChanged
from pod.fetch import Fetcher
from pod.ldp.locks import MemoryLocker

MAX_TOKEN_LENGTH: Final = 16 * 1024
_TOKEN_CACHE_ENTRIES: Final = 10_000
_TOKEN_CACHE_BYTES: Final = 16 * 1024 * 1024
_KEY_CACHE_ENTRIES: Final = 1_000
_KEY_CACHE_BYTES: Final = 16 * 1024 * 1024
_FAILURE_CACHE_ENTRIES: Final = 1_000
_FAILURE_CACHE_BYTES: Final = 4 * 1024 * 1024


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(f"invalid access token: {message}", error="invalid_token")


def same_issuer(a: str, b: str) -> bool:
    """Issuer URLs compare equal apart from a trailing slash: issuers are written both ways,
    and CSS and NSS compare them so too."""
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
    size: int  # an estimate of the memory the imported keys hold


def _keys_size(issuer: str, entry: _Keys) -> int:
    return size_of(issuer) + size_of(entry.kids) + entry.size


@final
class IssuerKeys:
    """The signing keys of OpenID issuers, discovered and cached."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        ttl: float = 600.0,
        refetch_after: float = 30.0,
        failure_ttl: float = 30.0,
    ) -> None:
        self.fetcher = fetcher
        self.ttl = ttl
        self.refetch_after = refetch_after
        self.failure_ttl = failure_ttl
        self.cache: LruCache[str, _Keys] = LruCache(
            max_entries=_KEY_CACHE_ENTRIES,
            max_bytes=_KEY_CACHE_BYTES,
            max_entry_bytes=_KEY_CACHE_BYTES // 8,
            sizer=_keys_size,
        )
        # issuer -> why its keys could not be had, until `failure_ttl` has passed
        self.failures: LruCache[str, str] = LruCache(
            max_entries=_FAILURE_CACHE_ENTRIES, max_bytes=_FAILURE_CACHE_BYTES
        )
        self.locks = MemoryLocker()  # one lookup per issuer at a time
        self._local: dict[str, Callable[[], KeySet]] = {}

    def register_local(self, issuer: str, keys: Callable[[], KeySet]) -> None:
        """Serve `issuer`'s keys from this process (Kluis's own identity provider). `keys` must
        return the same KeySet object until the keys change (see `current`)."""
        self._local[issuer.rstrip("/")] = keys

    def current(self, issuer: str) -> KeySet | None:
        """The key set `key_set` would answer with now, if it has one without I/O: a different
        object once the keys changed (refetched, rotated), None once they are due again."""
        local = self._local.get(issuer.rstrip("/"))
        if local is not None:
            return local()
        entry = self.cache.get(issuer)
        return None if entry is None else entry.keys

    async def key_set(self, issuer: str, *, kid: str | None) -> KeySet:
        local = self._local.get(issuer.rstrip("/"))
        if local is not None:
            return local()
        now = time.monotonic()
        entry = self.cache.get(issuer)
        if entry is not None and (
            kid is None or kid in entry.kids or now - entry.fetched < self.refetch_after
        ):
            return entry.keys
        self._check_failure(issuer)
        async with self.locks.hold(issuer):
            entry = self.cache.get(issuer)
            if entry is not None and time.monotonic() - entry.fetched < self.refetch_after:
                return entry.keys  # someone else just fetched
            self._check_failure(issuer)  # someone else just failed
            try:
                fresh = await self._fetch(issuer)
            except Unauthenticated as exc:
                self.failures.put(issuer, exc.message, expires=time.monotonic() + self.failure_ttl)
                raise
            self.cache.put(issuer, fresh, expires=fresh.fetched + self.ttl)
            return fresh.keys

    def _check_failure(self, issuer: str) -> None:
        failure = self.failures.get(issuer)
        if failure is not None:
            raise Unauthenticated(failure, error="invalid_token")

    async def _fetch(self, issuer: str) -> _Keys:
        discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            config = _json(await self.fetcher.get(discovery_url, accept="application/json"))
            if not same_issuer(str(config.get("issuer", "")), issuer):
                raise _invalid(f"{discovery_url} names a different issuer")
            jwks_uri = config.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise _invalid(f"{discovery_url} has no jwks_uri")
            fetched = await self.fetcher.get(jwks_uri, accept="application/json")
            document = _json(fetched)
            document_bytes = fetched.body
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except FetchError as exc:
            raise _invalid(f"cannot get the keys of issuer {issuer}: {exc.message}") from exc
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise _invalid(f"issuer {issuer} publishes unusable keys: {exc}") from exc
        kids = frozenset(k.kid for k in keys.keys if k.kid)
        # An imported key holds about what its JWK did, several times over (key objects,
        # the parsed JSON, its members).
        return _Keys(keys, kids, time.monotonic(), 4 * len(document_bytes))


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
@dataclass(frozen=True, slots=True)
class _Verified:
    access: AccessToken
    keys: KeySet  # the issuer's keys the signature verified with


def _verified_size(token: str, entry: _Verified) -> int:
    return size_of(token) + size_of(entry.access)  # the KeySet is the issuer's, counted there


@final
class TokenVerifier:
    """Verifies Solid-OIDC access tokens (JWTs), each token's signature once while it is valid.

    `revoked` tells whether a verified token's grant was revoked since it was issued (the
    identity provider's own tokens). Its answer is kept with the token, so whatever announces a
    revocation must reach `follow`'s feed: the next request then asks again."""

    def __init__(
        self,
        keys: IssuerKeys,
        *,
        skew: float = 30.0,
        revoked: Callable[[AccessToken], Awaitable[bool]] | None = None,
    ) -> None:
        self.keys = keys
        self.skew = skew
        self.revoked = revoked
        self.verified: LruCache[str, _Verified] = LruCache(
            max_entries=_TOKEN_CACHE_ENTRIES, max_bytes=_TOKEN_CACHE_BYTES, sizer=_verified_size
        )
        self._namespaces: frozenset[str] = frozenset()
        self._epoch = 0  # counts the announcements that emptied the cache

    def follow(self, feed: ChangeFeed, *, namespaces: Collection[str]) -> None:
        """Forget every verified token when a record of `namespaces` changes (signing keys,
        revocations): a revocation holds from the next request on, as does a retired key."""
        self._namespaces = frozenset(namespaces)
        feed.subscribe(self._heard)

    def _heard(self, event: Event) -> None:
        if isinstance(event, RecordChanged) and event.namespace in self._namespaces:
            self._epoch += 1
            self.verified.clear()

    async def verify(self, token: str, *, now: float | None = None) -> AccessToken:
        """The token's claims. Raises Unauthenticated(error="invalid_token") with the reason."""
        current = time.time() if now is None else now
        cached = self.verified.get(token)
        if cached is not None and cached.keys is self.keys.current(cached.access.issuer):
            if cached.access.expires + self.skew < current:
                raise _invalid("expired")
            return cached.access
        epoch = self._epoch
        claims, keys = await self._verify_signature(token)
        access = self._check_claims(claims, current)
        if self.revoked is not None and await self.revoked(access):
            raise Unauthenticated(
                "the access to this account was revoked; sign in again", error="invalid_token"
            )
        if epoch == self._epoch:  # nothing was revoked or rotated while we awaited
            lifetime = access.expires + self.skew - current
            self.verified.put(token, _Verified(access, keys), expires=time.monotonic() + lifetime)
        return access

    async def _verify_signature(self, token: str) -> tuple[dict[str, Any], KeySet]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise _invalid("too long")
        try:
            unverified = extract_compact(token)
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
            verified = jwt.decode(token, keys, registry=registry_for(alg))
        except (JoseError, ValueError, TypeError, RecursionError) as exc:
            raise _invalid(f"signature check failed: {exc}") from exc
        return dict(verified.claims), keys

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
