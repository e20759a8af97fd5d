"""Resource paths: the one place where URL paths are validated, decoded and encoded.

A *path* is the server's internal name of a resource: `/` followed by percent-decoded segments
joined with `/`; containers end in `/`. Because a decoded segment may never hold `/`, NUL or a
dot-segment, a path can be mapped onto any storage without escaping it. Bottom layer.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from pod.cache import LruCache, memoize_short
from pod.errors import InvalidPath

ROOT = "/"
ACL_SUFFIX = ".acl"
META_SUFFIX = ".meta"
AUXILIARY_SUFFIXES = (ACL_SUFFIX, META_SUFFIX)
MAX_SEGMENT_BYTES = 200  # leaves room for storage-layout affixes within a 255-byte file name
MAX_PATH_BYTES = 2048
MAX_DEPTH = 64
# Names the server keeps for itself: the storage layout (`.kluis~...` files, `.kluis/` state),
# `.well-known` (storage descriptions, OpenID discovery), and the identity provider's `.oidc/` and
# `.account/` endpoints.
RESERVED_PREFIX = ".kluis"
RESERVED_NAMES = frozenset({".well-known", ".oidc", ".account"})
_SAFE = "-._~!$&'()*+,;=:@"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A memo of recent good paths, cheap to rebuild; keyed by raw request paths, so bounded in bytes.
_parsed: LruCache[tuple[str, str], str] = LruCache(max_entries=4096, max_bytes=4 * 1024 * 1024)
_HEX = "0123456789abcdefABCDEF"


def parse_url_path(raw: str, base_path: str = "/") -> str:
    """Turn the raw (still percent-encoded) request path into a validated resource path.

    `raw` must not contain the query string. Raises InvalidPath for anything that could address
    something other than what it names: dot-segments in any encoding, encoded `/`, NUL and other
    control characters, empty or over-long segments, invalid UTF-8, reserved names.
    """
    cached = _parsed.get((raw, base_path))
    if cached is not None:
        return cached
    path = _parse_url_path(raw, base_path)
    _parsed.put((raw, base_path), path)
    return path


def _parse_url_path(raw: str, base_path: str) -> str:
    if "#" in raw:
        raise InvalidPath("a request target has no fragment: '#' must be sent as %23")
    if not raw.startswith(base_path):
        raise InvalidPath(f"path {raw!r} is outside this server's base path {base_path!r}")
    rest = raw[len(base_path) :]
    if rest == "":
        return ROOT
    if len(rest) > MAX_PATH_BYTES * 3:
        raise InvalidPath("path is too long")
    parts = rest.split("/")
    is_container = parts[-1] == ""
    if is_container:
        parts.pop()
    if len(parts) > MAX_DEPTH:
        raise InvalidPath(f"path is deeper than {MAX_DEPTH} segments")
    names = [_decode_segment(p) for p in parts]
    for name in names:
        check_name(name)
    # Only a document can be auxiliary. A container `x.acl/` would make the ACL of `x`
    # impossible to create (its slash twin exists), and one named after an auxiliary resource
    # in another case or form could be that very file on a case-insensitive file system.
    for name in names if is_container else names[:-1]:
        if has_auxiliary_suffix(name):
            raise InvalidPath(
                f"a container's name may not end in {ACL_SUFFIX} or {META_SUFFIX}: {name!r}"
            )
    path = "/" + "/".join(names) + ("/" if is_container else "")
    if len(path.encode()) > MAX_PATH_BYTES:
        raise InvalidPath(f"path is longer than {MAX_PATH_BYTES} bytes")
    return path


def _decode_segment(raw: str) -> str:
    if "%" not in raw:
        return raw
    out = bytearray()
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "%":
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                raise InvalidPath(f"bad percent-encoding in path segment {raw!r}")
            out.append(int(pair, 16))
            i += 3
        else:
            out += ch.encode()
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPath(f"path segment {raw!r} is not valid UTF-8") from exc


def check_name(name: str) -> None:
    """Raise InvalidPath unless `name` is a safe, non-reserved resource name (one segment)."""
    if name == "":
        raise InvalidPath("empty path segment ('//')")
    if name in (".", ".."):
        raise InvalidPath("dot-segments ('.' or '..') are not allowed in paths")
    if "/" in name:
        raise InvalidPath("an encoded '/' (%2F) is not allowed in a path segment")
    if _CONTROL.search(name):
        raise InvalidPath("control characters (NUL, newline, ...) are not allowed in paths")
    if len(name.encode()) > MAX_SEGMENT_BYTES:
        raise InvalidPath(f"path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    folded = fold(name)
    if folded.startswith(RESERVED_PREFIX) or folded in RESERVED_NAMES:
        raise InvalidPath(f"{name!r} is a name reserved by the server")
    if folded.endswith(AUXILIARY_SUFFIXES) and not name.endswith(AUXILIARY_SUFFIXES):
        # On a case-insensitive or normalising file system (macOS, Windows, casefold ext4),
        # `.ACL` is the file `.acl`: writing it with Write would overwrite an ACL, which needs
        # Control (WAC #server-control-operation).
        raise InvalidPath(
            f"{name!r} differs from an auxiliary resource name ({ACL_SUFFIX}, {META_SUFFIX}) "
            "only in case or Unicode form"
        )


def fold(name: str) -> str:
    """`name` as file systems that ignore case or Unicode form may compare it: NFKC-casefolded
    (Unicode §3.13 toNFKC_Casefold, approximated), without the trailing dots and spaces that
    Windows drops from file names."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return folded.rstrip(". ")


def has_auxiliary_suffix(name: str) -> bool:
    """Whether `name`, in any case or Unicode form, ends like an auxiliary resource's name."""
    return fold(name).endswith(AUXILIARY_SUFFIXES)


def is_valid_name(name: str) -> bool:
    try:
        check_name(name)
    except InvalidPath:
        return False
    return True


# Every answer names its resource's URL several times (Link, Location, WAC's target).
@memoize_short(maxsize=8192, max_length=1024)
def to_url_path(path: str, base_path: str = "/") -> str:
    """Percent-encode a resource path for use in a URL under `base_path`."""
    return base_path + "/".join(quote_name(seg) for seg in path[1:].split("/"))


def quote_name(name: str) -> str:
    """Percent-encode one segment (a resource name) for a URL."""
    return quote(name, safe=_SAFE)


def is_container(path: str) -> bool:
    return path.endswith("/")


def parent(path: str) -> str | None:
    """The container holding `path`, or None for the root."""
    if path == ROOT:
        return None
    trimmed = path[:-1] if path.endswith("/") else path
    return trimmed[: trimmed.rindex("/") + 1]


def name_of(path: str) -> str:
    """The last segment of `path`, without a trailing slash ('' for the root)."""
    trimmed = path[:-1] if path.endswith("/") else path
    return trimmed[trimmed.rindex("/") + 1 :]


def ancestors(path: str) -> list[str]:
    """Containers above `path`, nearest first, ending with the root."""
    out = []
    current = parent(path)
    while current is not None:
        out.append(current)
        current = parent(current)
    return out


def twin(path: str) -> str:
    """The path that differs only by the trailing slash (`/a` <-> `/a/`); the root has none."""
    return path[:-1] if path.endswith("/") else path + "/"


# --- auxiliary resources (Solid Protocol §auxiliary-resources; `.acl` and `.meta` as in CSS) ---


def is_auxiliary(path: str) -> bool:
    return not path.endswith("/") and path.endswith(AUXILIARY_SUFFIXES)


def is_acl(path: str) -> bool:
    return not path.endswith("/") and path.endswith(ACL_SUFFIX)


def subject_of(path: str) -> str:
    """The resource an auxiliary resource describes (`/a/b.acl` -> `/a/b`, `/a/.acl` -> `/a/`).

    Raises InvalidPath when the subject would itself be auxiliary (`/a/b.acl.acl`).
    """
    suffix = ACL_SUFFIX if path.endswith(ACL_SUFFIX) else META_SUFFIX
    subject = path[: -len(suffix)]
    if subject.endswith("/"):
        return subject
    if is_auxiliary(subject):
        raise InvalidPath("auxiliary resources have no auxiliary resources of their own")
    if name_of(subject) == "":
        raise InvalidPath("auxiliary resource without a subject")
    return subject


def acl_of(path: str) -> str:
    return path + ACL_SUFFIX


def meta_of(path: str) -> str:
    return path + META_SUFFIX
