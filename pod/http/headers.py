"""HTTP header values: Link building and parsing, Allow/Accept-*, WAC-Allow. Pure functions.

Parsing is bounded (number of entries, length) so a hostile header costs little.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from pod.acl.authorizer import Allowed
from pod.ldp import rdf
from pod.ldp.patch import PATCH_TYPES

MAX_LINK_LENGTH = 8192
MAX_LINKS = 32
ACCEPT_PATCH = ", ".join(PATCH_TYPES)
# Any file is accepted, but the RDF types come first: a client picking a serialization from this
# list (Comunica) then writes RDF that Kluis reads as RDF, not its own favourite (N-Quads, which
# Kluis would store as an opaque file).
ACCEPT_PUT = ", ".join((*rdf.RDF_TYPES, "*/*"))
ACCEPT_POST = ACCEPT_PUT
RDF_TYPES_LIST = ", ".join(rdf.RDF_TYPES)
CORS_EXPOSE = ", ".join(
    [
        "Accept-Patch",
        "Accept-Post",
        "Accept-Put",
        "Accept-Ranges",
        "Allow",
        "Content-Range",
        "ETag",
        "Last-Modified",
        "Link",
        "Location",
        "Retry-After",
        "Updates-Via",
        "Vary",
        "WAC-Allow",
        "WWW-Authenticate",
        "X-Request-Id",
    ]
)


def link(target: str, rel: str) -> str:
    return f'<{target}>; rel="{rel}"'


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """Parse `Link: <uri>; rel="type", <uri2>; rel=x` into (uri, params) pairs (RFC 8288).

    Malformed link-values are skipped. Commas inside `<...>` and quoted strings are respected.
    """
    out: list[tuple[str, dict[str, str]]] = []
    text = value[:MAX_LINK_LENGTH]
    i, n = 0, len(text)
    while i < n and len(out) < MAX_LINKS:
        while i < n and text[i] in " \t,":
            i += 1
        if i >= n or text[i] != "<":
            # skip to the next comma outside quotes
            i = _skip_to_comma(text, i)
            continue
        end = text.find(">", i + 1)
        if end < 0:
            break
        target = text[i + 1 : end]
        i = end + 1
        params: dict[str, str] = {}
        while i < n:
            while i < n and text[i] in " \t":
                i += 1
            if i >= n or text[i] != ";":
                break
            i += 1
            while i < n and text[i] in " \t":
                i += 1
            start = i
            while i < n and text[i] not in "=;, \t":
                i += 1
            key = text[start:i].lower()
            while i < n and text[i] in " \t":
                i += 1
            val = ""
            if i < n and text[i] == "=":
                i += 1
                while i < n and text[i] in " \t":
                    i += 1
                if i < n and text[i] == '"':
                    i += 1
                    chars = []
                    while i < n and text[i] != '"':
                        if text[i] == "\\" and i + 1 < n:
                            i += 1
                        chars.append(text[i])
                        i += 1
                    i += 1
                    val = "".join(chars)
                else:
                    start = i
                    while i < n and text[i] not in ";, \t":
                        i += 1
                    val = text[start:i]
            if key and key not in params:
                params[key] = val
        out.append((target, params))
        i = _skip_to_comma(text, i)
    return out


def _skip_to_comma(text: str, i: int) -> int:
    quoted = False
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            return i + 1
        i += 1
    return i


def link_types(value: str | None) -> set[str]:
    """The targets of `rel="type"` links in a request's Link header."""
    if not value:
        return set()
    return {
        target
        for target, params in parse_link_header(value)
        if "type" in params.get("rel", "").split()
    }


@functools.lru_cache(maxsize=256)
def wac_allow(allowed: Allowed) -> str:
    """`WAC-Allow: user="read write append control",public="read"` (WAC #server-wac-allow)."""
    return f'user="{" ".join(allowed.user.names)}",public="{" ".join(allowed.public.names)}"'


def join(values: Iterable[str]) -> str:
    return ", ".join(values)
