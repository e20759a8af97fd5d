"""Kept answers to authenticated reads (pod.http.ldp `_kept_or_read_as_agent`): every request is
authenticated afresh and its modes decided afresh, so a withdrawn grant, a revoked token, another
agent and a bad proof are refused at the next request, over real HTTP, on both backends (issue 13,
target 4)."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiohttp.web import Application

from pod.acl.defaults import create_owned_storage
from pod.app import create_app
from pod.config import Settings
from pod.http.answers import Variant
from pod.http.keys import ANSWERS, STORE
from pod.model import AccessMode
from pod.storage.base import Backend
from tests.conftest import POD, ClientFactory, url
from tests.support import Agent, PodClient, TestIssuer, absolute, new_ec_key, sign_proof

TURTLE = {"Content-Type": "text/turtle"}
DOC = POD + "shared"
ACL = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#owner> a acl:Authorization ; acl:agent <{owner}> ; acl:accessTo <{doc}> ;
  acl:mode acl:Read, acl:Write, acl:Control .
"""
READER = """<#reader> a acl:Authorization ; acl:agent <{reader}> ; acl:accessTo <{doc}> ;
  acl:mode acl:Read .
"""
PER_REQUEST = frozenset({"x-request-id", "date"})  # differ between two answers by design
OWNER = AccessMode.READ | AccessMode.APPEND | AccessMode.WRITE | AccessMode.CONTROL


async def share(client: PodClient, owner: Agent, *readers: Agent) -> None:
    """Give `readers` Read of DOC, and nobody else but `owner` anything."""
    body = ACL.format(owner=owner.webid, doc=url(DOC))
    body += "".join(READER.format(reader=r.webid, doc=url(DOC)) for r in readers)
    assert (await client.put(DOC + ".acl", data=body, headers=TURTLE)).status in (201, 204)


def agent_variants(app: Application, path: str = DOC) -> list[Variant]:
    """The kept answers' variants of `path` that were kept for agents (with their modes)."""
    return [v for v in app[ANSWERS]._kept.get(path) or {} if len(v) == 4]


def answer(response: aiohttp.ClientResponse, body: bytes) -> tuple[int, bytes, list[Any]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k.lower() not in PER_REQUEST)
    return response.status, body, headers


@pytest.fixture
async def pod(client: PodClient, alice: Agent, bob: Agent) -> PodClient:
    assert (await client.put(DOC, data='<#a> <#b> "kept-body" .', headers=TURTLE)).status == 201
    await share(client, alice, bob)
    return client


async def test_an_agents_kept_answer_is_the_answer(pod: PodClient, app: Application) -> None:
    first = await pod.get(DOC)
    first_answer = answer(first, await first.read())
    assert first.status == 200
    assert agent_variants(app) == [("*/*", None, OWNER, AccessMode.NONE)]
    again = await pod.get(DOC)
    assert answer(again, await again.read()) == first_answer
    assert 'user="read write append control"' in again.headers["WAC-Allow"]
    head = await pod.head(DOC)
    assert head.status == 200
    assert answer(head, b"")[2] == first_answer[2]


async def test_a_withdrawn_grant_refuses_the_agent_at_the_next_request(
    pod: PodClient, app: Application, alice: Agent, bob: Agent
) -> None:
    for _ in range(2):
        assert (await pod.get(DOC, as_agent=bob)).status == 200
    assert ("*/*", None, AccessMode.READ, AccessMode.NONE) in agent_variants(app)
    await share(pod, alice)  # bob no longer
    refused = await pod.get(DOC, as_agent=bob)
    assert refused.status == 403
    assert "kept-body" not in await refused.text()
    assert (await pod.get(DOC)).status == 200  # the owner keeps hers


CONTAINER_ACL = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#owner> a acl:Authorization ; acl:agent <{owner}> ; acl:accessTo <{pod}> ; acl:default <{pod}> ;
  acl:mode acl:Read, acl:Write, acl:Control .
"""
INHERITED_READER = """<#reader> a acl:Authorization ; acl:agent <{reader}> ; acl:default <{pod}> ;
  acl:mode acl:Read .
"""


async def test_a_withdrawn_inherited_grant_refuses_the_agent_at_the_next_request(
    client: PodClient, app: Application, alice: Agent, bob: Agent
) -> None:
    """The grant lives in the storage's ACL: its change reaches the document's answer only
    through the modes decided afresh (WAC: acl:default inheritance)."""
    doc = POD + "folder/inherited"
    assert (await client.put(doc, data='<#a> <#b> "kept-body" .', headers=TURTLE)).status == 201
    owner_only = CONTAINER_ACL.format(owner=alice.webid, pod=url(POD))
    with_bob = owner_only + INHERITED_READER.format(reader=bob.webid, pod=url(POD))
    assert (await client.put(POD + ".acl", data=with_bob, headers=TURTLE)).status == 204
    for _ in range(2):
        assert (await client.get(doc, as_agent=bob)).status == 200
    assert agent_variants(app, doc)
    assert (await client.put(POD + ".acl", data=owner_only, headers=TURTLE)).status == 204
    refused = await client.get(doc, as_agent=bob)
    assert refused.status == 403
    assert "kept-body" not in await refused.text()


async def test_a_kept_answer_is_not_served_to_another_agent(
    pod: PodClient, app: Application, alice: Agent, bob: Agent, issuer: TestIssuer
) -> None:
    assert (await pod.get(DOC)).status == 200
    assert (await pod.get(DOC)).status == 200
    carol = Agent(issuer, "carol")  # no grant at all
    refused = await pod.get(DOC, as_agent=carol)
    assert refused.status == 403
    assert "kept-body" not in await refused.text()
    # bob may read, but less than alice may: he gets his own WAC-Allow, never hers.
    for _ in range(2):
        read = await pod.get(DOC, as_agent=bob)
        assert read.headers["WAC-Allow"] == 'user="read",public=""'
    # Missing and forbidden look alike to carol (Solid Protocol #server-unauthenticated).
    missing = await pod.get(POD + "nothing-here", as_agent=carol)
    assert missing.status == refused.status


async def test_a_bad_proof_is_refused_though_the_answer_is_kept(
    pod: PodClient, app: Application, alice: Agent
) -> None:
    target = absolute(DOC)
    replayed = alice.proof("GET", target)
    headers = {"Authorization": f"DPoP {alice.token}", "DPoP": replayed}
    assert (await pod.get(DOC, headers=headers)).status == 200
    assert agent_variants(app)
    again = await pod.get(DOC, headers=headers)  # the same proof, so the same jti
    assert again.status == 401
    assert "replayed" in await again.text()
    for proof in (
        alice.proof("GET", absolute(POD + "elsewhere")),  # htu names another resource
        alice.proof("HEAD", target),  # htm names another method
        alice.proof("GET", target, iat=0),  # long expired
        alice.proof("GET", target, token="another-token"),  # ath of another token
        sign_proof(new_ec_key(), "GET", target, token=alice.token),  # not the bound key
    ):
        refused = await pod.get(
            DOC, headers={"Authorization": f"DPoP {alice.token}", "DPoP": proof}
        )
        assert refused.status == 401
        assert "kept-body" not in await refused.text()
    assert (await pod.get(DOC)).status == 200


async def test_a_change_through_another_worker_refuses_the_agent(
    worker_apps: list[Application],
    workers: tuple[PodClient, PodClient],
    alice: Agent,
    bob: Agent,
) -> None:
    apps = worker_apps
    one, two = workers
    assert (await one.put(DOC, data="<#a> <#b> 1 .", headers=TURTLE)).status == 201
    await share(one, alice, bob)
    for _ in range(2):
        assert (await two.get(DOC, as_agent=bob)).status == 200
    assert agent_variants(apps[1])
    await share(one, alice)
    assert (await two.get(DOC, as_agent=bob)).status == 403


# --- a revoked token, with Kluis as the identity provider ----------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["memory", "file"])
async def kluis(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, Application]]:
    """Kluis, its own identity provider, on a free port: its base URL and app."""
    port = _free_port()
    settings = Settings(
        host="127.0.0.1",
        port=port,
        storage=request.param,
        data_dir=tmp_path,
        access_log=False,
        password_cost=10,
    )
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield settings.base_url, app
    finally:
        await server.close()


async def test_a_revoked_token_is_refused_at_the_next_request(
    kluis: tuple[str, Application],
) -> None:
    base, app = kluis
    key = new_ec_key()
    doc = base + "alice/notes"
    async with aiohttp.ClientSession() as s:

        async def post(path: str, body: dict[str, str], **headers: str) -> dict[str, Any]:
            async with s.post(base + path, json=body, headers=headers) as r:
                assert r.status in (200, 201), await r.text()
                found: dict[str, Any] = await r.json()
                return found

        account = {"email": "alice@example.org", "password": "correct horse battery"}
        webid = (await post(".account/api/accounts", {**account, "pod": "alice"}))["webId"]
        api = (await post(".account/api/login", account))["token"]
        credential = await post(
            ".account/api/credentials",
            {"webId": webid, "name": "reader"},
            Authorization=f"Bearer {api}",
        )
        pair = f"{quote(credential['clientId'], safe='')}:{quote(credential['clientSecret'])}"
        async with s.post(
            base + ".oidc/token",
            data={"grant_type": "client_credentials"},
            headers={
                "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
                "DPoP": sign_proof(key, "POST", base + ".oidc/token"),
            },
        ) as r:
            token = str((await r.json())["access_token"])

        def signed(method: str) -> dict[str, str]:
            return {
                "Authorization": f"DPoP {token}",
                "DPoP": sign_proof(key, method, doc, token=token),
            }

        async with s.put(doc, data="<#a> <#b> 1 .", headers={**TURTLE, **signed("PUT")}) as r:
            assert r.status == 201
        for _ in range(2):  # the second from the kept answer
            async with s.get(doc, headers=signed("GET")) as r:
                assert r.status == 200
        assert agent_variants(app, "/alice/notes")
        async with s.delete(
            base + ".account/api/credentials/" + quote(credential["clientId"], safe=""),
            headers={"Authorization": f"Bearer {api}"},
        ) as r:
            assert r.status == 204
        async with s.get(doc, headers=signed("GET")) as r:
            assert r.status == 401
            assert "revoked" in await r.text()


async def test_a_grant_through_a_remote_group_ends_with_the_groups_cache_time(
    aiohttp_client: ClientFactory,
    settings: Settings,
    backend: Backend,
    alice: Agent,
    bob: Agent,
    issuer: TestIssuer,
) -> None:
    """A decision that rests on a remote group expires with the group's members (WacReader),
    and the kept answer is served only while the modes decided afresh match it."""
    ttl = 0.5
    app = create_app(replace(settings, remote_cache_seconds=ttl), backend=backend)
    client = PodClient(await aiohttp_client(app), alice)
    await create_owned_storage(app[STORE], POD, owner=alice.webid)
    assert (await client.put(DOC, data='<#a> <#b> "kept-body" .', headers=TURTLE)).status == 201
    issuer.groups["team"] = f"<#g> <http://www.w3.org/2006/vcard/ns#hasMember> <{bob.webid}> ."
    team = f"""<#team> a acl:Authorization ; acl:agentGroup <{issuer.url}/groups/team#g> ;
  acl:accessTo <{url(DOC)}> ; acl:mode acl:Read .
"""
    acl = ACL.format(owner=alice.webid, doc=url(DOC)) + team
    assert (await client.put(DOC + ".acl", data=acl, headers=TURTLE)).status == 201
    for _ in range(2):
        assert (await client.get(DOC, as_agent=bob)).status == 200
    assert ("*/*", None, AccessMode.READ, AccessMode.NONE) in agent_variants(app)
    issuer.groups["team"] = "<#g> a <http://www.w3.org/2006/vcard/ns#Group> ."  # bob removed
    await asyncio.sleep(ttl * 1.2)
    refused = await client.get(DOC, as_agent=bob)
    assert refused.status == 403
    assert "kept-body" not in await refused.text()
