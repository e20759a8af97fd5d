"""PATCH cannot be used to stall the server (issue 10).

The attacks, over real HTTP: a large SPARQL Update sent by someone who may not patch is refused
before its body is read; a SPARQL Update is parsed in a worker process and cut off at its time
limit, a patch is applied in a worker thread, and other requests are answered meanwhile; a body
above `max_patch_bytes` is 413; a where clause that would take unbounded matching work is 422,
naming the budget.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from pod.config import Settings
from pod.http import ldp as ldp_http
from pod.http.keys import PATCH_WORKER
from pod.ldp.patch import Patch
from tests.conftest import POD, Client, url
from tests.support import Agent, send_partly

BODY_TIMEOUT = 3.0  # how long the server waits for the rest of a body before 408
GATE_TIMEOUT = 10.0  # a gated step gives up waiting for its release after this long
SPARQL = {"Content-Type": "application/sparql-update"}
N3 = {"Content-Type": "text/n3"}
DOC = POD + "people"
NEW = POD + "private/new"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, body_timeout=BODY_TIMEOUT)


def insert_data(triples: int) -> bytes:
    """The issue's body: INSERT DATA with `triples` triples, about 24 bytes each."""
    lines = "".join(f'<#s{i}> ex:p{i} "v{i}" .\n' for i in range(triples))
    return f"PREFIX ex: <http://example.org/>\nINSERT DATA {{\n{lines}}}".encode()


async def put_document(client: Client, path: str, triples: int) -> bytes:
    body = "".join(f'<#s{i}> <#p{i % 7}> "v{i}" .\n' for i in range(triples))
    r = await client.put(path, data=body, headers={"Content-Type": "text/turtle"})
    assert r.status == 201, await r.text()
    return await (await client.get(path)).read()


async def _send_head_and_half_the_body(
    client: Client, path: str, body: bytes, head: dict[str, str]
) -> bytes:
    """PATCH `path` announcing all of `body`, send half of it, and return the server's answer."""
    return await send_partly(
        client,
        "PATCH",
        path,
        declared=len(body),
        sent=body[: len(body) // 2],
        headers={"Content-Type": "application/sparql-update", **head},
        # Only a safety net: the old server answered 408 after BODY_TIMEOUT.
        wait=BODY_TIMEOUT + 10,
    )


@pytest.mark.parametrize("target", [DOC, NEW], ids=["existing", "create"])
@pytest.mark.parametrize("who", ["anonymous", "bob"])
async def test_a_patch_from_who_may_not_append_is_refused_before_its_body_is_read(
    client: Client, bob: Agent, who: str, target: str
) -> None:
    before = await put_document(client, DOC, 3)
    body = insert_data(1600)  # 38 KB, which took rdflib seconds to parse
    assert len(body) > 38_000
    head = bob.headers("PATCH", url(target)) if who == "bob" else {}
    answer = await _send_head_and_half_the_body(client, target, body, head)
    expected = b"HTTP/1.1 401 " if who == "anonymous" else b"HTTP/1.1 403 "
    assert answer.startswith(expected), answer[:200]
    assert await (await client.get(DOC)).read() == before
    assert (await client.get(NEW)).status == 404


class Gate:
    """A function made to wait, once called, until `release` is set; `released` says, for each
    call, whether that came before the gate gave up (after GATE_TIMEOUT)."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.started = threading.Event()
        self.release = threading.Event()
        self.released: list[bool] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.started.set()
        self.released.append(self.release.wait(GATE_TIMEOUT))
        return self.function(*args, **kwargs)

    async def answer_a_get_meanwhile(self, client: Client, patching: asyncio.Task[Any]) -> None:
        """Once the gated step has begun, GET a document, then let the step go on."""
        # Waiting in a thread leaves the event loop free, if the step itself does.
        assert await asyncio.to_thread(self.started.wait, GATE_TIMEOUT)
        r = await client.get(DOC)
        assert r.status == 200
        self.release.set()
        r = await patching
        assert r.status == 204, await r.text()
        # The step went on only once the GET had been answered: the loop was free meanwhile.
        assert self.released == [True]


async def test_a_sparql_update_is_parsed_apart_and_cut_off_at_its_limit(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rdflib's SPARQL grammar takes seconds on some input (here 60 KB of collections), and
    cannot be interrupted: the parse runs in the worker process, the event loop answers other
    requests meanwhile, and the parse is cut off at its limit (422)."""
    before = await put_document(client, DOC, 3)
    monkeypatch.setattr(ldp_http, "SPARQL_PARSE_SECONDS", 1.0)
    items = " ".join(f"({i})" for i in range(9000))
    body = f"INSERT DATA {{ <#x> <#p> ( {items} ) }}".encode()
    assert len(body) < 64 * 1024
    patching = asyncio.create_task(client.patch(DOC, data=body, headers=SPARQL))
    answered = 0
    while not patching.done():
        r = await client.get(DOC)
        assert r.status == 200
        answered += 1
    r = await patching
    assert r.status == 422, await r.text()
    assert "took longer than 1 s to parse" in (await r.json())["detail"]
    # A second or so of parsing: were the loop held, hardly a GET would have been answered.
    assert answered >= 20, answered
    assert await (await client.get(DOC)).read() == before
    # The worker that was cut off is replaced: the next update parses.
    r = await client.patch(DOC, data=b'INSERT DATA { <#n> <#p> "next" }', headers=SPARQL)
    assert r.status == 204, await r.text()


async def test_sparql_updates_are_parsed_in_a_process_of_their_own(
    client: Client, app: web.Application
) -> None:
    await put_document(client, DOC, 3)
    r = await client.patch(DOC, data=insert_data(1600), headers=SPARQL)
    assert r.status == 204, await r.text()
    assert '"v1599"' in await (await client.get(DOC)).text()
    worker = app[PATCH_WORKER]
    assert worker.pid is not None
    assert worker.pid != os.getpid()


async def test_a_patch_is_applied_while_other_requests_are_answered(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await put_document(client, DOC, 3)
    gate = Gate(Patch.changes)
    monkeypatch.setattr(Patch, "changes", lambda self, *args, **kwargs: gate(self, *args, **kwargs))
    # A where clause: matching it is bounded by the work budget, not by the body, so it runs in
    # a thread however small (a patch without one may run on the loop on a small document).
    update = b'INSERT { <#new> <#p> "small" } WHERE { ?s ?p ?o }'
    patching = asyncio.create_task(client.patch(DOC, data=update, headers=SPARQL))
    await gate.answer_a_get_meanwhile(client, patching)
    assert '"small"' in await (await client.get(DOC)).text()


async def test_a_patch_body_above_max_patch_bytes_is_413(
    client: Client, settings: Settings
) -> None:
    before = await put_document(client, DOC, 3)
    body = insert_data(4000)  # 100 KB: over 64 KiB, under max_rdf_bytes (which bounded patches)
    assert 64 * 1024 < len(body) < settings.max_rdf_bytes
    r = await client.patch(DOC, data=body, headers=SPARQL)
    assert r.status == 413, await r.text()
    assert (await r.json())["detail"].endswith(f"the limit is {settings.max_patch_bytes}")
    assert await (await client.get(DOC)).read() == before


async def test_n3_where_with_disconnected_variables_is_422_naming_the_budget(
    client: Client,
) -> None:
    before = await put_document(client, DOC, 120)
    # The patch: three unrelated triple patterns, 120^3 combinations to try.
    patch = b"""@prefix solid: <http://www.w3.org/ns/solid/terms#>.
_:p a solid:InsertDeletePatch;
  solid:where { _:a _:b _:c. _:d _:e _:f. _:g _:h _:i. };
  solid:inserts { <#x> <#y> <#z>. }."""
    assert len(patch) < 200
    r = await client.patch(DOC, data=patch, headers=N3)
    assert r.status == 422, await r.text()
    assert "budget" in (await r.json())["detail"]
    assert await (await client.get(DOC)).read() == before


async def test_sparql_where_with_disconnected_variables_is_422_naming_the_budget(
    client: Client,
) -> None:
    before = await put_document(client, DOC, 40)
    # 40^3 solutions, each filling in the template.
    update = b"INSERT { <#x> <#y> <#z> } WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    r = await client.patch(DOC, data=update, headers=SPARQL)
    assert r.status == 422, await r.text()
    assert "budget" in (await r.json())["detail"]
    assert await (await client.get(DOC)).read() == before
