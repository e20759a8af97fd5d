"""Settings: one frozen value read from defaults, `KLUIS_*` environment variables and the CLI.

Bottom layer: imports nothing from pod. Every field `x` has the environment variable `KLUIS_X` and
the CLI option `--x` (underscores become dashes); the README's configuration table lists them all.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "KLUIS_"


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an operator can configure. Build with `Settings.load()` or plainly for tests."""

    host: str = _setting("localhost", "Interface to listen on.")
    port: int = _setting(3000, "TCP port to listen on.")
    base_url: str = _setting(
        "",
        "Public URL of the server; every absolute URL Kluis emits derives from it. "
        "Set it behind a reverse proxy. Default: http://<host>:<port>/",
    )
    data_dir: Path = _setting(Path("data"), "Directory of the file-system storage.")
    storage: str = _setting("file", "Storage backend: `file` (default) or `memory`.")
    max_body_bytes: int = _setting(64 * 1024 * 1024, "Largest request body accepted (413 above).")
    max_rdf_bytes: int = _setting(8 * 1024 * 1024, "Largest RDF body parsed (413 above).")
    max_patch_bytes: int = _setting(
        64 * 1024,
        "Largest PATCH body (N3 Patch or SPARQL Update) parsed (413 above); the worst "
        "patch this size takes about half a second of CPU to parse.",
    )
    pod_quota_bytes: int = _setting(
        0,
        "Bytes each pod may hold (507 for a write past it); 0: no limit. The operator can "
        "give a pod a limit of its own.",
    )
    max_import_bytes: int = _setting(
        10 * 1024**3,
        "Largest pod archive accepted for import (413 above); it is spooled to "
        "<data_dir>/.kluis/tmp/ while it is checked.",
    )
    export_compression: int = _setting(
        3, "zlib level (1 fastest to 9 smallest) of pod export archives."
    )
    export_seconds: float = _setting(
        6 * 3600.0,
        "Longest time, in seconds, one export may take: its connection is cut after (a "
        "client that reads none of it for body_timeout seconds sooner).",
    )
    fsync: bool = _setting(True, "fsync files and directories on every write (crash durability).")
    access_log: bool = _setting(True, "Log one line per request.")
    disclosure_log: bool = _setting(
        True,
        "Keep each pod owner's access log: every request by another identified agent, and "
        "anonymous reads counted per resource and day.",
    )
    disclosure_days: int = _setting(
        365, "Days the access log is kept, unless a pod's owner chooses otherwise (7 to 3650)."
    )
    name_hold_days: int = _setting(
        365,
        "Days an erased pod's name (and so its WebID) is held back: it answers 410 Gone and "
        "only the reclaim code on the erasure receipt can take it again.",
    )
    shutdown_timeout: float = _setting(
        10.0, "Seconds in-flight requests get to finish on SIGINT/SIGTERM."
    )
    idle_timeout: float = _setting(
        60.0,
        "Seconds a connection may wait for the head of its next request (slow or idle "
        "clients are then disconnected).",
    )
    body_timeout: float = _setting(
        30.0, "Longest pause, in seconds, between two parts of a request body (408 after)."
    )
    log_level: str = _setting("info", "Logging level: debug, info, warning, error.")
    allow_bearer: bool = _setting(
        False, "Accept plain Bearer access tokens (no DPoP). Off: only DPoP-bound tokens."
    )
    fetch_private_networks: bool = _setting(
        False,
        "Let outbound fetches (WebIDs, issuer keys, groups) reach private and loopback "
        "addresses. Keep off in production (SSRF); on for tests and intranets.",
    )
    fetch_timeout: float = _setting(5.0, "Seconds an outbound fetch may take.")
    remote_cache_seconds: float = _setting(
        60.0,
        "Seconds the members of a group on another server (acl:agentGroup) are trusted before "
        "its document is fetched again, and with them every access decision that used them: a "
        "member removed there loses access here after at most this long.",
    )
    proof_threads: int = _setting(
        0,
        "Threads that check DPoP proof signatures off the event loop; 0: on the event loop, in "
        "batches, which measured faster than a thread on two cores (it waits for the GIL).",
    )
    admin_token_file: str = _setting(
        "",
        "Where the server writes, at every start, the token `kluis admin` needs (mode 0600). "
        "Empty: `<data_dir>/.kluis/admin-token` with file storage; with memory storage, "
        "`kluis admin` is off unless this is set.",
    )
    allow_signup: bool = _setting(True, "Let anyone create an account on the sign-up page.")
    password_cost: int = _setting(
        15, "scrypt cost (log2 N) for new password hashes; higher is slower and stronger."
    )
    static_clients: str = _setting(
        "", "Path to a JSON list of OAuth client metadata registered ahead of time."
    )
    trusted_proxies: str = _setting(
        "",
        "Comma-separated addresses or networks (CIDR) of reverse proxies whose Forwarded or "
        "X-Forwarded-For header names the client, for rate limits. Empty: the connecting "
        "address is the client.",
    )

    event_loop: str = _setting(
        "auto",
        "Event loop: `auto` (uvloop when installed, else asyncio's own), `uvloop` or `asyncio`.",
    )

    def __post_init__(self) -> None:
        if self.storage not in ("file", "memory"):
            raise ValueError(f"storage must be 'file' or 'memory', not {self.storage!r}")
        if self.event_loop not in ("auto", "uvloop", "asyncio"):
            raise ValueError(
                f"event_loop must be 'auto', 'uvloop' or 'asyncio', not {self.event_loop!r}"
            )
        if not self.base_url:
            host = "localhost" if self.host in ("", "0.0.0.0", "::") else self.host  # noqa: S104
            object.__setattr__(self, "base_url", f"http://{host}:{self.port}/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an absolute http(s) URL, not {self.base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError("base_url may not have a query or fragment")
        if not self.base_url.endswith("/"):
            object.__setattr__(self, "base_url", self.base_url + "/")
        if not 1 <= self.export_compression <= 9:
            raise ValueError(f"export_compression must be 1 to 9, not {self.export_compression}")
        for name in (
            "max_body_bytes",
            "max_rdf_bytes",
            "max_patch_bytes",
            "pod_quota_bytes",
            "max_import_bytes",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} may not be negative")
        # A TCP port is 16 bits; 0 would listen on a random port the base URL does not name.
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be between 1 and 65535, not {self.port}")
        for name in ("idle_timeout", "body_timeout", "export_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError(
                f"log_level must be debug, info, warning or error, not {self.log_level!r}"
            )
        if self.proof_threads < 0:
            raise ValueError("proof_threads must be 0 or more")
        if self.remote_cache_seconds < 0:
            raise ValueError("remote_cache_seconds may not be negative")
        if not 7 <= self.disclosure_days <= 3650:
            raise ValueError(f"disclosure_days must be 7 to 3650, not {self.disclosure_days}")
        if self.name_hold_days < 0:
            raise ValueError("name_hold_days may not be negative")
        self.proxy_networks  # noqa: B018 (refuse a malformed list at start-up, not per request)

    @property
    def proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """`trusted_proxies` parsed: the networks whose forwarding headers are believed."""
        return _networks(self.trusted_proxies)

    @property
    def admin_token_path(self) -> Path | None:
        """Where the admin token goes (`admin_token_file`); None: `kluis admin` is off."""
        if self.admin_token_file:
            return Path(self.admin_token_file)
        if self.storage == "memory":
            return None
        return self.data_dir / ".kluis" / "admin-token"

    @property
    def base_path(self) -> str:
        """The path part of the base URL, always ending in `/` (`/` unless behind a prefix)."""
        return urlsplit(self.base_url).path or "/"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, /, **overrides: Any) -> Settings:
        """Read `KLUIS_*` variables from `env`, then apply `overrides` (None values are ignored).

        Raises ValueError with the variable's name when a value does not parse.
        """
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = (env or {}).get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                try:
                    values[f.name] = parse_value(f.type, raw)
                except ValueError as exc:
                    raise ValueError(f"{ENV_PREFIX}{f.name.upper()}: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def parse_value(type_name: Any, raw: str) -> Any:
    """Parse a setting's text (from the environment or the CLI) into the field's type."""
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "")
    if kind == "bool":
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "Path":
        return Path(raw)
    return raw


@functools.lru_cache(maxsize=8)
def _networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    try:
        return tuple(
            ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
        )
    except ValueError as exc:
        raise ValueError(f"trusted_proxies: {exc}") from exc


def setting_fields() -> list[dataclasses.Field[Any]]:
    """The fields of Settings, for the CLI and the documentation test."""
    return list(dataclasses.fields(Settings))
