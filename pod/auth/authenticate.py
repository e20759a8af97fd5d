"""Authenticator: turns a request's Authorization and DPoP headers into verified Credentials.

Imports the other auth modules; knows nothing of aiohttp. Every failure is Unauthenticated with
an OAuth error code (`invalid_token`, `invalid_dpop_proof`, `invalid_request`) and a reason.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import final

from pod.auth.dpop import ProofVerifier, ReplayCache
from pod.auth.signatures import SignatureChecks
from pod.auth.tokens import TokenVerifier, same_issuer
from pod.auth.webid import WebIdProfiles
from pod.errors import FetchError, Unauthenticated
from pod.model import Credentials


@final
class Authenticator:
    """Verifies Solid-OIDC requests (DPoP-bound access tokens) on the resource-server side."""

    def __init__(
        self,
        *,
        tokens: TokenVerifier,
        proofs: ProofVerifier,
        replay: ReplayCache,
        profiles: WebIdProfiles,
        allow_bearer: bool = False,
        signatures: Executor | None = None,
    ) -> None:
        """`signatures`: where proof signatures are checked (None: on the event loop), in
        batches (`SignatureChecks`). A thread pool lets the loop serve other requests meanwhile
        on another core: `cryptography` releases the GIL while it verifies."""
        self.tokens = tokens
        self.proofs = proofs
        self.replay = replay
        self.profiles = profiles
        self.allow_bearer = allow_bearer
        self.signatures = signatures
        self._signatures = SignatureChecks(signatures)

    async def authenticate(
        self,
        *,
        authorization: str,
        dpop: str | None,
        method: str,
        url: str,
        origin: str | None,
    ) -> Credentials:
        """The verified credentials of a request, or Unauthenticated saying why not."""
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        scheme = scheme.lower()
        if not token:
            raise Unauthenticated("the Authorization header has no token", error="invalid_request")
        if scheme == "dpop":
            if dpop is None:
                raise Unauthenticated(
                    "a DPoP-bound token needs a DPoP proof header", error="invalid_dpop_proof"
                )
            checked = self.proofs.check(dpop, method=method, url=url, access_token=token)
            proof = await self._signatures.signed(checked)
            # Remembered with no await since the check, so two concurrent uses of one proof
            # cannot both pass.
            self.replay.check_and_remember(proof)
            access = await self.tokens.verify(token)
            if access.jkt is None or access.jkt != proof.jkt:
                raise Unauthenticated(
                    "the DPoP proof was signed with a different key than the token is bound to",
                    error="invalid_token",
                )
        elif scheme == "bearer":
            if not self.allow_bearer:
                raise Unauthenticated(
                    "Bearer tokens are not accepted here; use a DPoP-bound token",
                    error="invalid_token",
                )
            access = await self.tokens.verify(token)
            if access.jkt is not None:
                raise Unauthenticated(
                    "a DPoP-bound token cannot be used as a Bearer token", error="invalid_token"
                )
        else:
            raise Unauthenticated(
                f"unsupported authorization scheme {scheme!r}; use DPoP", error="invalid_request"
            )
        try:
            trusted = await self.profiles.issuers(access.webid)
        except FetchError as exc:
            raise Unauthenticated(
                f"cannot read the WebID profile of {access.webid}: {exc.message}",
                error="invalid_token",
            ) from exc
        if not any(same_issuer(access.issuer, issuer) for issuer in trusted):
            raise Unauthenticated(
                f"{access.webid} does not list {access.issuer} as its solid:oidcIssuer",
                error="invalid_token",
            )
        return Credentials(
            agent=access.webid, client_id=access.client_id, issuer=access.issuer, origin=origin
        )
