"""OAuth clients: Client ID Documents, dynamically registered clients, static clients, and the
client-credentials pairs of accounts. Imports fetch, storage. Owns the KeyValueStore namespace
`clients`: dynamic registrations, by client id.

Solid-OIDC §clientids-document: a `client_id` that is a URL is dereferenced; the document's
`client_id` must equal that URL and the request's redirect URI must be among its
`redirect_uris`. Such clients are public (no secret); documents are cached for a while.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any, Final, final
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError

from pod.cache import LruCache
from pod.errors import FetchError
from pod.fetch import Fetcher
from pod.idp.oauth_errors import error_text
from pod.ratelimit import RateLimiter
from pod.storage.kv import KeyValueStore, Record
from pod.storage.records import Records, declare

_DOCUMENT_TTL: Final = 300.0
# Anyone can name a Client ID Document (up to the Fetcher's 512 KB cap) at the authorization
# endpoint, so the documents are kept within a byte budget.
_CACHE_ENTRIES: Final = 1000
_CACHE_BYTES: Final = 16 * 1024 * 1024
AUTH_METHODS: Final = ("none", "client_secret_basic", "client_secret_post")
GRANT_TYPES: Final = ("authorization_code", "refresh_token")
# Anyone may register a client (RFC 7591), so registrations are small, few per address, and
# forgotten unless someone signs in with them.
REGISTRATIONS_PER_HOUR: Final = 30
UNUSED_REGISTRATION_LIFETIME: Final = 24 * 3600.0
MAX_URIS: Final = 10
MAX_URI_LENGTH: Final = 2000
MAX_NAME_LENGTH: Final = 200


@final
@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    kind: str  # "document", "registered", "static"
    name: str = ""
    uri: str = ""
    logo_uri: str = ""
    post_logout_redirect_uris: tuple[str, ...] = ()
    auth_method: str = "none"
    secret_hash: str | None = None
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_public(self) -> bool:
        return self.auth_method == "none"

    @property
    def display_name(self) -> str:
        return self.name or self.uri or self.client_id

    def check_secret(self, secret: str | None) -> bool:
        if self.secret_hash is None or secret is None:
            return False
        return hmac.compare_digest(_hash(secret), self.secret_hash)


@final
@dataclass(frozen=True, slots=True)
class Registration:
    """A dynamically registered client (RFC 7591 §2): the metadata Kluis keeps, as stored, and
    whether anyone signed in with it yet (an unused one expires)."""

    client_id: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str
    grant_types: tuple[str, ...] | None = None
    client_name: str | None = None
    client_uri: str | None = None
    logo_uri: str | None = None
    secret_hash: str | None = None
    used: bool = False

    def to_json(self) -> Record:
        out: Record = {
            "client_id": self.client_id,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
        }
        if self.grant_types is not None:
            out["grant_types"] = list(self.grant_types)
        for name in ("client_name", "client_uri", "logo_uri", "secret_hash"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.used:
            out["used"] = True
        return out

    @classmethod
    def from_json(cls, key: str, data: Record) -> Registration:
        def optional(name: str) -> str | None:
            value = data.get(name)
            return None if value is None else str(value)

        grant_types = data.get("grant_types")
        return cls(
            client_id=str(data["client_id"]),
            redirect_uris=tuple(data.get("redirect_uris") or ()),
            post_logout_redirect_uris=tuple(data.get("post_logout_redirect_uris") or ()),
            token_endpoint_auth_method=str(data["token_endpoint_auth_method"]),
            grant_types=None if grant_types is None else tuple(grant_types),
            client_name=optional("client_name"),
            client_uri=optional("client_uri"),
            logo_uri=optional("logo_uri"),
            secret_hash=optional("secret_hash"),
            used=bool(data.get("used")),
        )


# Anyone may register, so a registration nobody signs in with goes after a day; `mark_used`
# keeps it for good.
CLIENTS: Final = declare("clients", Registration, ttl=UNUSED_REGISTRATION_LIFETIME)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_url_client_id(client_id: str) -> bool:
    parts = urlsplit(client_id)
    return parts.scheme in ("https", "http") and bool(parts.netloc)


def check_redirect_uri(uri: Any) -> str:
    """An absolute redirect URI without a fragment (RFC 6749 §3.1.2)."""
    if not isinstance(uri, str) or len(uri) > MAX_URI_LENGTH:
        raise InvalidRequestError(
            description=f"redirect URIs must be strings of at most {MAX_URI_LENGTH} characters"
        )
    parts = urlsplit(uri)
    if (
        not parts.scheme
        or parts.fragment
        or (parts.scheme in ("http", "https") and not parts.netloc)
    ):
        raise InvalidRequestError(
            description=error_text(f"{uri!r} is not an absolute URI without a fragment")
        )
    if parts.scheme in ("javascript", "data", "file", "vbscript"):
        raise InvalidRequestError(
            description=error_text(f"redirect URIs may not use {parts.scheme}:")
        )
    return uri


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequestError(description=f"{name} must be a list of strings")
    return tuple(value)


def _text(metadata: dict[str, Any], name: str, *, limit: int, url: bool = False) -> str | None:
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequestError(
            description=f"{name} must be a string of at most {limit} characters"
        )
    if url and urlsplit(value).scheme not in ("http", "https"):
        raise InvalidRequestError(description=f"{name} must be an http(s) URL")
    return value


def _uris(metadata: dict[str, Any], name: str) -> list[str]:
    uris = _strings(metadata.get(name), name)
    if len(uris) > MAX_URIS:
        raise InvalidRequestError(description=f"{name} may list at most {MAX_URIS} URIs")
    return [check_redirect_uri(u) for u in uris]


@final
class Clients:
    def __init__(
        self,
        kv: KeyValueStore,
        fetcher: Fetcher,
        *,
        static: list[dict[str, Any]] | None = None,
        registration_lifetime: float = UNUSED_REGISTRATION_LIFETIME,
    ) -> None:
        self.kv = kv
        self._registrations = Records(kv, CLIENTS)
        self.fetcher = fetcher
        self.registration_lifetime = registration_lifetime
        self.registrations = RateLimiter(
            limit=REGISTRATIONS_PER_HOUR, window=3600.0, what="client registrations from here"
        )
        self._documents: LruCache[str, Client] = LruCache(
            max_entries=_CACHE_ENTRIES, max_bytes=_CACHE_BYTES
        )
        self._static = {
            c.client_id: c for c in (self._from_metadata(m, "static") for m in static or [])
        }

    def is_static(self, client_id: str) -> bool:
        """Whether the operator registered `client_id` in the static client list."""
        return client_id in self._static

    async def find(self, client_id: str) -> Client:
        """The client named `client_id`. Raises InvalidClientError when there is none."""
        if not client_id or len(client_id) > 2000:
            raise InvalidClientError(description="client_id is missing")
        if client_id in self._static:
            return self._static[client_id]
        if is_url_client_id(client_id):
            return await self._document(client_id)
        found = await self._registrations.get(client_id)
        if found is None:
            raise InvalidClientError(description=error_text(f"unknown client {client_id!r}"))
        return self._from_metadata(found.to_json(), "registered")

    async def _document(self, client_id: str) -> Client:
        cached = self._documents.get(client_id)
        if cached is not None:
            return cached
        try:
            fetched = await self.fetcher.get(
                client_id, accept="application/ld+json, application/json;q=0.9"
            )
        except FetchError as exc:
            raise InvalidClientError(
                description=error_text(f"cannot read the client document: {exc.message}")
            ) from exc
        if fetched.status != 200:
            raise InvalidClientError(description=f"the client document answered {fetched.status}")
        try:
            document = json.loads(fetched.body)
        except (ValueError, RecursionError) as exc:
            raise InvalidClientError(description="the client document is not JSON") from exc
        if not isinstance(document, dict) or document.get("client_id") != client_id:
            raise InvalidClientError(description="the client document names another client_id")
        try:
            client = self._from_metadata(document, "document")
        except InvalidRequestError as exc:
            raise InvalidClientError(description=f"bad client document: {exc.description}") from exc
        if not client.is_public:
            raise InvalidClientError(description="client documents describe public clients only")
        self._documents.put(client_id, client, expires=time.monotonic() + _DOCUMENT_TTL)
        return client

    @staticmethod
    def _from_metadata(meta: dict[str, Any], kind: str) -> Client:
        redirect_uris = tuple(
            check_redirect_uri(u) for u in _strings(meta.get("redirect_uris"), "redirect_uris")
        )
        auth_method = meta.get(
            "token_endpoint_auth_method", "none" if kind == "document" else "client_secret_basic"
        )
        if auth_method not in AUTH_METHODS:
            raise InvalidRequestError(
                description=error_text(
                    f"token_endpoint_auth_method {auth_method!r} is not supported"
                )
            )
        grant_types = _strings(meta.get("grant_types"), "grant_types") or (
            "authorization_code",
            "refresh_token",
        )
        return Client(
            client_id=str(meta["client_id"]),
            redirect_uris=redirect_uris,
            kind=kind,
            name=str(meta.get("client_name", ""))[:200],
            uri=str(meta.get("client_uri", ""))[:2000],
            logo_uri=str(meta.get("logo_uri", ""))[:2000],
            post_logout_redirect_uris=_strings(
                meta.get("post_logout_redirect_uris"), "post_logout_redirect_uris"
            ),
            auth_method=str(auth_method),
            secret_hash=meta.get("secret_hash")
            or (_hash(meta["client_secret"]) if meta.get("client_secret") else None),
            grant_types=grant_types,
        )

    async def register(
        self, metadata: dict[str, Any], *, address: str
    ) -> tuple[Client, str | None]:
        """Dynamic client registration (RFC 7591) from client address `address`. Returns the
        client and its secret, if any. Only the metadata Kluis uses is kept, checked and
        bounded; the registration expires unless someone signs in with it (`mark_used`).
        Raises TooManyRequests or InvalidRequestError."""
        self.registrations.take(address)
        if not isinstance(metadata, dict):
            raise InvalidRequestError(description="the registration request must be a JSON object")
        uris = _uris(metadata, "redirect_uris")
        if not uris:
            raise InvalidRequestError(description="redirect_uris is required")
        auth_method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
        if auth_method not in AUTH_METHODS:
            raise InvalidRequestError(
                description=f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}"
            )
        grants = [
            g for g in _strings(metadata.get("grant_types"), "grant_types") if g in GRANT_TYPES
        ]
        if "grant_types" in metadata and not grants:
            raise InvalidRequestError(
                description=f"grant_types must include one of {', '.join(GRANT_TYPES)}"
            )
        client_id = secrets.token_hex(16)
        secret = None if auth_method == "none" else secrets.token_urlsafe(32)
        registration = Registration(
            client_id=client_id,
            redirect_uris=tuple(uris),
            post_logout_redirect_uris=tuple(_uris(metadata, "post_logout_redirect_uris")),
            token_endpoint_auth_method=str(auth_method),
            grant_types=tuple(grants) if grants else None,
            client_name=_text(metadata, "client_name", limit=MAX_NAME_LENGTH),
            client_uri=_text(metadata, "client_uri", limit=MAX_URI_LENGTH, url=True),
            logo_uri=_text(metadata, "logo_uri", limit=MAX_URI_LENGTH, url=True),
            secret_hash=None if secret is None else _hash(secret),
        )
        client = self._from_metadata(registration.to_json(), "registered")
        await self._registrations.put(client_id, registration, ttl=self.registration_lifetime)
        return client, secret

    async def mark_used(self, client_id: str) -> None:
        """Someone signed in with registered client `client_id`: keep it from now on."""
        found = await self._registrations.get(client_id)
        if found is not None and not found.used:
            await self._registrations.put(client_id, replace(found, used=True), ttl=None)
