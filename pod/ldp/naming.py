"""Names for the resources POST creates (Solid Protocol
https://solidproject.org/TR/protocol#server-post-uri-assignment): the client's Slug when it is
safe, else one of ours."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Final
from urllib.parse import unquote

from pod import paths

_SLUG_MAX: Final = 120
_UNSAFE_SLUG: Final = re.compile(r"[\x00-\x1f\x7f/\\?#]+")


def slug_name(slug: str | None) -> str | None:
    """A safe child name from a Slug hint (RFC 5023 §9.7), or None to mint one."""
    if not slug:
        return None
    try:
        text = unquote(slug, errors="strict")
    except UnicodeDecodeError:
        return None
    name = _UNSAFE_SLUG.sub("-", text).strip()[:_SLUG_MAX].strip()
    # Never let a Slug create an auxiliary resource: POST needs only Append, an ACL needs Control.
    if not paths.is_valid_name(name) or paths.has_auxiliary_suffix(name):
        return None
    return name


def fresh_name(taken: str | None) -> str:
    """A new name: the Slug with a random suffix before its extension, or a UUID."""
    if taken is None:
        return str(uuid.uuid4())
    stem, dot, ext = taken.rpartition(".")
    if dot and stem:
        return f"{stem}-{secrets.token_hex(3)}.{ext}"
    return f"{taken}-{secrets.token_hex(3)}"
