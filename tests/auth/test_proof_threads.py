"""Proof signatures checked in a worker thread (`proof_threads`): the same answers as on the
event loop, a replay still refused, also when both uses arrive together."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from pod.config import Settings
from pod.http.keys import AUTHENTICATOR
from tests.auth.test_authentication import auth, refused
from tests.conftest import POD, Client
from tests.support import Agent, absolute, new_ec_key

SECRET = POD + "secret"


@pytest.fixture
def backend_kind() -> str:
    return "memory"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, proof_threads=1)


@pytest.fixture
async def secret(client: Client) -> str:
    r = await client.put(SECRET, data="<#s> <#t> 1 .", headers={"Content-Type": "text/turtle"})
    assert r.status == 201
    return SECRET


async def test_signatures_are_checked_in_a_thread(
    client: Client, secret: str, alice: Agent
) -> None:
    assert client.app[AUTHENTICATOR].signatures is not None
    headers = auth(alice.token, alice.proof("GET", absolute(secret)))
    assert (await client.get(secret, as_agent=None, headers=headers)).status == 200
    await refused(client, headers, "invalid_dpop_proof", "replayed")


async def test_a_bad_signature_is_refused(client: Client, secret: str, alice: Agent) -> None:
    proof = alice.proof("GET", absolute(secret), key=new_ec_key())
    await refused(client, auth(alice.token, proof), "invalid_dpop_proof", "signature")


async def test_one_proof_sent_twice_at_once_passes_once(
    client: Client, secret: str, alice: Agent
) -> None:
    headers = auth(alice.token, alice.proof("GET", absolute(secret)))
    responses = await asyncio.gather(
        *(client.get(secret, as_agent=None, headers=headers) for _ in range(4))
    )
    assert sorted(r.status for r in responses) == [200, 401, 401, 401]
