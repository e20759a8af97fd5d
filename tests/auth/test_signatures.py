"""Proof signatures checked in batches (`pod.auth.signatures`): concurrent requests each get the
answer of their own proof, on the event loop and in a worker thread, however many arrive at once."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pod.auth.dpop import CheckedProof, ProofVerifier
from pod.auth.signatures import MAX_BATCH, SignatureChecks
from pod.config import Settings
from pod.errors import Unauthenticated
from tests.auth.test_authentication import auth
from tests.conftest import POD, Client
from tests.support import Agent, absolute, new_ec_key, sign_proof

SECRET = POD + "secret"
URL = "http://localhost/doc"


@pytest.fixture
def backend_kind() -> str:
    return "memory"


@pytest.fixture(params=[0, 1], ids=["on-loop", "in-thread"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return dataclasses.replace(settings, proof_threads=request.param)


async def test_concurrent_requests_each_get_their_own_answer(client: Client, alice: Agent) -> None:
    r = await client.put(SECRET, data="<#s> <#t> 1 .", headers={"Content-Type": "text/turtle"})
    assert r.status == 201
    url = absolute(SECRET)
    # Interleaved: a good proof, a proof by a key the token is not bound to, one whose signature
    # is broken; more than one batch's worth.
    kinds = ["good", "other key", "broken"] * (MAX_BATCH // 2 + 1)
    headers = []
    for kind in kinds:
        if kind == "other key":
            proof = sign_proof(new_ec_key(), "GET", url, token=alice.token)
        else:
            proof = alice.proof("GET", url)
        if kind == "broken":
            proof = _broken(proof)
        headers.append(auth(alice.token, proof))
    responses = await asyncio.gather(
        *(client.get(SECRET, as_agent=None, headers=h) for h in headers)
    )
    for kind, response in zip(kinds, responses, strict=True):
        if kind == "good":
            assert response.status == 200, await response.text()
            continue
        assert response.status == 401
        detail = (await response.json())["detail"]
        expected = "different key" if kind == "other key" else "signature"
        assert expected in detail, detail


def _broken(proof: str) -> str:
    """`proof` with one character of its signature changed: well-formed, but it does not verify."""
    head, payload, signature = proof.split(".")
    changed = "B" if signature[10] == "A" else "A"
    return f"{head}.{payload}.{signature[:10]}{changed}{signature[11:]}"


def _checked(count: int, *, bad: frozenset[int] = frozenset()) -> list[CheckedProof]:
    """`count` proofs checked but for their signatures; those numbered in `bad` broken."""
    key, verifier, now = new_ec_key(), ProofVerifier(), int(time.time())
    checked = []
    for n in range(count):
        proof = sign_proof(key, "GET", URL, jti=f"j{n}", iat=now)
        if n in bad:
            proof = _broken(proof)
        checked.append(verifier.check(proof, method="GET", url=URL, access_token=None, now=now))
    return checked


@pytest.mark.parametrize("threads", [0, 1], ids=["on-loop", "in-thread"])
async def test_a_batch_is_bounded_and_a_cancelled_wait_harms_no_other(threads: int) -> None:
    executor = ThreadPoolExecutor(max_workers=1) if threads else None
    checks = SignatureChecks(executor)
    count = 2 * MAX_BATCH + 3
    proofs = _checked(count, bad=frozenset({5, MAX_BATCH + 1}))
    flushes = 0
    real_flush = checks._flush

    def counting_flush(loop: asyncio.AbstractEventLoop) -> None:
        nonlocal flushes
        flushes += 1
        real_flush(loop)

    checks._flush = counting_flush  # type: ignore[method-assign]
    tasks = [asyncio.create_task(checks.signed(c)) for c in proofs]
    await asyncio.sleep(0)  # every task now waits for its batch
    tasks[7].cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert flushes == 3  # MAX_BATCH, MAX_BATCH, 3
    for n, outcome in enumerate(outcomes):
        if n == 7:
            assert isinstance(outcome, asyncio.CancelledError)
        elif n in {5, MAX_BATCH + 1}:
            assert isinstance(outcome, Unauthenticated), outcome
        else:
            assert not isinstance(outcome, BaseException), outcome
            assert outcome.jti == f"j{n}"
    if executor is not None:
        executor.shutdown()


async def test_a_stopped_executor_fails_the_waiting_requests() -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    executor.shutdown()
    checks = SignatureChecks(executor)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(checks.signed(_checked(1)[0]), timeout=5)
