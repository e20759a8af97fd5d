"""DPoP proof verification (RFC 9449 §4.3) and the replay cache. Pure: imports cache, errors.

joserfc (authlib's JOSE library) parses a proof's header and checks its key, and its algorithms
check the signature; this module applies the DPoP rules on top: typ, asymmetric alg, public
embedded key, htm/htu/iat/jti/ath.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, final

from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import JWKRegistry
from joserfc.jws import JWSRegistry
from joserfc.util import urlsafe_b64decode
from yarl import URL

from pod.cache import LruCache, memoize_short, size_of
from pod.errors import Unauthenticated

# Asymmetric algorithms only: never "none", never HMAC (RFC 9449 §4.3, check 5).
ALGORITHMS: Final = frozenset(
    {
        *("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
        *("EdDSA", "Ed25519"),
    }
)
_PRIVATE_KEY_PARAMS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_PROOF_LENGTH: Final = 8192
# The longest protected header (base64url, as sent) a proof or an access token may have. A DPoP
# header embeds the public key: with a 4096-bit RSA key (RS256/PS256, which we advertise) it is
# about 1,000 bytes, with EC keys about 250. joserfc's default (512 bytes, since 1.3.5) refuses
# RSA keys of 2048 bits and more, which solid-auth-fetcher and other older clients use; this bound
# still keeps headers small (an 8192-bit key's signature is refused by joserfc's 1,024-byte limit).
MAX_HEADER_LENGTH: Final = 2048
# Anyone can send a proof with a key of their own, so the imported keys are bounded in bytes.
_KEY_CACHE_ENTRIES: Final = 4096
_KEY_CACHE_BYTES: Final = 16 * 1024 * 1024
_IMPORTED_KEY_BYTES: Final = 2048  # a joserfc key and its `cryptography` object, beside the JWK
# Memos of pure functions keep inputs up to this long (pod.cache.memoize_short).
_MEMO_MAX_LENGTH: Final = 2048


@final
@dataclass(frozen=True, slots=True)
class Proof:
    """A verified DPoP proof: the thumbprint of its key and its one-time id."""

    jkt: str
    jti: str
    iat: float


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(f"invalid DPoP proof: {message}", error="invalid_dpop_proof")


# At most 2,048 URLs of up to 2 KB, each with its normalized form: about 9 MB.
@memoize_short(maxsize=2048, max_length=_MEMO_MAX_LENGTH)
def normalize_url(url: str) -> str:
    """Scheme and host lower-cased, default port dropped, no query or fragment (RFC 9449 §4.3)."""
    parsed = URL(url)
    if not parsed.is_absolute():
        raise ValueError("not an absolute URL")
    return str(parsed.with_query(None).with_fragment(None))


# At most 2,048 tokens of up to 2 KB, with their 43-character hashes: about 4.5 MB.
@memoize_short(maxsize=2048, max_length=_MEMO_MAX_LENGTH)
def access_token_hash(token: str) -> str:
    """The `ath` value for an access token: base64url(SHA-256(token)) without padding."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def jws_registry(algorithms: frozenset[str] = ALGORITHMS) -> JWSRegistry:
    """A joserfc registry for incoming JWS (proofs, access tokens): `algorithms` only, headers
    up to MAX_HEADER_LENGTH. Pass it to every joserfc call that reads one (extract, validate,
    decode), or joserfc's default registry applies its own, smaller bound."""
    registry = JWSRegistry(algorithms=sorted(algorithms))
    registry.max_header_length = MAX_HEADER_LENGTH
    return registry


# One per algorithm: a verification must allow exactly the algorithm its header names.
_REGISTRIES: Final = {alg: jws_registry(frozenset({alg})) for alg in ALGORITHMS}
_EXTRACT_REGISTRY: Final = jws_registry()
# joserfc's bound on a signature's length; a payload's (128,000) is beyond MAX_PROOF_LENGTH.
_MAX_SIGNATURE_LENGTH: Final = _EXTRACT_REGISTRY.max_signature_length


def registry_for(alg: str) -> JWSRegistry:
    """The registry that verifies a JWS signed with `alg`, one of ALGORITHMS."""
    return _REGISTRIES[alg]


def extract_compact(value: str) -> jws.CompactSignature:
    """Split a compact JWS and decode its header, within our size bounds, without verifying.
    Raises joserfc's JoseError (or ValueError, UnicodeError) for a malformed one."""
    return jws.extract_compact(value.encode("ascii"), registry=_EXTRACT_REGISTRY)


def _key_size(cache_key: Any, found: tuple[Any, str]) -> int:
    return size_of(cache_key) + _IMPORTED_KEY_BYTES + size_of(found[1])


@final
@dataclass(frozen=True, slots=True)
class _Signer:
    """What a proof's protected header establishes, once checked: joserfc's algorithm and the
    key to verify its signatures with, and the key's thumbprint."""

    algorithm: JWSAlgModel
    key: Any
    jkt: str

    def verify(self, data: bytes, signature: bytes) -> bool:
        # joserfc's own check (RFC 7518 §3: for ECDSA it turns R || S into what
        # `cryptography` verifies).
        return bool(self.algorithm.verify(data, signature, self.key))


def _signer_size(header: str, signer: _Signer) -> int:
    return size_of(header) + _IMPORTED_KEY_BYTES + size_of(signer.jkt)


@final
class CheckedProof(NamedTuple):
    """A proof whose header and claims passed every check but the signature, which `signed`
    checks. Kept apart so the signature can be checked off the event loop
    (`cryptography` releases the GIL while it verifies)."""

    proof: Proof
    signer: _Signer
    signing_input: bytes
    signature: bytes

    def signed(self) -> Proof:
        """The proof, if its signature verifies. Raises Unauthenticated like `verify`."""
        if not self.signer.verify(self.signing_input, self.signature):
            raise _invalid("signature or key check failed: the signature does not verify")
        return self.proof


@final
class ProofVerifier:
    """Verifies proofs; keeps the imported keys of recent clients (clients reuse their key).

    A client's proofs differ in their payload and signature only: their protected header (typ,
    alg, jwk) is the same text each time. So the header of each proof is checked once and what
    it establishes is kept per header text (`headers`); a later proof with the very same header
    is split, its payload decoded, and its signature checked over the received bytes with the
    kept key. The signature covers the header text, so a kept header cannot be altered without
    failing the check."""

    def __init__(self, *, max_age: float = 60.0, skew: float = 5.0) -> None:
        self.max_age = max_age
        self.skew = skew
        self.keys: LruCache[Any, tuple[Any, str]] = LruCache(
            max_entries=_KEY_CACHE_ENTRIES, max_bytes=_KEY_CACHE_BYTES, sizer=_key_size
        )
        self.headers: LruCache[str, _Signer] = LruCache(
            max_entries=_KEY_CACHE_ENTRIES, max_bytes=_KEY_CACHE_BYTES, sizer=_signer_size
        )

    def _import(self, jwk: dict[str, Any]) -> tuple[Any, str]:
        """The imported key and its RFC 7638 thumbprint, kept per JWK: clients reuse one key."""
        try:
            cache_key: Any = tuple(sorted(jwk.items()))
            hash(cache_key)
        except TypeError:  # a member holding a list (key_ops) or an object
            cache_key = json.dumps(jwk, sort_keys=True)
        found = self.keys.get(cache_key)
        if found is None:
            key = JWKRegistry.import_key(jwk)
            # RFC 7638: only the key's required members count (clients add alg, kid, use).
            found = (key, key.thumbprint())
            self.keys.put(cache_key, found)
        return found

    def verify(
        self,
        proof: str,
        *,
        method: str,
        url: str,
        access_token: str | None,
        now: float | None = None,
    ) -> Proof:
        """Check one proof for this request. Raises Unauthenticated(error="invalid_dpop_proof")."""
        return self.check(
            proof, method=method, url=url, access_token=access_token, now=now
        ).signed()

    def check(
        self,
        proof: str,
        *,
        method: str,
        url: str,
        access_token: str | None,
        now: float | None = None,
    ) -> CheckedProof:
        """Check everything in one proof for this request but its signature, which the caller
        must check (`CheckedProof.signed`). Raises Unauthenticated like `verify`."""
        if len(proof) > MAX_PROOF_LENGTH:
            raise _invalid("too long")
        parts = proof.split(".")
        if len(parts) != 3:
            raise _invalid("not a compact JWS: it must have three parts")
        header, payload, signature = parts
        signer = self.headers.get(header)
        if signer is None:
            signer = self._check_header(proof)
            self.headers.put(header, signer)
        # The same size bounds as joserfc's own extraction (the header's were checked).
        if len(signature) > _MAX_SIGNATURE_LENGTH:
            raise _invalid(
                f"not a compact JWS: the signature is over {_MAX_SIGNATURE_LENGTH} bytes"
            )
        try:
            signing_input = f"{header}.{payload}".encode("ascii")
            # joserfc's strict base64url (our own decoder saved 2 us a proof: not worth owning
            # JOSE parsing for); the claims as text, so json needs no encoding detection.
            claims = json.loads(urlsafe_b64decode(payload.encode("ascii")).decode())
            signature_bytes = urlsafe_b64decode(signature.encode("ascii"))
        except (JoseError, ValueError, UnicodeError, RecursionError) as exc:
            raise _invalid(f"not a compact JWS: {exc}") from exc
        if not isinstance(claims, dict):
            raise _invalid("the payload is not a JSON object")
        self._check_claims(claims, method=method, url=url, access_token=access_token, now=now)
        return CheckedProof(
            Proof(jkt=signer.jkt, jti=claims["jti"], iat=float(claims["iat"])),
            signer,
            signing_input,
            signature_bytes,
        )

    def _check_header(self, proof: str) -> _Signer:
        """RFC 9449 §4.3 checks 2-6 on the proof's protected header, through joserfc."""
        try:
            unverified = extract_compact(proof)
            header = unverified.headers()
        except (JoseError, ValueError, UnicodeError, RecursionError) as exc:
            raise _invalid(f"not a compact JWS: {exc}") from exc
        if header.get("typ") != "dpop+jwt":
            raise _invalid("typ must be dpop+jwt")
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise _invalid(f"alg {alg!r} is not an allowed asymmetric algorithm")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict):
            raise _invalid("the header has no jwk")
        if _PRIVATE_KEY_PARAMS & jwk.keys():
            raise _invalid("the jwk holds private key material")
        # RFC 7797's unencoded payload has no place in a JWT (RFC 7519 §7.2, step 7 decodes it).
        if header.get("b64", True) is not True:
            raise _invalid("the payload must be base64url-encoded (no b64: false)")
        registry = registry_for(alg)
        try:
            key, jkt = self._import(jwk)
            # What joserfc's validate_compact checks of the header and key before verifying.
            registry.check_header(header)
            if alg == "EdDSA":
                with warnings.catch_warnings():
                    # RFC 9864 renames EdDSA to Ed25519; clients still send the old name.
                    warnings.simplefilter("ignore", SecurityWarning)
                    algorithm = registry.get_alg(alg)
            else:
                algorithm = registry.get_alg(alg)
            algorithm.check_key(key)
        except (JoseError, ValueError, TypeError, RecursionError) as exc:
            raise _invalid(f"signature or key check failed: {exc}") from exc
        return _Signer(algorithm, key, jkt)

    def _check_claims(
        self,
        claims: dict[str, Any],
        *,
        method: str,
        url: str,
        access_token: str | None,
        now: float | None,
    ) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= 256:
            raise _invalid("jti is missing")
        if claims.get("htm") != method:
            raise _invalid(f"htm {claims.get('htm')!r} does not match the method {method}")
        htu = claims.get("htu")
        try:
            # The very text of the URL normalizes as the URL does (clients send it so).
            matches = htu == url or (
                isinstance(htu, str) and normalize_url(htu) == normalize_url(url)
            )
        except ValueError:
            matches = False
        if not matches:
            raise _invalid(f"htu {htu!r} does not match the request URL {normalize_url(url)}")
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise _invalid("iat is missing")
        current = time.time() if now is None else now
        if iat > current + self.skew or iat < current - self.max_age:
            raise _invalid("iat is outside the accepted window; check the client's clock")
        # `ath` is checked when present; older Solid clients do not send it (CSS accepts that too).
        ath = claims.get("ath")
        if access_token is not None and ath is not None and ath != access_token_hash(access_token):
            raise _invalid("ath does not match the access token")


@final
class ReplayCache:
    """Remembers proof ids for as long as their proofs are acceptable; bounded in size.

    An id is kept as a 64-bit keyed BLAKE2b digest, grouped by the second it was seen in, so a
    whole second is forgotten at once when it leaves the window: about 86 bytes an id (an int,
    a set's slot and a list's), where its text cost 135 and an ordered dict's entry 200. Two ids
    with one digest would only refuse a fresh proof as a replay, never admit one; with the key
    secret, a client cannot choose ids that collide with another's.

    A proof older than the acceptance window is refused by its iat before this cache is asked.
    When full, the oldest second is forgotten first, and proofs issued before its end are
    refused from then on: under more than `max_entries` proofs per window the window shortens
    instead of letting a replay in.

    A restart must not forget: a graceful shutdown saves what the cache holds (`snapshot`) and
    the next start takes it back (`restore`). After a crash there is nothing to take back, so
    `refuse_before` makes every proof issued before the restart unusable (its use may have
    gone unrecorded); clients make a fresh proof per request anyway.
    """

    def __init__(
        self, *, window: float = 65.0, max_entries: int = 200_000, skew: float = 5.0
    ) -> None:
        """`window`: how long a proof is acceptable (the verifier's max_age + skew); `skew`: how
        far ahead of the server's clock an accepted proof's iat may be."""
        self.window = window
        self.max_entries = max_entries
        self.skew = skew
        self.not_before: float | None = None
        self.key = secrets.token_bytes(16)  # of the digests; saved with them (`snapshot`)
        self._all: set[int] = set()  # the digest of every id within the window
        self._seconds: dict[int, list[int]] = {}  # second seen -> its digests; oldest first

    def _digest(self, jti: str) -> int:
        # surrogatepass: a JSON string may hold a lone surrogate, which is still a distinct id.
        data = jti.encode("utf-8", "surrogatepass")
        return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=self.key).digest())

    def check_and_remember(self, proof: Proof, *, now: float | None = None) -> None:
        """Raise Unauthenticated if the proof's jti was seen within the window, or the proof was
        issued before a moment from which on its use could not be known (a restart, or a second
        forgotten early); else remember it."""
        current = time.time() if now is None else now
        self._forget(current)
        if self.not_before is not None and proof.iat < self.not_before:
            raise _invalid(
                "it was made before the server restarted or before the newest proofs it can "
                "remember; make a new proof"
            )
        digest = self._digest(proof.jti)
        if digest in self._all:
            raise _invalid("this proof was already used (replayed jti)")
        self._remember(digest, int(current))

    def _forget(self, current: float) -> None:
        """Drop the seconds that left the window."""
        oldest = current - self.window
        while self._seconds:
            second = next(iter(self._seconds))
            if second + 1 > oldest:
                break
            self._all.difference_update(self._seconds.pop(second))

    def _remember(self, digest: int, second: int) -> None:
        if digest in self._all:
            return
        self._all.add(digest)
        bucket = self._seconds.get(second)
        if bucket is None:
            self._seconds[second] = [digest]
        else:
            bucket.append(digest)
        # Full: the oldest second goes, and proofs that could have been seen in it (issued
        # before its end, or up to `skew` ahead of it) are refused from now on.
        while len(self._all) > self.max_entries:
            oldest = next(iter(self._seconds))
            self._all.difference_update(self._seconds.pop(oldest))
            self.not_before = max(self.not_before or 0.0, oldest + 1.0 + self.skew)

    def refuse_before(self, moment: float) -> None:
        """Refuse proofs issued before `moment` (seconds since the epoch): this process cannot
        know which of them were used before it started."""
        self.not_before = moment

    def snapshot(self, *, now: float | None = None) -> tuple[str, dict[str, float]]:
        """For a graceful restart: the digests' key and the digests still within the window
        (hex), with the second each was seen in."""
        current = time.time() if now is None else now
        seen = {
            f"{digest:016x}": float(second)
            for second, digests in self._seconds.items()
            if second + 1 > current - self.window
            for digest in digests
        }
        return self.key.hex(), seen

    def restore(self, key: str, seen: dict[str, float]) -> None:
        """Take back a `snapshot` saved by the process before this one. Raises ValueError if
        it is not one."""
        self.key = bytes.fromhex(key)
        if len(self.key) != 16:
            raise ValueError("the saved DPoP replay cache has a key of the wrong length")
        for digest, second in sorted(seen.items(), key=lambda item: item[1]):
            self._remember(int(digest, 16), int(second))
