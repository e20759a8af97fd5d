"""The modes each operation needs (pure).

WAC https://solidproject.org/TR/wac#server-read-operation and the operations after it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pod.acl.modes import needed_modes
from pod.ldp.patch import SPARQL_UPDATE, parse_patch
from pod.model import AccessMode

R, A, W, C = AccessMode.READ, AccessMode.APPEND, AccessMode.WRITE, AccessMode.CONTROL


def exists(*paths: str) -> Callable[[str], bool]:
    return set(paths).__contains__


def test_read() -> None:
    assert needed_modes("GET", "/a/b", exists=exists()).modes == {"/a/b": R}


def test_create_needs_append_on_the_nearest_container_and_each_new_one() -> None:
    needs = needed_modes("PUT", "/a/b/c/d", exists=exists("/a/", "/"))
    assert needs.modes == {"/a/b/c/": A, "/a/b/": A, "/a/": A, "/a/b/c/d": W}


def test_replace_needs_write() -> None:
    assert needed_modes("PUT", "/a/d", exists=exists("/a/d", "/a/")).modes == {"/a/d": W}


def test_delete_needs_write_here_and_on_the_container() -> None:
    assert needed_modes("DELETE", "/a/d", exists=exists()).modes == {"/a/d": W, "/a/": W}


def test_acl_needs_control_on_its_subject() -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE", "HEAD"):
        assert needed_modes(method, "/a/d.acl", exists=exists()).modes == {"/a/d": C}
    assert needed_modes("GET", "/a/.acl", exists=exists()).modes == {"/a/": C}


def test_meta_follows_its_subject() -> None:
    assert needed_modes("GET", "/a/d.meta", exists=exists()).modes == {"/a/d": R}
    assert needed_modes("PUT", "/a/d.meta", exists=exists()).modes == {"/a/d": W}


def test_post_needs_append() -> None:
    assert needed_modes("POST", "/a/", exists=exists("/a/")).modes == {"/a/": A}


def test_patch_needs_append_before_its_body_is_read() -> None:
    # Checked before the body is read: what every patch needs, here or on the containers made.
    assert needed_modes("PATCH", "/a/d", exists=exists("/a/d", "/a/")).modes == {"/a/d": A}
    assert needed_modes("PATCH", "/a/b/d", exists=exists("/a/")).modes == {
        "/a/": A,
        "/a/b/": A,
        "/a/b/d": A,
    }
    assert needed_modes("PATCH", "/a/d.meta", exists=exists()).modes == {"/a/d": A}
    assert needed_modes("PATCH", "/a/d.acl", exists=exists()).modes == {"/a/d": C}


@pytest.mark.parametrize(
    ("update", "modes"),
    [
        ("INSERT DATA { <a> <b> <c> }", A),
        ("DELETE DATA { <a> <b> <c> }", R | W | A),
        ("INSERT { <a> <b> ?o } WHERE { <a> <c> ?o }", R | A),
        ("DELETE WHERE { <a> <b> ?o }", R | W | A),
        # A where clause alone still writes a new version of the resource: Append, too.
        ("INSERT { } WHERE { <a> <b> ?o }", R | A),
        ("", A),
    ],
)
def test_patch_modes_follow_what_the_patch_does(update: str, modes: AccessMode) -> None:
    patch = parse_patch(update.encode(), SPARQL_UPDATE, base="http://example.org/a/d")
    assert needed_modes("PATCH", "/a/d", exists=exists("/a/d"), patch=patch).modes == {
        "/a/d": modes
    }
