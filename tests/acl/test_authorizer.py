"""One authorizer over several permission readers: the union decides, existence is its own
business, and a refusal never tells what exists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pod.acl.authorizer import Authorizer, GrantAll
from pod.errors import Forbidden, Unauthenticated
from pod.ldp.operation import Operation
from pod.ldp.rules import SolidRules
from pod.model import ANONYMOUS, AccessMode, Credentials
from pod.storage.base import Backend
from pod.storage.memory import MemoryBackend
from tests.support import Traced

R, A, W, C = AccessMode.READ, AccessMode.APPEND, AccessMode.WRITE, AccessMode.CONTROL
ALICE = Credentials(agent="https://alice.example/#me")
_modes = st.sampled_from([R, A, W | A, C, R | W | A, R | C, AccessMode.NONE])


class Table:
    """A permission source granting fixed modes per path, counting its questions."""

    def __init__(self, grants: dict[str, AccessMode]) -> None:
        self.grants = grants
        self.asked = 0

    async def modes(self, credentials: Credentials, path: str) -> AccessMode:
        self.asked += 1
        return self.grants.get(path, AccessMode.NONE)


def _authorizer(*readers: Table | GrantAll, backend: Backend | None = None) -> Authorizer:
    return Authorizer(readers, SolidRules(backend or MemoryBackend(), base_url="http://x.example"))


@settings(max_examples=60, deadline=None)
@given(one=_modes, two=_modes, method=st.sampled_from(["GET", "POST", "DELETE"]))
async def test_the_union_of_the_readers_decides(
    one: AccessMode, two: AccessMode, method: str
) -> None:
    path = "/a/doc" if method != "POST" else "/a/"
    parent = "/a/"
    authorizer = _authorizer(Table({path: one, parent: one}), Table({path: two, parent: two}))
    need = {"GET": R, "POST": A, "DELETE": W}[method]  # DELETE: on the resource and container
    granted = one | two
    if need in granted:
        await authorizer.authorize(ALICE, Operation(method, path))
    else:
        with pytest.raises(Forbidden):
            await authorizer.authorize(ALICE, Operation(method, path))
    assert (await authorizer.allowed(ALICE, path)).user == granted


async def test_a_refusal_is_401_for_the_anonymous_and_403_for_an_agent_and_names_no_mode() -> None:
    authorizer = _authorizer(Table({}))
    with pytest.raises(Unauthenticated) as anonymous:
        await authorizer.authorize(ANONYMOUS, Operation("PUT", "/a/b/c"))
    with pytest.raises(Forbidden) as agent:
        await authorizer.authorize(ALICE, Operation("PUT", "/a/b/c"))
    for refusal in (anonymous.value, agent.value):
        assert "http://x.example/a/b/c" in refusal.message
        assert "/a/b/" not in refusal.message.replace("/a/b/c", "")
        assert "append" not in refusal.message.lower()


async def test_it_looks_up_existence_only_where_the_needs_depend_on_it() -> None:
    backend = Traced(MemoryBackend())
    await backend.write("/a/", b"", content_type="text/turtle")
    backend.calls.clear()
    authorizer = _authorizer(GrantAll(), backend=backend)
    for method in ("GET", "HEAD", "POST", "DELETE", "OPTIONS"):
        await authorizer.authorize(ALICE, Operation(method, "/a/"))
    assert backend.calls == []
    # A create: the target, then each container up to the nearest that exists.
    checked = await authorizer.authorize(ALICE, Operation("PUT", "/a/b/c/doc"))
    assert backend.calls == [("stat", p) for p in ("/a/b/c/doc", "/a/b/c/", "/a/b/", "/a/")]
    assert checked.target is None
    assert checked.existing == frozenset({"/a/"})
    # Asked again with what it found (a PATCH, once its body is read), it looks nothing up.
    backend.calls.clear()
    await authorizer.authorize(ALICE, Operation("PATCH", "/a/b/c/doc"), known=checked)
    assert backend.calls == []


async def test_a_second_reader_is_not_asked_once_everything_is_granted() -> None:
    second = Table({"/doc": R})
    authorizer = _authorizer(GrantAll(), second)
    await authorizer.authorize(ALICE, Operation("GET", "/doc"))
    assert second.asked == 0


def test_an_authorizer_needs_a_reader() -> None:
    with pytest.raises(ValueError, match="at least one"):
        _authorizer()
