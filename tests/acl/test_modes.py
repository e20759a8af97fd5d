"""The modes each operation needs (pure), per WAC §server-*-operation and SPEC.md §9."""

from __future__ import annotations

from collections.abc import Callable

from pod.acl.modes import needed_modes
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
