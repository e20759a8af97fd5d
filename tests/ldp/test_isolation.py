"""`pod.ldp.isolation`: work in a real worker process, cut off at its limit, answers in order."""

from __future__ import annotations

import asyncio
import operator
import os
import time

import pytest

from pod.errors import InvalidRdf
from pod.ldp.isolation import IsolatedWorker, Overrun, WorkerCrashed
from pod.ldp.patch import SPARQL_UPDATE, parse_patch


@pytest.fixture
async def worker() -> IsolatedWorker:
    return IsolatedWorker(name="kluis-test-worker")


async def test_results_and_errors_come_back_from_another_process(worker: IsolatedWorker) -> None:
    try:
        assert await worker.run(30, operator.add, 2, 3) == 5
        assert worker.pid is not None
        assert worker.pid != os.getpid()
        with pytest.raises(InvalidRdf, match="SPARQL"):
            await worker.run(30, parse_patch, b"NOT SPARQL", SPARQL_UPDATE, base="http://x/")
        assert await worker.run(30, operator.mul, 4, 5) == 20  # still the same process
    finally:
        await worker.close()
    assert worker.pid is None


async def test_overrunning_work_is_killed_and_the_next_call_gets_a_fresh_process(
    worker: IsolatedWorker,
) -> None:
    try:
        assert await worker.run(30, operator.add, 1, 1) == 2
        first = worker.pid
        with pytest.raises(Overrun, match=r"longer than 0\.5 s"):
            await worker.run(0.5, time.sleep, 30)
        assert worker.pid is None
        assert await worker.run(30, operator.add, 1, 2) == 3
        assert worker.pid != first
    finally:
        await worker.close()


async def test_a_cancelled_call_never_hands_its_answer_to_the_next(
    worker: IsolatedWorker,
) -> None:
    try:
        slow = asyncio.create_task(worker.run(30, time.sleep, 1))
        await asyncio.sleep(0.5)  # the call is under way in the worker (or starting it)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert await worker.run(30, operator.add, 20, 22) == 42
    finally:
        await worker.close()


async def test_a_worker_that_dies_is_reported_and_replaced(worker: IsolatedWorker) -> None:
    try:
        with pytest.raises(WorkerCrashed):
            await worker.run(30, os._exit, 3)
        assert await worker.run(30, operator.add, 1, 1) == 2
    finally:
        await worker.close()


async def test_starting_the_worker_does_not_count_against_the_limit(
    worker: IsolatedWorker,
) -> None:
    # A fresh worker imports the function's module first (1.5 s here): only the work itself,
    # which is instant, has to fit in the second it is given.
    from tests.ldp import slow_import

    try:
        assert await worker.run(1.0, slow_import.answer) == 42
    finally:
        await worker.close()
