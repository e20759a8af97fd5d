"""The Web Access Control permission table over real HTTP (WAC §server-*-operation).

For every mode an ACL can grant, every kind of subject, and the ACL being the resource's own or
inherited through acl:default, each operation is tried by three requesters; it must succeed
exactly when the modes the specs require for it are granted, and otherwise answer 401 to an
anonymous requester and 403 to an authenticated one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import POD, Client, url
from tests.support import Agent, TestIssuer

ROOM = POD + "room/"
DOC = ROOM + "doc"
NEW = ROOM + "new"
TURTLE = {"Content-Type": "text/turtle"}
N3 = {"Content-Type": "text/n3"}
DOC_BODY = "<#a> <#b> <#c> ."
INSERT = """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
_:p a solid:InsertDeletePatch; solid:inserts { <#x> <#y> <#z> }."""
DELETE_INSERT = """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
_:p a solid:InsertDeletePatch; solid:where { ?s <#b> <#c> };
  solid:deletes { ?s <#b> <#c> }; solid:inserts { ?s <#b> <#d> }."""
R, A, W, C = "Read", "Append", "Write", "Control"


@dataclass(frozen=True)
class Op:
    name: str
    method: str
    path: str
    needs: dict[str, set[str]]  # path -> modes the specs require there
    ok: int
    body: str | None = None
    headers: dict[str, str] | None = None


# Written from the specs (WAC §4.3, Solid Protocol §n3-patch), not from pod.acl.modes.
OPS = [
    Op("read", "GET", DOC, {DOC: {R}}, 200),
    Op("head", "HEAD", DOC, {DOC: {R}}, 200),
    Op("replace", "PUT", DOC, {DOC: {W}}, 204, DOC_BODY, TURTLE),
    Op("patch-insert", "PATCH", DOC, {DOC: {A}}, 204, INSERT, N3),
    Op("patch-delete", "PATCH", DOC, {DOC: {R, W}}, 204, DELETE_INSERT, N3),
    Op("delete", "DELETE", DOC, {DOC: {W}, ROOM: {W}}, 204),
    Op("post", "POST", ROOM, {ROOM: {A}}, 201, DOC_BODY, TURTLE),
    Op("create", "PUT", NEW, {ROOM: {A}, NEW: {W}}, 201, DOC_BODY, TURTLE),
    Op("list", "GET", ROOM, {ROOM: {R}}, 200),
    Op("read-acl", "GET", DOC + ".acl", {DOC: {C}}, 200),
    Op("write-acl", "PUT", DOC + ".acl", {DOC: {C}}, 201),
]


def satisfied(needed: set[str], granted: set[str]) -> bool:
    have = set(granted) | ({A} if W in granted else set())
    return needed <= have


def acl_doc(target: str, *, owner: str, subject: str, mode: str, inherit: bool) -> str:
    default = f"acl:default <{url(target)}> ;" if inherit else ""
    return f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<#owner> a acl:Authorization ; acl:agent <{owner}> ; acl:accessTo <{url(target)}> ;
  {"acl:default <" + url(target) + "> ;" if inherit else ""}
  acl:mode acl:Read, acl:Write, acl:Control .
<#grant> a acl:Authorization ; {subject} ; acl:accessTo <{url(target)}> ; {default}
  acl:mode acl:{mode} .
"""


SUBJECTS = ["public", "authenticated", "agent", "group"]


def subject_triples(kind: str, bob: Agent) -> str:
    return {
        "public": "acl:agentClass foaf:Agent",
        "authenticated": "acl:agentClass acl:AuthenticatedAgent",
        "agent": f"acl:agent <{bob.webid}>",
        "group": f"acl:agentGroup <{url(POD + 'groups/friends#them')}>",
    }[kind]


def matches(kind: str, requester: str) -> bool:
    if kind == "public":
        return True
    if kind == "authenticated":
        return requester in ("bob", "carol")
    return requester == "bob"  # agent and group name bob only


@pytest.mark.parametrize("inherit", [False, True], ids=["own-acl", "inherited"])
@pytest.mark.parametrize("mode", [R, A, W, C])
@pytest.mark.parametrize("kind", SUBJECTS)
async def test_permission_table(
    client: Client,
    alice: Agent,
    bob: Agent,
    issuer: TestIssuer,
    kind: str,
    mode: str,
    inherit: bool,
) -> None:
    carol = Agent(issuer, "carol")
    group = f"<#them> <http://www.w3.org/2006/vcard/ns#hasMember> <{bob.webid}> ."
    assert (await client.put(POD + "groups/friends", data=group, headers=TURTLE)).status == 201
    # The room itself: only alice, unless the grant is inherited from the room's ACL.
    room_acl = (
        acl_doc(
            ROOM, owner=alice.webid, subject=subject_triples(kind, bob), mode=mode, inherit=True
        )
        if inherit
        else None
    )
    granted_on: set[str] = {ROOM, DOC, NEW} if inherit else {DOC}
    requesters: dict[str, Agent | None] = {"anonymous": None, "bob": bob, "carol": carol}
    mismatches = []

    async def reset() -> None:
        await client.delete(NEW)
        await client.put(DOC, data=DOC_BODY, headers=TURTLE)
        owner_only = f"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#owner> a acl:Authorization ; acl:agent <{alice.webid}> ; acl:accessTo <{url(ROOM)}> ;
  acl:default <{url(ROOM)}> ; acl:mode acl:Read, acl:Write, acl:Control ."""
        r = await client.put(ROOM + ".acl", data=room_acl or owner_only, headers=TURTLE)
        assert r.status in (201, 204), await r.text()
        if not inherit:
            own = acl_doc(
                DOC, owner=alice.webid, subject=subject_triples(kind, bob), mode=mode, inherit=False
            )
            r = await client.put(DOC + ".acl", data=own, headers=TURTLE)
            assert r.status in (201, 204), await r.text()
        else:
            await client.delete(DOC + ".acl")

    for op in OPS:
        for who, agent in requesters.items():
            await reset()
            body = op.body
            if op.name == "write-acl":
                body = acl_doc(
                    DOC,
                    owner=alice.webid,
                    subject=subject_triples(kind, bob),
                    mode=mode,
                    inherit=False,
                )
            headers = op.headers or (TURTLE if body else None)
            r = await client.request(op.method, op.path, as_agent=agent, data=body, headers=headers)
            allowed = all(
                path in granted_on and matches(kind, who) and satisfied(needed, {mode})
                for path, needed in op.needs.items()
            )
            ok = op.ok
            if op.name == "write-acl" and not inherit:
                ok = 204  # replaces the document's own ACL
            if op.name == "read-acl" and inherit:
                ok = 404  # WAC #server-get-acl-without-representation: it has none of its own
            expected = ok if allowed else (401 if agent is None else 403)
            if r.status != expected:
                mismatches.append(f"{op.name} by {who}: {r.status}, expected {expected}")
    assert mismatches == []
