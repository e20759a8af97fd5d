"""Property tests for `pod.paths`: URL paths round-trip, and nothing hostile gets through.

A path or an encoded separator (`%2F`, `%00`, `..` in any encoding) can never address
anything outside its storage. These properties check the one function every request path goes
through (`parse_url_path`), the file backend's mapping of its results onto the disk, and the Slug
hint that POST turns into a child name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pod import paths
from pod.errors import InvalidPath
from pod.ldp.naming import slug_name as _slug_name
from pod.storage.fs import FileBackend

PROPERTY = settings(max_examples=200, deadline=None, database=None)

# Any character a decoded name may hold, minus the separator and control characters (which the
# parser refuses) and surrogates (which no UTF-8 request line can carry).
_name_chars = st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="/\x7f")
names = st.text(_name_chars, min_size=1, max_size=24).filter(paths.is_valid_name)
tricky_names = st.sampled_from(
    [
        "a",
        "..a",
        "a..",
        "...",
        ".acl",
        "x.acl",
        "x.meta",
        "%",
        "%2e",
        "%2F",
        "~",
        "a b",
        "é",
        "😀",
        ".hidden",
        ".kluis-not-quite",
        "kluis",
        ".well-knowns",
        "-",
        "#",
        "?",
        "+",
        "&",
        ";",
        "=",
        "@",
    ]
).filter(paths.is_valid_name)
valid_paths = st.builds(
    lambda segments, container: "/" + "/".join(segments) + ("/" if container and segments else ""),
    st.lists(st.one_of(names, tricky_names), max_size=6),
    st.booleans(),
).filter(
    # Only a document's name may end like an auxiliary resource's.
    lambda p: (
        not any(paths.has_auxiliary_suffix(n) for n in p.rstrip("/").split("/")[1:-1])
        and not (p.endswith("/") and paths.has_auxiliary_suffix(p.rstrip("/").rsplit("/", 1)[-1]))
    )
)
base_paths = st.sampled_from(["/", "/base/", "/a/b/", "/%C3%A9/"])

# Raw (still encoded) request paths: free text, percent-encoded bytes, and hostile fragments.
_pct_segment = st.binary(max_size=12).map(lambda b: "".join(f"%{x:02X}" for x in b))
_hostile = st.sampled_from(
    [
        "..",
        ".",
        "%2e",
        "%2E",
        "%2e%2e",
        ".%2e",
        "%2E.",
        "%2f",
        "%2F",
        "%5c",
        "\\",
        "%00",
        "%0a",
        "%0D",
        "%7f",
        "%",
        "%z",
        "%zz",
        "%ff",
        "%c0%ae",
        "%e0%80%ae",
        ".kluis",
        "%2ekluis~self.ttl",
        ".kluis~meta~x",
        ".well-known",
        "%2Ewell-known",
        ".ACL",
        "x.Acl",
        "x.acl.",
        "x.acl%20",
        "x.META",
        "%EF%BC%8E%EF%BD%81%EF%BD%83%EF%BD%8C",
        ".KLUIS~meta~x",
        ".Well-Known",
        "x.acl",
        "a",
        "b",
        "",
        "~",
        "%25",
        "%252e",
    ]
)
_raw_segment = st.one_of(st.text(max_size=12), _pct_segment, _hostile)
raw_paths = st.builds(
    lambda segments: "/" + "/".join(segments),
    st.lists(st.one_of(_raw_segment, st.lists(_hostile, max_size=4).map("".join)), max_size=8),
)


def assert_safe(path: str) -> None:
    """The invariants every accepted path keeps, whatever the input was."""
    assert path.startswith("/")
    if path == "/":
        return
    body = path[1:-1] if path.endswith("/") else path[1:]
    for name in body.split("/"):
        assert name, path
        assert name not in (".", ".."), path
        assert "/" not in name
        assert "\x00" not in name
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in name), path
        # ... in any case or Unicode form a file system may fold it to
        folded = paths.fold(name)
        assert not folded.startswith(paths.RESERVED_PREFIX), path
        assert folded not in paths.RESERVED_NAMES, path
        assert not folded.endswith(paths.AUXILIARY_SUFFIXES) or name.endswith(
            paths.AUXILIARY_SUFFIXES
        ), path
        assert len(name.encode()) <= paths.MAX_SEGMENT_BYTES
    containers = body.split("/") if path.endswith("/") else body.split("/")[:-1]
    assert not any(paths.has_auxiliary_suffix(n) for n in containers), path
    assert len(path.encode()) <= paths.MAX_PATH_BYTES
    # An accepted path is canonical: encoding it again gives the same path back.
    assert paths.parse_url_path(paths.to_url_path(path)) == path


@PROPERTY
@given(valid_paths, base_paths)
@example("/", "/")
@example("/a/b/", "/")
@example("/%/%25/", "/")
@example("/x.acl", "/base/")
def test_valid_paths_round_trip(path: str, base: str) -> None:
    encoded = paths.to_url_path(path, base)
    assert encoded.startswith(base)
    assert paths.parse_url_path(encoded, base) == path


@PROPERTY
@given(valid_paths)
def test_encoded_paths_contain_no_raw_separators_or_dots(path: str) -> None:
    encoded = paths.to_url_path(path)
    assert encoded.count("/") == path.count("/")
    for segment in encoded.strip("/").split("/"):
        assert segment not in (".", "..")
        assert all(0x20 < ord(c) < 0x7F for c in segment), encoded


@PROPERTY
@given(st.text(max_size=80))
@example("/../x")
@example("/%2e%2e/x")
@example("/a%2Fb")
@example("/a%00b")
def test_arbitrary_text_is_refused_or_safe(raw: str) -> None:
    for candidate in (raw, "/" + raw):
        try:
            path = paths.parse_url_path(candidate)
        except InvalidPath:
            continue
        assert_safe(path)


@PROPERTY
@given(raw_paths)
@example("/pod/%2E%2e/")
@example("/pod/.%2e/x")
@example("/pod/%c0%ae%c0%ae/x")
@example("/" + "a/" * 100)
def test_encoded_and_hostile_paths_are_refused_or_safe(raw: str) -> None:
    try:
        path = paths.parse_url_path(raw)
    except InvalidPath:
        return
    assert_safe(path)


@PROPERTY
@given(st.binary(max_size=40))
def test_any_percent_encoded_bytes_are_refused_or_safe(data: bytes) -> None:
    raw = "/" + "".join(f"%{b:02x}" for b in data)
    try:
        path = paths.parse_url_path(raw)
    except InvalidPath:
        return
    assert_safe(path)
    # A single encoded segment never turns into more than one.
    assert path.count("/") == 1


@pytest.fixture(scope="module")
def fs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fs-root") / "data"


def _inside(child: str | Path, root: Path) -> bool:
    return Path(child).resolve().is_relative_to(root.resolve())


@PROPERTY
@given(st.one_of(raw_paths, valid_paths.map(paths.to_url_path)))
def test_file_backend_mapping_stays_inside_the_root(fs_root: Path, raw: str) -> None:
    try:
        path = paths.parse_url_path(raw)
    except InvalidPath:
        return
    backend = FileBackend(fs_root, fsync=False)
    mapped = backend._fs_path(path)
    assert _inside(mapped, fs_root), (raw, mapped)
    segments = [s for s in path.split("/") if s]
    assert Path(mapped).relative_to(fs_root.absolute()).parts == tuple(segments)
    if not paths.is_container(path):
        assert _inside(backend._sidecar_path(path), fs_root)


@PROPERTY
@given(st.text(max_size=40))
@example("../../etc/passwd")
@example("..")
@example("%2e%2e")
@example("x.acl")
@example("x.meta")
@example(".kluis~self.ttl")
def test_file_backend_refuses_any_unsafe_name(fs_root: Path, name: str) -> None:
    # Defence in depth: even a path that skipped parse_url_path cannot leave the root.
    backend = FileBackend(fs_root, fsync=False)
    try:
        mapped = backend._fs_path("/" + name)
    except InvalidPath:
        return
    assert _inside(mapped, fs_root), (name, mapped)


@PROPERTY
@given(st.one_of(st.text(max_size=300), _hostile, st.lists(_hostile, max_size=6).map("".join)))
@example("../../x")
@example("%2e%2e%2f%2e%2e%2fx")
@example("x.acl")
@example("x.acl%00")
@example("x.ACL")
@example(".well-known")
def test_slug_becomes_one_safe_non_auxiliary_name_or_none(slug: str) -> None:
    name = _slug_name(slug)
    if name is None:
        return
    assert paths.is_valid_name(name), name
    assert "/" not in name
    assert not paths.has_auxiliary_suffix(name), name
    child = "/pod/" + name
    assert paths.parent(child) == "/pod/"
    assert paths.parse_url_path(paths.to_url_path(child)) == child


@PROPERTY
@given(valid_paths)
def test_ancestors_are_containers_and_prefixes(path: str) -> None:
    chain = paths.ancestors(path)
    if path == "/":
        assert chain == []
        return
    assert chain[-1] == "/"
    for ancestor in chain:
        assert paths.is_container(ancestor)
        assert path.startswith(ancestor)
        assert ancestor != path
    assert paths.parent(path) == chain[0]


@PROPERTY
@given(st.text(_name_chars, min_size=1, max_size=24))
@example(".ACL")
@example("\uff58\uff0e\uff41\uff43\uff4c")  # fullwidth "x.acl"
@example("x.Meta ")
@example(".KLUIS~tmp~1")
def test_no_accepted_name_folds_onto_an_auxiliary_or_reserved_name(name: str) -> None:
    """Issue 10 item 4: on a case-insensitive or normalising file system, a name is the file of
    every name it folds to; none may reach an auxiliary resource or the server's own files."""
    if not paths.is_valid_name(name):
        return
    folded = paths.fold(name)
    assert not folded.startswith(paths.RESERVED_PREFIX)
    assert folded not in paths.RESERVED_NAMES
    if folded.endswith(paths.AUXILIARY_SUFFIXES):
        assert name.endswith(paths.AUXILIARY_SUFFIXES)


@pytest.mark.parametrize("raw", ["/a/.acl/", "/a/x.acl/b", "/a/x.META/", "/x.meta/"])
def test_containers_are_never_named_like_auxiliary_resources(raw: str) -> None:
    with pytest.raises(InvalidPath, match=r"container's name|auxiliary"):
        paths.parse_url_path(raw)
