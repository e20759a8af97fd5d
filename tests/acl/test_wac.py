"""Web Access Control over HTTP: WAC-Allow, groups, origins, ACL validation, revocation."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.web import Application

from pod.acl.defaults import create_owned_storage
from pod.app import create_app
from pod.config import Settings
from pod.http.keys import STORE
from pod.storage.base import Backend
from tests.conftest import POD, Client, url
from tests.support import BASE_URL, Agent, PodClient, TestIssuer

TURTLE = {"Content-Type": "text/turtle"}
PREFIXES = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
"""


def owner_rule(alice: Agent, target: str, *, default: bool = False) -> str:
    extra = f"acl:default <{url(target)}> ;" if default else ""
    return f"""<#owner> a acl:Authorization ; acl:agent <{alice.webid}> ;
  acl:accessTo <{url(target)}> ; {extra} acl:mode acl:Read, acl:Write, acl:Control ."""


async def grant(
    client: Client, alice: Agent, target: str, rule: str, *, default: bool = False
) -> None:
    body = PREFIXES + owner_rule(alice, target, default=default) + "\n" + rule
    r = await client.put(target + ".acl", data=body, headers=TURTLE)
    assert r.status in (201, 204), await r.text()


@pytest.fixture
async def doc(client: Client) -> str:
    path = POD + "notes/doc"
    r = await client.put(path, data="<#a> <#b> 1 .", headers=TURTLE)
    assert r.status == 201
    return path


async def test_wac_allow_header(client: Client, alice: Agent, bob: Agent, doc: str) -> None:
    await grant(
        client,
        alice,
        doc,
        f"""<#pub> a acl:Authorization ; acl:agentClass foaf:Agent ;
      acl:accessTo <{url(doc)}> ; acl:mode acl:Read .
    <#bob> a acl:Authorization ; acl:agent <{bob.webid}> ; acl:accessTo <{url(doc)}> ;
      acl:mode acl:Append .""",
    )
    r = await client.get(doc)
    assert r.headers["WAC-Allow"] == 'user="read write append control",public="read"'
    r = await client.get(doc, as_agent=bob)
    assert r.headers["WAC-Allow"] == 'user="read append",public="read"'
    r = await client.head(doc, as_agent=None)
    assert r.headers["WAC-Allow"] == 'user="read",public="read"'


async def test_anonymous_gets_401_and_others_403_whether_or_not_it_exists(
    client: Client, bob: Agent, doc: str
) -> None:
    for path in (doc, POD + "notes/missing"):
        r = await client.get(path, as_agent=None)
        assert r.status == 401
        r = await client.get(path, as_agent=bob)
        assert r.status == 403
        assert "missing" not in (await r.text()).replace(path, "")


async def test_revocation_takes_effect_at_once(
    client: Client, alice: Agent, bob: Agent, doc: str
) -> None:
    await grant(
        client,
        alice,
        doc,
        f"""<#bob> a acl:Authorization ; acl:agent <{bob.webid}> ;
      acl:accessTo <{url(doc)}> ; acl:mode acl:Read .""",
    )
    for _ in range(3):  # warm every cache
        assert (await client.get(doc, as_agent=bob)).status == 200
    await grant(client, alice, doc, "")
    assert (await client.get(doc, as_agent=bob)).status == 403


async def test_revoking_an_inherited_grant_takes_effect_at_once(
    client: Client, alice: Agent, bob: Agent, doc: str
) -> None:
    folder = POD + "notes/"
    await grant(
        client,
        alice,
        folder,
        f"""<#bob> a acl:Authorization ; acl:agent <{bob.webid}> ;
      acl:accessTo <{url(folder)}> ; acl:default <{url(folder)}> ; acl:mode acl:Read .""",
        default=True,
    )
    assert (await client.get(doc, as_agent=bob)).status == 200
    await grant(client, alice, folder, "", default=True)
    assert (await client.get(doc, as_agent=bob)).status == 403
    # deleting the folder ACL falls back to the pod's, which gives bob nothing
    assert (await client.delete(folder + ".acl")).status == 204
    assert (await client.get(doc, as_agent=bob)).status == 403
    assert (await client.get(doc)).status == 200


async def test_local_group_membership_and_its_revocation(
    client: Client, alice: Agent, bob: Agent, issuer: TestIssuer, doc: str
) -> None:
    group = POD + "groups/friends"
    members = f"<#g> <http://www.w3.org/2006/vcard/ns#hasMember> <{bob.webid}> ."
    await client.put(group, data=members, headers=TURTLE)
    await grant(
        client,
        alice,
        doc,
        f"""<#friends> a acl:Authorization ;
      acl:agentGroup <{url(group)}#g> ; acl:accessTo <{url(doc)}> ; acl:mode acl:Read .""",
    )
    assert (await client.get(doc, as_agent=bob)).status == 200
    carol = Agent(issuer, "carol")
    assert (await client.get(doc, as_agent=carol)).status == 403
    await client.put(group, data="<#g> a <http://www.w3.org/2006/vcard/ns#Group> .", headers=TURTLE)
    assert (await client.get(doc, as_agent=bob)).status == 403


async def test_remote_group(
    client: Client, alice: Agent, bob: Agent, issuer: TestIssuer, doc: str
) -> None:
    group = f"{issuer.url}/groups/team#g"
    issuer.groups["team"] = f"<#g> <http://www.w3.org/2006/vcard/ns#hasMember> <{bob.webid}> ."
    await grant(
        client,
        alice,
        doc,
        f"""<#team> a acl:Authorization ; acl:agentGroup <{group}> ;
      acl:accessTo <{url(doc)}> ; acl:mode acl:Read .""",
    )
    assert (await client.get(doc, as_agent=bob)).status == 200
    assert (await client.get(doc, as_agent=Agent(issuer, "carol"))).status == 403


async def test_removal_from_a_remote_group_applies_after_its_cache_time(
    aiohttp_client: Any,
    settings: Settings,
    backend: Backend,
    alice: Agent,
    bob: Agent,
    issuer: TestIssuer,
) -> None:
    """A decision that used a remote group expires with the group's members: the group is
    fetched again, and a member removed from it loses access (issue 10, item 6)."""
    ttl = 0.5
    app: Application = create_app(replace(settings, remote_cache_seconds=ttl), backend=backend)
    client = PodClient(await aiohttp_client(app), alice)
    await create_owned_storage(app[STORE], POD, owner=alice.webid)
    doc = POD + "notes/doc"
    assert (await client.put(doc, data="<#a> <#b> 1 .", headers=TURTLE)).status == 201
    issuer.groups["team"] = f"<#g> <http://www.w3.org/2006/vcard/ns#hasMember> <{bob.webid}> ."
    await grant(
        client,
        alice,
        doc,
        f"""<#team> a acl:Authorization ; acl:agentGroup <{issuer.url}/groups/team#g> ;
      acl:accessTo <{url(doc)}> ; acl:mode acl:Read .""",
    )
    assert (await client.get(doc, as_agent=bob)).status == 200
    assert issuer.requests.count("/groups/team") == 1

    issuer.groups["team"] = "<#g> a <http://www.w3.org/2006/vcard/ns#Group> ."  # bob removed
    await asyncio.sleep(ttl * 1.2)
    r = await client.get(doc, as_agent=bob)
    assert r.status == 403, await r.text()
    assert issuer.requests.count("/groups/team") == 2


async def test_origin_restriction(client: Client, alice: Agent, bob: Agent, doc: str) -> None:
    await grant(
        client,
        alice,
        doc,
        f"""<#app> a acl:Authorization ; acl:agent <{bob.webid}> ;
      acl:origin <https://good.app> ; acl:accessTo <{url(doc)}> ; acl:mode acl:Read .""",
    )
    assert (
        await client.get(doc, as_agent=bob, headers={"Origin": "https://good.app"})
    ).status == 200
    assert (
        await client.get(doc, as_agent=bob, headers={"Origin": "https://evil.app"})
    ).status == 403
    # not a browser: no Origin, no origin restriction
    assert (await client.get(doc, as_agent=bob)).status == 200
    # the server's own pages are trusted
    own = BASE_URL.rstrip("/")
    assert (await client.get(doc, as_agent=bob, headers={"Origin": own})).status == 200
    # a rule without acl:origin serves any app (alice's owner rule)
    assert (await client.get(doc, headers={"Origin": "https://evil.app"})).status == 200


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ("this is not turtle", 400, "Turtle"),
        (
            "<#r> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:accessTo <doc> .",
            422,
            "mode",
        ),
        ("<#r> a acl:Authorization ; acl:mode acl:Read ; acl:accessTo <doc> .", 422, "subject"),
        (
            "<#r> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:mode acl:Read .",
            422,
            "accessTo",
        ),
        (
            "<#r> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:mode acl:Fly ; "
            "acl:accessTo <doc> .",
            422,
            "unknown mode",
        ),
        (
            "<#r> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:mode acl:Read ; "
            "acl:accessTo <other> .",
            422,
            "governs",
        ),
        (
            "<#r> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:mode acl:Read ; "
            "acl:accessTo <doc> ; acl:default <other/> .",
            422,
            "governs",
        ),
    ],
)
async def test_invalid_acls_are_refused_and_the_old_one_stays(
    client: Client, alice: Agent, bob: Agent, doc: str, body: str, status: int, says: str
) -> None:
    await grant(
        client,
        alice,
        doc,
        f"""<#bob> a acl:Authorization ; acl:agent <{bob.webid}> ;
      acl:accessTo <{url(doc)}> ; acl:mode acl:Read .""",
    )
    before = await (await client.get(doc + ".acl")).read()
    r = await client.put(doc + ".acl", data=PREFIXES + body, headers=TURTLE)
    assert r.status == status
    assert says in (await r.json())["detail"]
    assert await (await client.get(doc + ".acl")).read() == before
    assert (await client.get(doc, as_agent=bob)).status == 200


async def test_acl_written_like_inrupts_fallback_copy_is_accepted_and_honoured(
    client: Client, alice: Agent, bob: Agent, issuer: TestIssuer, doc: str
) -> None:
    # Inrupt's createAclFromFallbackAcl (behind universalAccess.setAgentAccess) copies the
    # container's rules with acl:default and with their IRIs in the container's ACL document;
    # WAC counts every acl:Authorization in the document whatever its IRI, and acl:default on
    # a document is inert (CSS accepts it too).
    assert (await client.get(doc, as_agent=bob)).status == 403
    body = (
        PREFIXES
        + f"""<../.acl#owner> a acl:Authorization ; acl:agent <{alice.webid}> ;
      acl:accessTo <{url(doc)}> ; acl:default <{url(doc)}> ;
      acl:mode acl:Read, acl:Write, acl:Control .
    <{url(POD + "elsewhere.acl")}#bob> a acl:Authorization ; acl:agent <{bob.webid}> ;
      acl:accessTo <{url(doc)}> ; acl:default <{url(doc)}> ; acl:mode acl:Read ."""
    )
    r = await client.put(doc + ".acl", data=body, headers=TURTLE)
    assert r.status == 201, await r.text()
    assert (await client.get(doc, as_agent=bob)).status == 200
    assert (await client.put(doc, as_agent=bob, data="<#a> <#b> 2 .", headers=TURTLE)).status == 403
    carol = Agent(issuer, "carol")
    assert (await client.get(doc, as_agent=carol)).status == 403
    # alice's rule, named in the container's ACL document, still gives her Control
    assert (await client.get(doc + ".acl")).status == 200
    assert (await client.put(doc, data="<#a> <#b> 3 .", headers=TURTLE)).status == 204


async def test_owner_cannot_lock_themselves_out(client: Client, alice: Agent, bob: Agent) -> None:
    root_acl = POD + ".acl"
    r = await client.put(
        root_acl,
        data=PREFIXES
        + f"""<#bob> a acl:Authorization ; acl:agent <{bob.webid}> ;
      acl:accessTo <{url(POD)}> ; acl:mode acl:Read, acl:Write, acl:Control .""",
        headers=TURTLE,
    )
    assert r.status == 422
    assert "must keep acl:Control" in (await r.json())["detail"]
    patch = """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
    @prefix acl: <http://www.w3.org/ns/auth/acl#>.
    _:p a solid:InsertDeletePatch; solid:deletes { <#owner> acl:mode acl:Control . }."""
    r = await client.patch(root_acl, data=patch, headers={"Content-Type": "text/n3"})
    assert r.status == 422
    r = await client.delete(root_acl)
    assert r.status == 405
    assert (await client.get(POD)).status == 200


async def test_acl_needs_control(client: Client, alice: Agent, bob: Agent, doc: str) -> None:
    await grant(
        client,
        alice,
        doc,
        f"""<#bob> a acl:Authorization ; acl:agent <{bob.webid}> ;
      acl:accessTo <{url(doc)}> ; acl:mode acl:Read, acl:Write .""",
    )
    assert (await client.get(doc + ".acl", as_agent=bob)).status == 403
    r = await client.put(doc + ".acl", as_agent=bob, data=PREFIXES, headers=TURTLE)
    assert r.status == 403


async def test_slug_cannot_create_an_acl_with_append_only(
    client: Client, alice: Agent, bob: Agent
) -> None:
    box = POD + "inbox/"
    await client.put(box)
    await grant(
        client,
        alice,
        box,
        f"""<#bob> a acl:Authorization ; acl:agent <{bob.webid}> ;
      acl:accessTo <{url(box)}> ; acl:mode acl:Append .""",
    )
    r = await client.post(
        box, as_agent=bob, data="<#a> <#b> 1 .", headers={**TURTLE, "Slug": ".acl"}
    )
    assert r.status == 201
    assert not r.headers["Location"].endswith(".acl")


async def test_server_root_is_readable_but_not_writable(client: Client, bob: Agent) -> None:
    r = await client.get("/", as_agent=None)
    assert r.status == 200
    r = await client.put("/mine/x", as_agent=bob, data="x", headers={"Content-Type": "text/plain"})
    assert r.status == 403


async def test_private_network_webids_are_refused_by_default(
    aiohttp_client: Any, issuer: TestIssuer, alice: Agent, tmp_path: Any
) -> None:
    settings = Settings(base_url=BASE_URL, data_dir=tmp_path, access_log=False)
    app: Application = create_app(settings)
    client = PodClient(await aiohttp_client(app), alice)
    r = await client.get("/")
    assert r.status == 401
    assert "not on a public network" in (await r.json())["detail"]


async def test_base_path_behind_a_proxy(
    aiohttp_client: Any, issuer: TestIssuer, alice: Agent, tmp_path: Any
) -> None:
    settings = Settings(
        base_url="http://pod.example/solid/",
        data_dir=tmp_path,
        access_log=False,
        fetch_private_networks=True,
    )
    app: Application = create_app(settings)
    client = PodClient(await aiohttp_client(app), alice)
    await create_owned_storage(app[STORE], "/me/", owner=alice.webid)
    r = await client.put("/solid/me/doc", data="<#a> <#b> 1 .", headers=TURTLE)
    assert r.status == 201, await r.text()
    assert r.headers["Location"] == "http://pod.example/solid/me/doc"
    r = await client.get("/solid/me/")
    assert "http://pod.example/solid/me/doc" in await r.text()


async def test_refusals_do_not_reveal_a_forbidden_file(client: Client, bob: Agent) -> None:
    """PATCH on a file one may not touch is 401/403, never the 415 that would reveal it."""
    await client.put(POD + "secret.txt", data="x", headers={"Content-Type": "text/plain"})
    patch = """@prefix solid: <http://www.w3.org/ns/solid/terms#>.
    _:p a solid:InsertDeletePatch; solid:inserts { <#a> <#b> 1 . }."""
    for path in (POD + "secret.txt", POD + "missing.txt"):
        r = await client.patch(path, as_agent=None, data=patch, headers={"Content-Type": "text/n3"})
        assert r.status == 401
        r = await client.patch(path, as_agent=bob, data=patch, headers={"Content-Type": "text/n3"})
        assert r.status == 403
    r = await client.patch(POD + "secret.txt", data=patch, headers={"Content-Type": "text/n3"})
    assert r.status == 415  # the owner learns why


# --- names that are auxiliary in another case or form (issue 10, items 4 and 18) -----------

_ALIASES = [
    ".ACL",  # the container's ACL, on a case-insensitive file system
    ".Acl",
    "doc.ACL",
    "doc.Meta",
    "doc.acl.",  # Windows drops trailing dots ...
    "doc.acl%20",  # ... and spaces
    "%EF%BC%8E%EF%BD%81%EF%BD%83%EF%BD%8C",  # fullwidth ".acl", NFKC-equal to ".acl"
    ".KLUIS~meta~doc",  # the file backend's media-type sidecar of doc
    ".Well-Known",
]


async def _bob_may_write_notes(client: Client, alice: Agent, bob: Agent) -> str:
    """Give bob Read and Write, but not Control, on the container notes/ and all it holds."""
    container = POD + "notes/"
    await grant(
        client,
        alice,
        container,
        f"""<#bob> a acl:Authorization ; acl:agent <{bob.webid}> ;
      acl:accessTo <{url(container)}> ; acl:default <{url(container)}> ;
      acl:mode acl:Read, acl:Write .""",
        default=True,
    )
    return container


@pytest.mark.parametrize("name", _ALIASES)
async def test_a_writer_cannot_reach_an_acl_through_another_case_or_form(
    client: Client, alice: Agent, bob: Agent, doc: str, name: str
) -> None:
    """Write must never become Control: `PUT /c/.ACL` is `/c/.acl` on macOS, Windows and
    casefold ext4. Such names are refused on every backend, so no file system can alias them."""
    container = await _bob_may_write_notes(client, alice, bob)
    acl_before = await (await client.get(container + ".acl")).read()
    hostile = (
        PREFIXES
        + f"<#x> a acl:Authorization ; acl:agent <{bob.webid}> ; acl:mode acl:Control ; "
        + f"acl:accessTo <{url(container)}> ; acl:default <{url(container)}> ."
    )
    r = await client.put(container + name, data=hostile, headers=TURTLE, as_agent=bob)
    assert r.status == 400, await r.text()
    assert "auxiliary" in (await r.text()) or "reserved" in (await r.text())
    r = await client.post(container, data=hostile, headers={**TURTLE, "Slug": name}, as_agent=bob)
    assert r.status == 201
    assert not r.headers["Location"].lower().endswith((".acl", ".meta")), r.headers["Location"]
    assert await (await client.get(container + ".acl")).read() == acl_before
    listing = await (await client.get(container)).text()
    assert ".ACL" not in listing
    assert ".Acl" not in listing


@pytest.mark.parametrize(
    "path", ["notes/sub/.acl/", "notes/doc.acl/", "notes/x.meta/y", "notes/a.ACL/"]
)
async def test_no_container_is_named_like_an_auxiliary_resource(
    client: Client, alice: Agent, bob: Agent, path: str
) -> None:
    """A writer without Control could otherwise create `sub/.acl/`, after which the ACL
    `sub/.acl` can never be made (its slash twin exists)."""
    container = await _bob_may_write_notes(client, alice, bob)
    for method in ("PUT", "PATCH"):
        headers = TURTLE if method == "PUT" else {"Content-Type": "text/n3"}
        body = (
            ""
            if method == "PUT"
            else "@prefix solid: <http://www.w3.org/ns/solid/terms#>. "
            "_:p a solid:InsertDeletePatch."
        )
        r = await client.request(method, POD + path, data=body, headers=headers, as_agent=bob)
        assert r.status == 400, (method, await r.text())
    r = await client.post(
        container,
        headers={
            "Slug": "sub.acl",
            "Link": '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"',
        },
        as_agent=bob,
    )
    assert r.status == 201
    assert not r.headers["Location"].rstrip("/").endswith(".acl"), r.headers["Location"]
    r = await client.put(POD + "notes/sub/doc", data="<#a> <#b> 1 .", headers=TURTLE)
    assert r.status == 201
    r = await client.put(
        POD + "notes/sub/.acl",
        data=PREFIXES + owner_rule(alice, POD + "notes/sub/", default=True),
        headers=TURTLE,
    )
    assert r.status == 201, await r.text()


# --- missing and forbidden look alike (issue 10, item 5) ------------------------------------

_DESCRIBING = ("Allow", "Link", "Accept-Patch", "Accept-Post", "Accept-Put")


def _described(headers: Any, path: str) -> dict[str, str | None]:
    """The headers that describe a target, its own URL taken out."""
    return {
        name: (headers.get(name) or "").replace(url(path), "<target>") or None
        for name in _DESCRIBING
    }


async def test_options_tells_strangers_nothing_about_private_resources(
    client: Client, bob: Agent
) -> None:
    await client.put(POD + "private/doc", data="<#a> <#b> 1 .", headers=TURTLE)
    await client.put(POD + "private/file.bin", data=b"\x00", headers={"Content-Type": "x/y"})
    pairs = [
        (POD + "private/doc", POD + "private/missing-doc"),
        (POD + "private/file.bin", POD + "private/missing.bin"),
        (POD + "private/", POD + "missing-container/"),
    ]
    for existing, missing in pairs:
        for agent in (None, bob):
            seen = _described((await client.options(existing, as_agent=agent)).headers, existing)
            unseen = _described((await client.options(missing, as_agent=agent)).headers, missing)
            assert seen == unseen, (existing, agent)
    # The owner, who may read them, is told what they are.
    owner = _described((await client.options(POD + "private/file.bin")).headers, "")
    assert "PATCH" not in (owner["Allow"] or "")
    assert "NonRDFSource" in (owner["Link"] or "")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_write_refusals_read_the_same_for_missing_and_existing(
    client: Client, bob: Agent, method: str
) -> None:
    await client.put(POD + "private/doc", data="<#a> <#b> 1 .", headers=TURTLE)
    await client.put(POD + "private/file.bin", data=b"\x00", headers={"Content-Type": "x/y"})
    body, media = (
        ("<#a> <#b> 2 .", "text/turtle")
        if method == "PUT"
        else (
            "@prefix solid: <http://www.w3.org/ns/solid/terms#>. "
            "_:p a solid:InsertDeletePatch; solid:inserts { <#a> <#b> 3 }.",
            "text/n3",
        )
    )
    for agent, status in ((None, 401), (bob, 403)):
        answers = set()
        for path in ("private/doc", "private/file.bin", "private/missing", "nowhere/missing"):
            r = await client.request(
                method, POD + path, data=body, headers={"Content-Type": media}, as_agent=agent
            )
            assert r.status == status, await r.text()
            detail = (await r.json())["detail"]
            answers.add(detail.replace(url(POD + path), "<target>"))
        assert len(answers) == 1, answers
