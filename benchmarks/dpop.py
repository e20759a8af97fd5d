"""DPoP keys and proofs for the authenticated scenarios (RFC 9449 §4).

A key pair is made with `cryptography` and wrapped by joserfc, which gives its public JWK and
its RFC 7638 thumbprint (what Kluis binds the access token to). Proofs are signed here with
`cryptography` directly instead of through joserfc's JWS API: a run writes up to a few hundred
thousand proofs, and joserfc takes about 300 µs a proof where this takes a tenth of that. The
result is the same compact JWS; each key checks its first proof with joserfc when it is made.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import warnings
from pathlib import Path
from typing import Any, Literal, get_args

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, thumbprint

# ES256 is what Inrupt's clients sign with; EdDSA (Ed25519) is much cheaper to verify.
Alg = Literal["ES256", "EdDSA"]
ALGS: tuple[Alg, ...] = get_args(Alg)
_COMPACT = (",", ":")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_token_hash(token: str) -> str:
    """The proof's `ath`: base64url(SHA-256(token)), unpadded (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


class DPoPKey:
    """A client's DPoP key pair and the proofs it signs."""

    def __init__(self, alg: Alg) -> None:
        self.alg = alg
        self._private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        jose: ECKey | OKPKey
        if alg == "ES256":
            self._private = ec.generate_private_key(ec.SECP256R1())
            jose = ECKey.import_key(self._private)
        else:
            self._private = ed25519.Ed25519PrivateKey.generate()
            jose = OKPKey.import_key(self._private)
        self.jwk: dict[str, Any] = dict(jose.as_dict(private=False))
        self.jkt = thumbprint(self.jwk)
        header = {"typ": "dpop+jwt", "alg": alg, "jwk": self.jwk}
        self._header = b64url(json.dumps(header, separators=_COMPACT).encode())
        self._check(self.proof("GET", "http://check.example/"), jose)

    def proof(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        iat: int | None = None,
        jti: str | None = None,
    ) -> str:
        """A compact JWS proving possession of this key for one request (`ath` if `token`)."""
        claims: dict[str, Any] = {
            "htm": method,
            "htu": url,
            "iat": int(time.time()) if iat is None else iat,
            "jti": jti or secrets.token_urlsafe(16),
        }
        if token is not None:
            claims["ath"] = access_token_hash(token)
        signing_input = (
            self._header + "." + b64url(json.dumps(claims, separators=_COMPACT).encode())
        )
        return signing_input + "." + b64url(self._sign(signing_input.encode("ascii")))

    def write_proofs(self, file: Path, count: int, *, method: str, url: str, token: str) -> None:
        """Write `count` proofs for `method url`, one a line, each with its own jti.

        Each proof's `iat` is the second it was written. Kluis accepts a proof for 60 s after
        its iat, and the run uses them in order, so the oldest proof in use is never older than
        the longer of the writing and the run (plus the time between them).
        """
        batch = secrets.token_urlsafe(9)  # keeps the jtis of different batches apart
        with file.open("w", encoding="ascii") as out:
            for n in range(count):
                iat = int(time.time())
                out.write(self.proof(method, url, token=token, iat=iat, jti=f"{batch}.{n}"))
                out.write("\n")

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self._private, ed25519.Ed25519PrivateKey):
            return self._private.sign(data)
        # JWS ES256 signatures are r || s, 32 bytes each (RFC 7518 §3.4), not DER.
        r, s = decode_dss_signature(self._private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def _check(self, proof: str, jose: ECKey | OKPKey) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # joserfc prefers "Ed25519"
            jws.deserialize_compact(proof, jose, algorithms=[self.alg])
