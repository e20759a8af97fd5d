"""`WacReader.effective`, for the owner's pages: which ACL governs a resource, where it is
inherited from, and its rules that govern it (WAC #effective-acl-resource), in step with the
change feed."""

from __future__ import annotations

from typing import Final

from pod.acl.defaults import owner_acl
from pod.acl.groups import Groups
from pod.acl.wac_reader import WacReader
from pod.feed import Change, LocalFeed, ResourceChanged
from pod.fetch import Fetcher
from pod.ldp import rdf
from pod.ldp.rules import SolidRules
from pod.model import AccessMode
from pod.storage.memory import MemoryBackend

BASE: Final = "http://x.example"
OWNER: Final = BASE + "/alice/profile/card#me"
R, A, W, C = AccessMode.READ, AccessMode.APPEND, AccessMode.WRITE, AccessMode.CONTROL


async def test_effective_names_the_acl_where_it_is_set_and_the_rules_that_govern() -> None:
    store = SolidRules(MemoryBackend(), base_url=BASE)
    await store.open()
    await store.create_storage("/alice/", owner=OWNER)
    await store.put("/alice/.acl", data=owner_acl(BASE + "/alice/", OWNER), content_type=rdf.TURTLE)
    await store.put("/alice/notes/diary", data=b"<#a> <#b> 'c' .", content_type=rdf.TURTLE)
    feed = LocalFeed()
    reader = WacReader(store, Groups(store, Fetcher()), feed)

    acl, inherited_from, rules = await reader.effective("/alice/notes/diary")
    assert (acl, inherited_from) == ("/alice/.acl", "/alice/")
    assert [(r.modes, r.agents) for r in rules] == [(R | W | A | C, frozenset({OWNER}))]
    acl, inherited_from, rules = await reader.effective("/alice/")
    assert (acl, inherited_from) == ("/alice/.acl", None)
    assert len(rules) == 1

    # The document gets its own ACL, public to read: the feed says so, and it governs.
    diary = BASE + "/alice/notes/diary"
    own = owner_acl(diary, OWNER, public_modes=("Read",))
    await store.put("/alice/notes/diary.acl", data=own, content_type=rdf.TURTLE)
    feed.publish(ResourceChanged(Change.CREATE, "/alice/notes/diary.acl"))
    acl, inherited_from, rules = await reader.effective("/alice/notes/diary")
    assert (acl, inherited_from) == ("/alice/notes/diary.acl", None)
    assert sorted((r.modes.names, r.public) for r in rules) == [
        (["read"], True),
        (["read", "write", "append", "control"], False),
    ]

    # Nothing governs a path outside every storage with an ACL.
    assert await reader.effective("/elsewhere/doc") == (None, None, [])
