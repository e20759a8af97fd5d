"""The PodError hierarchy: domain errors every layer raises. Imports nothing from pod.

Errors carry domain facts (what was wrong, which methods are allowed), never HTTP status codes;
`pod.http.errors` is the one place that maps them to statuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class PodError(Exception):
    """Base of every error Kluis raises on purpose. `str(error)` is safe to show a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PodError):
    """The request is malformed: a header, a body or a parameter cannot be understood."""


class InvalidPath(BadRequest):
    """A URL path cannot be mapped safely onto the storage (`..`, encoded `/`, NUL, reserved...)."""


class InvalidRdf(BadRequest):
    """An RDF body does not parse. The message carries the parser's message and position."""


class InvalidPatch(PodError):
    """A patch document parses but breaks the structural rules of its language (422)."""


class InvalidAcl(PodError):
    """An ACL document parses but is not a usable ACL (422)."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One violated constraint of a shape: the node it concerns, the property, and what is wrong
    in plain words (SHACL https://www.w3.org/TR/shacl/#results-validation-result)."""

    focus: str
    path: str
    message: str

    def describe(self) -> str:
        where = " ".join(p for p in (self.focus, self.path) if p)
        return f"{where}: {self.message}" if where else self.message


class ShapeViolation(PodError):
    """A document written into a container constrained by a shape does not conform (422).
    `shape` is the shapes document the container declares; `violations` each broken constraint."""

    def __init__(self, message: str, *, shape: str, violations: tuple[Violation, ...]) -> None:
        super().__init__(message)
        self.shape = shape
        self.violations = violations


class ShapeUnavailable(PodError):
    """A container declares a shape the server cannot use: not bundled nor in the same storage,
    missing, or holding no shape (422)."""


class NotFound(PodError):
    """The target resource does not exist. `allowed` lists the methods it still supports (those
    that can create it), when the caller knows them."""

    def __init__(self, message: str, *, allowed: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.allowed = tuple(allowed)


class Gone(PodError):
    """The target was erased with its pod or account, and its name is held back for a while so
    nobody can take over the old WebID (410; after the hold, the name is simply not found)."""


class Conflict(PodError):
    """The request conflicts with the current state of the target (409)."""


class PreconditionFailed(PodError):
    """An `If-Match` / `If-None-Match` / `If-Unmodified-Since` condition does not hold (412)."""


class NotAcceptable(PodError):
    """No representation matches the request's `Accept` header (406)."""

    def __init__(self, message: str, *, available: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.available = tuple(available)


class UnsupportedMediaType(PodError):
    """The request body's media type is not one the target accepts (415)."""

    def __init__(self, message: str, *, accepted: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.accepted = tuple(accepted)


class PayloadTooLarge(PodError):
    """The request body is larger than the configured limit (413)."""


class RequestTimeout(PodError):
    """The client stopped sending the request body (408)."""


class RangeNotSatisfiable(PodError):
    """A byte range lies outside the representation (416)."""

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size


class MethodNotAllowed(PodError):
    """The method is not supported on the target (405). `allowed` lists the methods that are."""

    def __init__(self, message: str, *, allowed: Iterable[str]) -> None:
        super().__init__(message)
        self.allowed = tuple(allowed)


class Unauthenticated(PodError):
    """No acceptable credentials were presented, or they failed verification (401).

    `error` is the OAuth error code for `WWW-Authenticate` (`invalid_token`, `invalid_dpop_proof`),
    or None when the request simply carried no credentials.
    """

    def __init__(self, message: str, *, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class Forbidden(PodError):
    """The authenticated agent may not do this (403)."""


class AccountDisabled(Forbidden):
    """The operator disabled the account (`kluis admin disable`): it cannot log in nor act."""


class TooManyRequests(PodError):
    """The client is rate limited (429)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(PodError):
    """The write would exceed the storage's quota (507)."""


class FetchError(PodError):
    """An outbound fetch (JWKS, WebID, group, client document) failed or was refused."""


class BackendUnavailable(PodError):
    """The storage backend cannot serve the request right now (503)."""
