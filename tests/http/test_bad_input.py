"""Bad input gets a clear 4xx and loses nothing (Solid Protocol §3-§6).

Every test seeds a pod (whose owner's ACL the server wrote) with an RDF document, a non-RDF blob,
a container with a child and a description resource, sends one bad request as the owner, and then
checks three things: the exact status, an `application/problem+json` body whose `detail` says what
was wrong, and that every stored byte is unchanged: the GET bodies and ETags of everything seeded,
and (for both backends) every file and directory under `tmp_path`, which holds the data directory
and its siblings. A server error logged while handling the request fails the test at teardown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from multidict import CIMultiDict, CIMultiDictProxy

from pod.config import Settings
from tests.conftest import POD, Client, url
from tests.support import absolute

TURTLE = "text/turtle"
JSON_LD = "application/ld+json"
N_TRIPLES = "application/n-triples"
RDF_XML = "application/rdf+xml"
N3 = "text/n3"
SPARQL = "application/sparql-update"
PROBLEM = "application/problem+json"

DOC = POD + "doc"
BLOB = POD + "blob.bin"
BOX = POD + "box/"
CHILD = BOX + "child"
POD_ACL = POD + ".acl"
DOC_META = POD + "doc.meta"
NEW_DEEP = POD + "new/deeper/thing"  # a write here would also create two containers

DOC_TTL = b"""@prefix ex: <http://example.org/ns#> .
<#a> ex:p "one" ; ex:p "two" ; ex:name "Doc"@en .
<#b> ex:q <#a> .
"""
CHILD_TTL = b'<#it> <http://example.org/ns#label> "child" .\n'
META_TTL = b'<doc> <http://purl.org/dc/terms/title> "described" .\n'
BLOB_BYTES = bytes(range(256)) * 8  # 2048 bytes
BLOB_TYPE = "application/octet-stream"
VALID_TTL = b'<#x> <http://example.org/ns#p> "new" .\n'
PREFIXES = b"""@prefix solid: <http://www.w3.org/ns/solid/terms#> .
@prefix ex: <http://example.org/ns#> .
@prefix ldp: <http://www.w3.org/ns/ldp#> .
"""
VALID_N3_PATCH = PREFIXES + b'_:p a solid:InsertDeletePatch ; solid:inserts { <#a> ex:p "new" } .'
SPARQL_PREFIXES = b"PREFIX ex: <http://example.org/ns#>\nPREFIX ldp: <http://www.w3.org/ns/ldp#>\n"

# Everything the snapshot reads back over HTTP. `/` and the pod's listing reveal any new child.
SNAPSHOT_PATHS = ("/", POD, DOC, BLOB, BOX, CHILD, POD_ACL, DOC_META, POD + "new/")

# A name that must never appear next to (or above) the data directory.
ESCAPE = f"escaped-{uuid.uuid4().hex[:12]}"


# --- the seeded pod and its snapshots ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    resources: dict[str, tuple[int, str | None, bytes]]  # path -> (status, ETag, body)
    files: dict[str, bytes]  # every file under tmp_path, relative -> bytes
    dirs: frozenset[str]


@dataclass(slots=True)
class Pod:
    client: Client
    tmp_path: Path
    data_dir: Path
    backend_kind: str
    before: Snapshot | None = field(default=None)

    async def snapshot(self) -> Snapshot:
        resources: dict[str, tuple[int, str | None, bytes]] = {}
        for path in SNAPSHOT_PATHS:
            r = await self.client.get(path, headers={"Accept": "text/turtle, */*;q=0.1"})
            body = await r.read()  # an error body carries a fresh request id: compare 2xx only
            resources[path] = (r.status, r.headers.get("ETag"), body if r.ok else b"")
        files: dict[str, bytes] = {}
        dirs: set[str] = set()
        for p in sorted(self.tmp_path.rglob("*")):
            rel = str(p.relative_to(self.tmp_path))
            if p.is_dir() and not p.is_symlink():
                dirs.add(rel)
            else:
                files[rel] = p.read_bytes() if p.is_file() else b"<special>"
        return Snapshot(resources, files, frozenset(dirs))

    async def mark(self) -> None:
        """Take the snapshot that `assert_unchanged` compares against."""
        self.before = await self.snapshot()

    async def assert_unchanged(self) -> None:
        before = self.before
        assert before is not None, "call mark() before the bad request"
        after = await self.snapshot()
        changed = [p for p in SNAPSHOT_PATHS if before.resources[p] != after.resources[p]]
        assert not changed, f"resources changed: {changed}: " + "; ".join(
            f"{p}: {before.resources[p][:2]} -> {after.resources[p][:2]}" for p in changed
        )
        assert after.dirs == before.dirs, (
            f"directories added {sorted(after.dirs - before.dirs)}, "
            f"removed {sorted(before.dirs - after.dirs)}"
        )
        files_changed = sorted(
            name
            for name in before.files.keys() | after.files.keys()
            if before.files.get(name) != after.files.get(name)
        )
        assert not files_changed, f"files changed, added or removed: {files_changed}"
        assert_nothing_escaped(self.data_dir)

    def new_files(self, before: Snapshot, after: Snapshot) -> set[str]:
        return set(after.files) - set(before.files)


def assert_nothing_escaped(data_dir: Path) -> None:
    """No file named ESCAPE exists in the data directory or any directory above it."""
    for directory in [data_dir, *data_dir.parents]:
        assert not (directory / ESCAPE).exists(), f"{directory / ESCAPE} was created"


async def _put(client: Client, path: str, body: bytes, content_type: str) -> None:
    r = await client.put(path, data=body, headers={"Content-Type": content_type})
    assert r.status in (201, 204), f"seeding {path}: {r.status} {await r.text()}"


@pytest.fixture
async def pod(client: Client, tmp_path: Path, data_dir: Path, backend_kind: str) -> Pod:
    await _put(client, DOC, DOC_TTL, TURTLE)
    await _put(client, BLOB, BLOB_BYTES, BLOB_TYPE)
    await _put(client, CHILD, CHILD_TTL, TURTLE)
    await _put(client, DOC_META, META_TTL, TURTLE)
    seeded = Pod(client, tmp_path, data_dir, backend_kind)
    await seeded.mark()
    return seeded


@pytest.fixture(autouse=True)
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A request that reaches the error boundary as an unexpected exception is a server bug."""
    caplog.set_level(logging.ERROR)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, "the server logged errors:\n" + caplog.text


# --- problem+json checks ----------------------------------------------------------------------


def check_problem(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    expected: int,
    details: Sequence[str],
) -> str:
    """Assert an exact status and a problem+json body whose detail holds each of `details`."""
    assert status == expected, f"expected {expected}, got {status}: {body[:600]!r}"
    media = headers.get("Content-Type", "").split(";", 1)[0].strip()
    assert media == PROBLEM, f"Content-Type {media!r}, body {body[:300]!r}"
    problem = json.loads(body)
    assert problem["status"] == expected
    detail = problem.get("detail")
    assert isinstance(detail, str), f"no detail in {problem}"
    assert detail, f"empty detail in {problem}"
    for needle in details:
        assert needle.lower() in detail.lower(), f"{needle!r} is not in the detail {detail!r}"
    return detail


async def expect_problem(r: ClientResponse, expected: int, *details: str) -> str:
    return check_problem(r.status, r.headers, await r.read(), expected=expected, details=details)


def send(
    client: Client,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """A request through the aiohttp client; no Content-Type at all unless one is given."""
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    return client.request(
        method,
        path,
        data=body,
        headers=all_headers,
        skip_auto_headers=() if content_type is not None else ("Content-Type",),
    )


# --- raw HTTP, for request targets the client would normalise ---------------------------------


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


async def send_raw(
    client: Client,
    method: str,
    target: str,
    *,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> RawResponse:
    """Send `target` byte for byte as the request line's target and read the whole answer.

    The request is signed as the client's agent (the pod's owner), so a refusal can only come from
    the target, never from missing credentials.
    """
    port = client.server.port
    assert port is not None
    assert client.agent is not None
    credentials = client.agent.headers(method, absolute(target))
    reader, writer = await asyncio.open_connection(client.server.host, port)
    try:
        lines = [
            f"{method} {target} HTTP/1.1",
            "Host: pod.example",
            "Connection: close",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in credentials.items()),
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: CIMultiDict[str] = CIMultiDict()
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed.add(name.strip(), value.strip())
    length = parsed.get("Content-Length")
    payload = rest if length is None else rest[: int(length)]
    return RawResponse(int(status_line.split()[1]), CIMultiDictProxy(parsed), payload)


# --- 1. malformed RDF -------------------------------------------------------------------------

# (media type, malformed body, substrings the detail must hold: the parser's position if it has one)
MALFORMED_RDF: list[tuple[str, str, bytes, tuple[str, ...]]] = [
    (
        "turtle",
        TURTLE,
        b'@prefix ex: <http://example.org/ns#> .\nex:a ex:b "unterminated .\n',
        ("Turtle", "line"),
    ),
    ("turtle-garbage", TURTLE, b"this is not turtle at all {{{", ("Turtle", "line")),
    (
        "n-triples",
        N_TRIPLES,
        b"<http://e/a> <http://e/b> <http://e/c> .\n<http://e/a> <http://e/b> .\n",
        ("N-Triples", "line"),
    ),
    ("n-triples-prefixed", N_TRIPLES, b"ex:a ex:b ex:c .\n", ("N-Triples", "line")),
    (
        "n3",
        N3,
        b"@prefix ex: <http://example.org/ns#> .\nex:a ex:b { ex:c ex:d .\n",
        ("N3", "line"),
    ),
    (
        "rdf-xml",
        RDF_XML,
        b'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'\n<rdf:Description rdf:about="x">\n</rdf:RDF>',
        ("RDF/XML",),
    ),
    ("rdf-xml-not-xml", RDF_XML, b"{ not xml }", ("RDF/XML",)),
    (
        # pyoxigraph reads this as an empty graph: nothing closes the elements
        "rdf-xml-truncated",
        RDF_XML,
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns:ex="http://example.org/ns#"><rdf:Description rdf:about="#a"><ex:p>x</ex:p>',
        ("RDF/XML", "well-formed"),
    ),
    ("turtle-truncated", TURTLE, DOC_TTL[:-12], ("Turtle",)),
    ("json-ld-truncated", JSON_LD, b'{"@id": "#a", "http://example.org/ns#p": "x"', ("JSON-LD",)),
    ("json-ld-not-json", JSON_LD, b'{"@id": "x", ', ("JSON-LD", "line 1 column")),
    ("json-ld-not-utf8", JSON_LD, b'{"@id": "\xff\xfe"}', ("JSON-LD",)),
    ("json-ld-bad-id", JSON_LD, b'{"@id": 3}', ("JSON-LD", "@id")),
    ("json-ld-bad-vocab", JSON_LD, b'{"@context": {"@vocab": 5}, "a": 1}', ("JSON-LD", "@vocab")),
    ("json-ld-bad-context", JSON_LD, b'{"@context": 5, "@id": "x"}', ("JSON-LD", "@context")),
    (
        "n-quads-named-graph",
        "application/n-quads",
        b'<http://e/a> <http://e/b> "x" .\n<http://e/a> <http://e/b> "y" <http://e/g> .\n',
        ("N-Quads", "named graphs"),
    ),
    ("n-quads-garbage", "application/n-quads", b"<http://e/a> <http://e/b> .\n", ("N-Quads",)),
    (
        "trig-named-graph",
        "application/trig",
        b"@prefix ex: <http://example.org/ns#> .\nex:g { ex:a ex:b ex:c }\n",
        ("TriG", "named graphs"),
    ),
]

# (id, method, target)
RDF_TARGETS = [
    ("put-existing", "PUT", DOC),
    ("put-new-deep", "PUT", NEW_DEEP),
    ("post", "POST", BOX),
]


@pytest.mark.parametrize(
    ("media", "body", "details"),
    [pytest.param(m, b, d, id=i) for i, m, b, d in MALFORMED_RDF],
)
@pytest.mark.parametrize(
    ("method", "target"), [pytest.param(m, t, id=i) for i, m, t in RDF_TARGETS]
)
async def test_malformed_rdf_is_400_and_stores_nothing(
    pod: Pod, method: str, target: str, media: str, body: bytes, details: tuple[str, ...]
) -> None:
    # RDF that does not parse gets 400 and nothing is stored
    # (https://solidproject.org/TR/protocol#writing-resources).
    r = await send(pod.client, method, target, body=body, content_type=media)
    await expect_problem(r, 400, *details)
    await pod.assert_unchanged()


async def test_malformed_rdf_container_body_on_post_is_400(pod: Pod) -> None:
    r = await send(
        pod.client,
        "POST",
        BOX,
        body=b"<#x> <#p> ",
        content_type=TURTLE,
        headers={"Link": '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"', "Slug": "sub"},
    )
    await expect_problem(r, 400, "Turtle", "line")
    await pod.assert_unchanged()


MALFORMED_PATCHES = [
    pytest.param(
        N3,
        PREFIXES + b"_:p a solid:InsertDeletePatch ;\n solid:inserts { <#a> ex:p <#b> .",
        ("N3", "line"),
        id="n3-unclosed-formula",
    ),
    pytest.param(
        N3,
        PREFIXES + b"_:p a solid:InsertDeletePatch ;\n solid:inserts { <#a> ex:p ex:b ex:c } .",
        ("N3", "line"),
        id="n3-extra-term",
    ),
    pytest.param(N3, b"\xff\xfe not utf-8", ("UTF-8",), id="n3-not-utf8"),
    pytest.param(SPARQL, b"INSERT DATA { <a> <b> ", ("SPARQL", "line"), id="sparql-truncated"),
    pytest.param(SPARQL, b"DELETE EVERYTHING NOW", ("SPARQL", "line"), id="sparql-nonsense"),
    pytest.param(
        SPARQL, SPARQL_PREFIXES + b"INSERT DATA { <#a> ex:p }", ("SPARQL",), id="sparql-no-object"
    ),
]


@pytest.mark.parametrize(("media", "body", "details"), MALFORMED_PATCHES)
@pytest.mark.parametrize("target", [DOC, NEW_DEEP, BOX])
async def test_malformed_patch_is_400_and_changes_nothing(
    pod: Pod, target: str, media: str, body: bytes, details: tuple[str, ...]
) -> None:
    r = await send(pod.client, "PATCH", target, body=body, content_type=media)
    await expect_problem(r, 400, *details)
    await pod.assert_unchanged()


# Every parser has a bound on nesting depth. Each body is under max_rdf_bytes.
DEEP_DEPTH = 20_000
DEEPLY_NESTED = [
    pytest.param(
        "PUT", JSON_LD, b"[" * DEEP_DEPTH + b"]" * DEEP_DEPTH, ("JSON-LD",), id="json-ld-arrays"
    ),
    pytest.param(
        "PUT",
        JSON_LD,
        b'{"http://e/p": ' * 10_000 + b'"x"' + b"}" * 10_000,
        ("JSON-LD",),
        id="json-ld-objects",
    ),
    pytest.param(
        "POST",
        JSON_LD,
        b'{"@context": {"p": "http://e/p"}, "p": ' * 3000 + b'"x"' + b"}" * 3000,
        ("JSON-LD",),
        id="json-ld-nodes",
    ),
    pytest.param(
        "PATCH",
        N3,
        PREFIXES
        + b"_:p a solid:InsertDeletePatch ; solid:inserts { <#s> ex:p "
        + b"( " * DEEP_DEPTH
        + b")" * DEEP_DEPTH
        + b" } .",
        ("N3",),
        id="n3-patch-lists",
    ),
    pytest.param(
        "PATCH",
        SPARQL,
        b"INSERT DATA { <#s> <#p> " + b"[ <#p> " * 5000 + b"1" + b" ]" * 5000 + b" }",
        ("SPARQL",),
        id="sparql-blank-nodes",
    ),
    pytest.param(
        "PATCH",
        SPARQL,
        b"DELETE { ?s ?p ?o } WHERE { ?s ?p " + b"( " * 5000 + b")" * 5000 + b" }",
        ("SPARQL",),
        id="sparql-collections",
    ),
    pytest.param(
        "PATCH",
        SPARQL,
        b"DELETE { ?s ?p ?o } WHERE " + b"{ " * 5000 + b"?s ?p ?o" + b" }" * 5000,
        ("SPARQL", "nests too deeply"),
        id="sparql-groups",
    ),
    pytest.param(
        "PATCH",
        SPARQL,
        b"DELETE { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(" + b"(" * 5000 + b"1" + b")" * 5000 + b") }",
        ("SPARQL", "nests too deeply"),
        id="sparql-filter",
    ),
]


@pytest.mark.parametrize(("method", "media", "body", "details"), DEEPLY_NESTED)
async def test_deeply_nested_input_is_400(
    pod: Pod, method: str, media: str, body: bytes, details: tuple[str, ...]
) -> None:
    target = BOX if method == "POST" else DOC
    r = await send(pod.client, method, target, body=body, content_type=media)
    await expect_problem(r, 400, *details)
    await pod.assert_unchanged()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b"<#s> <#p> " + b"[ <#p> " * 8000 + b"1" + b" ]" * 8000 + b" .", id="blank-nodes"
        ),
        pytest.param(b"<#s> <#p> " + b"( " * 8000 + b")" * 8000 + b" .", id="collections"),
    ],
)
async def test_deeply_nested_turtle_is_stored_or_refused_never_500(pod: Pod, body: bytes) -> None:
    # Valid RDF, but deep: the server may refuse it (4xx) or store it; if it stores it, every
    # representation it offers must still be servable.
    r = await send(pod.client, "PUT", POD + "deep", body=body, content_type=TURTLE)
    _status_ok(r.status, (201, 400, 413))
    if r.status != 201:
        await pod.assert_unchanged()
        return
    for media in (TURTLE, JSON_LD, N_TRIPLES, RDF_XML, N3):
        got = await pod.client.get(POD + "deep", headers={"Accept": media})
        assert got.status == 200, (media, got.status, (await got.read())[:300])


# --- 2. XML entities: no DTDs at all (no XXE, no billion laughs) ---------------------------

_RDF_OPEN = (
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    b'xmlns:ex="http://example.org/ns#">\n'
)


def _billion_laughs() -> bytes:
    entities = [b' <!ENTITY lol0 "lol">']
    entities += [b' <!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)]
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n'
        + b"\n".join(entities)
        + b"\n]>\n"
        + _RDF_OPEN
        + b'<rdf:Description rdf:about="#x"><ex:p>&lol9;</ex:p></rdf:Description>\n</rdf:RDF>\n'
    )


BILLION_LAUGHS = _billion_laughs()
XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
    + _RDF_OPEN
    + b'<rdf:Description rdf:about="#x"><ex:p>&xxe;</ex:p></rdf:Description>\n</rdf:RDF>\n'
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?>\n<!doctype rdf:RDF [ <!entity % remote SYSTEM '
    b'"http://127.0.0.1:9/evil.dtd"> %remote; ]>\n' + _RDF_OPEN + b"</rdf:RDF>\n"
)


@pytest.mark.parametrize(
    ("body", "details"),
    [
        pytest.param(BILLION_LAUGHS, ("DOCTYPE",), id="billion-laughs"),
        pytest.param(XXE, ("DOCTYPE",), id="xxe-file"),
        pytest.param(PARAMETER_ENTITY, ("DOCTYPE",), id="parameter-entity-lowercase"),
        pytest.param(XXE.decode().encode("utf-16"), ("RDF/XML",), id="xxe-utf16"),
    ],
)
@pytest.mark.parametrize(
    ("method", "target"), [pytest.param(m, t, id=i) for i, m, t in RDF_TARGETS]
)
async def test_rdf_xml_with_dtd_is_400(
    pod: Pod, method: str, target: str, body: bytes, details: tuple[str, ...]
) -> None:
    r = await send(pod.client, method, target, body=body, content_type=RDF_XML)
    detail = await expect_problem(r, 400, *details)
    assert "root:" not in detail  # nothing of /etc/passwd leaks into the answer
    await pod.assert_unchanged()


# --- 3. JSON-LD remote contexts are never fetched (no SSRF through parsing) ---------------


@pytest.fixture
def outbound_attempts(monkeypatch: pytest.MonkeyPatch, client: Client) -> list[object]:
    """Refuse (and record) every connection or DNS lookup that is not to the test server."""
    attempts: list[object] = []
    local = {"127.0.0.1", "::1", "localhost", client.server.host}
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in local:
            attempts.append(address)
            raise OSError(f"outbound connection to {address!r} refused by the test")
        real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in local:
            attempts.append(name)
            raise socket.gaierror(f"lookup of {name!r} refused by the test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


@pytest.mark.parametrize(
    "context",
    [
        pytest.param('"https://example.org/ctx.jsonld"', id="https"),
        pytest.param('"http://127.0.0.1:9/ctx.jsonld"', id="loopback"),
        pytest.param('"file:///etc/passwd"', id="file"),
        pytest.param(
            '["https://www.w3.org/ns/activitystreams", "https://evil.example/c"]', id="mix"
        ),
        pytest.param('{"@import": "https://example.org/imported.jsonld"}', id="import"),
    ],
)
@pytest.mark.parametrize(
    ("method", "target"), [pytest.param(m, t, id=i) for i, m, t in RDF_TARGETS]
)
async def test_jsonld_remote_context_is_400_without_network(
    pod: Pod, outbound_attempts: list[object], method: str, target: str, context: str
) -> None:
    body = f'{{"@context": {context}, "@id": "#x", "name": "Mallory"}}'.encode()
    started = time.monotonic()
    async with asyncio.timeout(5):
        r = await send(pod.client, method, target, body=body, content_type=JSON_LD)
        await expect_problem(r, 400, "JSON-LD", "context")
    assert time.monotonic() - started < 2, "a remote context must fail fast, not time out"
    assert outbound_attempts == []
    await pod.assert_unchanged()


# --- 4. unsupported media types (415) -----------------------------------------------------------


async def test_patch_with_unsupported_type_is_415_with_accept_patch(pod: Pod) -> None:
    for media, body in [
        ("application/json", b'{"op": "add"}'),
        (TURTLE, VALID_TTL),
        ("application/json-patch+json", b'[{"op": "remove", "path": "/"}]'),
        ("text/plain", b"delete everything"),
    ]:
        for target in (DOC, NEW_DEEP, BOX):
            r = await send(pod.client, "PATCH", target, body=body, content_type=media)
            await expect_problem(r, 415, media)
            accept_patch = r.headers.get("Accept-Patch", "")
            assert N3 in accept_patch, accept_patch
            assert SPARQL in accept_patch, accept_patch
            await pod.assert_unchanged()


@pytest.mark.parametrize("media", [N3, SPARQL])
async def test_patch_on_non_rdf_resource_is_415(pod: Pod, media: str) -> None:
    body = VALID_N3_PATCH if media == N3 else SPARQL_PREFIXES + b'INSERT DATA { <#a> ex:p "x" }'
    r = await send(pod.client, "PATCH", BLOB, body=body, content_type=media)
    await expect_problem(r, 415, "not an RDF document")
    await pod.assert_unchanged()


@pytest.mark.parametrize("target", [POD_ACL, DOC + ".acl", DOC_META, BOX + ".meta", BOX + ".acl"])
@pytest.mark.parametrize("media", ["text/plain", "application/octet-stream", "image/png"])
async def test_non_rdf_put_to_auxiliary_resource_is_415(pod: Pod, target: str, media: str) -> None:
    r = await send(pod.client, "PUT", target, body=b"\x89PNG not rdf", content_type=media)
    await expect_problem(r, 415, "auxiliary", "RDF")
    await pod.assert_unchanged()


async def test_auxiliary_of_auxiliary_is_400(pod: Pod) -> None:
    for target in (DOC + ".acl.acl", DOC_META + ".acl", POD_ACL + ".meta"):
        r = await send(pod.client, "PUT", target, body=VALID_TTL, content_type=TURTLE)
        await expect_problem(r, 400, "auxiliary")
        await pod.assert_unchanged()


# --- 5. missing Content-Type (Solid Protocol #server-content-type-missing) ---------------------


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("PUT", DOC),
        ("PUT", BLOB),
        ("PUT", NEW_DEEP),
        ("POST", BOX),
        ("POST", POD),
        ("PATCH", DOC),
        ("PATCH", NEW_DEEP),
    ],
)
async def test_body_without_content_type_is_400(pod: Pod, method: str, target: str) -> None:
    body = VALID_N3_PATCH if method == "PATCH" else VALID_TTL
    r = await send(pod.client, method, target, body=body)
    await expect_problem(r, 400, "Content-Type")
    await pod.assert_unchanged()


@pytest.mark.parametrize("content_type", ["", "   ", "turtle", ";;;", "/", "text/"])
async def test_put_with_malformed_content_type_is_400(pod: Pod, content_type: str) -> None:
    r = await send(pod.client, "PUT", DOC, body=VALID_TTL, content_type=content_type)
    await expect_problem(r, 400, "Content-Type")
    await pod.assert_unchanged()


# --- 6. body size limits (settings: max_body_bytes=1_000_000, max_rdf_bytes=200_000) ----------


async def _chunks(total: int, line: bytes = b"x" * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = line * 16
        sent += len(chunk)
        yield chunk
        await asyncio.sleep(0)


RDF_LINE = b'<#s> <http://example.org/ns#p> "' + b"r" * 980 + b'" .\n'


@pytest.mark.parametrize(
    ("method", "target", "media"),
    [
        ("PUT", BLOB, BLOB_TYPE),
        ("PUT", NEW_DEEP, BLOB_TYPE),
        ("POST", BOX, BLOB_TYPE),
        ("PUT", DOC, TURTLE),
        ("PATCH", DOC, N3),
    ],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_over_limit_is_413(
    pod: Pod, method: str, target: str, media: str, chunked: bool
) -> None:
    size = 1_000_001 if media == BLOB_TYPE else 200_001
    body: Any = _chunks(size) if chunked else b"x" * size
    r = await send(pod.client, method, target, body=body, content_type=media)
    await expect_problem(r, 413, "limit")
    await pod.assert_unchanged()


@pytest.mark.parametrize(
    ("method", "target", "media"),
    [
        ("PUT", DOC, TURTLE),
        ("PUT", NEW_DEEP, TURTLE),
        ("PUT", DOC_META, TURTLE),
        ("POST", BOX, TURTLE),
        ("PUT", DOC, N_TRIPLES),
        ("PATCH", DOC, SPARQL),
    ],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_rdf_over_rdf_limit_is_413(
    pod: Pod, settings: Settings, method: str, target: str, media: str, chunked: bool
) -> None:
    # 300 KB: under max_body_bytes, over max_rdf_bytes (and max_patch_bytes), and valid RDF
    # line by line.
    size = 300_000
    body: Any = _chunks(size, RDF_LINE) if chunked else RDF_LINE * (size // len(RDF_LINE))
    r = await send(pod.client, method, target, body=body, content_type=media)
    limit = settings.max_patch_bytes if method == "PATCH" else settings.max_rdf_bytes
    await expect_problem(r, 413, str(limit))
    await pod.assert_unchanged()


# --- 7. hostile paths: 400 for every method, nothing outside the data directory ---------------

HOSTILE_PATHS = [
    pytest.param(f"/pod/../{ESCAPE}", "dot-segment", id="dotdot"),
    pytest.param(f"/pod/box/../../../{ESCAPE}", "dot-segment", id="dotdot-deep"),
    pytest.param(f"/pod/%2e%2e/{ESCAPE}", "dot-segment", id="pct-dotdot"),
    pytest.param("/pod/%2E%2e/", "dot-segment", id="pct-dotdot-mixed-case-container"),
    pytest.param(f"/pod/.%2e/%2e%2E/%2E%2E/{ESCAPE}", "dot-segment", id="half-encoded-dotdot"),
    pytest.param(f"/pod/%2e./{ESCAPE}", "dot-segment", id="encoded-dot-dot"),
    pytest.param(f"/pod/./{ESCAPE}", "dot-segment", id="single-dot"),
    pytest.param("/pod/box/..", "dot-segment", id="trailing-dotdot"),
    pytest.param(f"/pod/..%2F..%2F{ESCAPE}", "'/'", id="encoded-slash-dotdot"),
    pytest.param("/pod/a%2fb", "'/'", id="encoded-slash-lowercase"),
    pytest.param(f"/pod/box%2F..%2F..%2F{ESCAPE}", "'/'", id="encoded-slash-escape"),
    pytest.param("/pod/a%00b", "control", id="nul"),
    pytest.param("/pod/doc%00.txt", "control", id="nul-extension"),
    pytest.param("/pod/a%0ab", "control", id="newline"),
    pytest.param("/pod/a%0Ab/", "control", id="newline-container"),
    pytest.param("/pod/a%0db", "control", id="carriage-return"),
    pytest.param("/pod/a%09b", "control", id="tab"),
    pytest.param("/pod/a%7fb", "control", id="delete"),
    pytest.param("/pod/%zz", "percent-encoding", id="bad-percent"),
    pytest.param("/pod/abc%2", "percent-encoding", id="truncated-percent"),
    pytest.param("/pod/abc%", "percent-encoding", id="lone-percent"),
    pytest.param("/pod/%ff", "UTF-8", id="invalid-utf8"),
    pytest.param(f"/pod/%c0%ae%c0%ae/{ESCAPE}", "UTF-8", id="overlong-utf8-dotdot"),
    pytest.param("/pod/" + "a" * 300, "longer than", id="segment-300-bytes"),
    pytest.param("/pod/" + "%C3%A9" * 101, "longer than", id="segment-202-utf8-bytes"),
    pytest.param("/pod/" + ("b" * 150 + "/") * 15 + "x", "longer than", id="path-over-2048-bytes"),
    pytest.param("/pod/" + "d/" * 99 + "x", "deeper", id="depth-100"),
    pytest.param("/pod/" + "d/" * 100, "deeper", id="depth-100-container"),
    pytest.param("/pod//x", "empty", id="empty-segment"),
    pytest.param("/pod/box//", "empty", id="empty-segment-container"),
    pytest.param("/pod/.kluis~meta~blob.bin", "reserved", id="layout-sidecar"),
    pytest.param("/pod/.kluis~meta~x", "reserved", id="layout-sidecar-missing"),
    pytest.param("/pod/box/.kluis~self.ttl", "reserved", id="layout-container-body"),
    pytest.param("/pod/.kluis~self.json", "reserved", id="layout-container-attrs"),
    pytest.param("/pod/.kluis~tmp~0123456789abcdef", "reserved", id="layout-tmp"),
    pytest.param("/pod/%2Ekluis~self.ttl", "reserved", id="layout-encoded-dot"),
    pytest.param("/.kluis/x", "reserved", id="server-endpoint-prefix"),
    pytest.param("/pod/.kluis", "reserved", id="kluis-name"),
    pytest.param("/pod/.kluisfoo/", "reserved", id="kluis-prefix-container"),
    pytest.param("/pod/box/.well-known/x", "reserved", id="well-known-nested"),
    pytest.param("/pod/box/.well-known/solid", "well-known", id="well-known-solid-nested"),
    pytest.param("/pod/.well-known/", "reserved", id="well-known-container"),
    pytest.param("/pod/.well-known/x", "reserved", id="well-known-other"),
    pytest.param("/pod/box/%2Ewell-known/solid", "reserved", id="well-known-encoded"),
]
HOSTILE_METHODS = {
    "GET": (b"", None),
    "PUT": (VALID_TTL, TURTLE),
    "POST": (b"plain text", "text/plain"),
    "PATCH": (VALID_N3_PATCH, N3),
    "DELETE": (b"", None),
}


@pytest.mark.parametrize(("target", "detail"), HOSTILE_PATHS)
async def test_hostile_path_is_400_for_every_method(pod: Pod, target: str, detail: str) -> None:
    # A path that cannot be mapped safely gets 400, whatever the method. One test
    # per path tries every method (a fresh pod per method would multiply the run time by five)
    # and reports every method that went wrong, not just the first.
    wrong: list[str] = []
    for method, (body, media) in HOSTILE_METHODS.items():
        r = await send_raw(
            pod.client,
            method,
            target,
            body=body,
            headers={} if media is None else {"Content-Type": media},
        )
        try:
            check_problem(r.status, r.headers, r.body, expected=400, details=(detail,))
            await pod.assert_unchanged()
        except AssertionError as exc:
            wrong.append(f"{method} {target[:80]}: {exc}")
    assert not wrong, "\n".join(wrong)


async def test_absolute_form_target_cannot_escape(pod: Pod) -> None:
    for method, (body, media) in HOSTILE_METHODS.items():
        r = await send_raw(
            pod.client,
            method,
            f"http://pod.example/pod/../{ESCAPE}",
            body=body,
            headers={} if media is None else {"Content-Type": media},
        )
        assert r.status == 400, (method, r.status, r.body)
        await pod.assert_unchanged()


async def test_an_authenticated_absolute_form_request_is_served(pod: Pod) -> None:
    """Issue 10 item 15: RFC 9112 §3.2.2 absolute-form targets of signed requests answered 500
    (the proof's URL was built from the whole target)."""
    r = await send_raw(pod.client, "GET", f"http://pod.example{DOC}?x=1")
    assert r.status == 200, r.body
    assert r.body == (await (await pod.client.get(DOC)).read())
    r = await send_raw(
        pod.client, "HEAD", "http://pod.example" + DOC, headers={"Accept": "text/turtle"}
    )
    assert r.status == 200
    await pod.assert_unchanged()


async def test_head_and_options_on_hostile_paths_are_400(pod: Pod) -> None:
    for target in (f"/pod/../{ESCAPE}", "/pod/a%2Fb", "/pod/.kluis~self.json", "/pod/%ff"):
        for method in ("HEAD", "OPTIONS"):
            r = await send_raw(pod.client, method, target)
            assert r.status == 400, (method, target, r.status)
    await pod.assert_unchanged()


# --- 8. N3 Patch and SPARQL Update: 422 for broken patches, 409 when they do not fit ----------

N3_STRUCTURAL = [
    pytest.param(PREFIXES + b"<#a> ex:p 1 .", ("exactly one", "found 0"), id="no-patch-resource"),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:inserts { <#a> ex:p 1 } .\n"
        b"_:y a solid:InsertDeletePatch ; solid:inserts { <#a> ex:p 2 } .",
        ("exactly one", "found 2"),
        id="two-patch-resources",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:where { ?a ex:p ?b }, { ?a ex:q ?b } ;"
        b" solid:inserts { ?a ex:r 1 } .",
        ("more than one solid:where",),
        id="two-where",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:inserts { <#a> ex:p 1 }, "
        b"{ <#a> ex:p 2 } .",
        ("more than one solid:inserts",),
        id="two-inserts",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:inserts { _:b ex:p 1 } .",
        ("blank node",),
        id="insert-blank-node",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:inserts { <#a> ex:p [ ex:q 1 ] } .",
        ("blank node",),
        id="insert-anonymous-node",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:deletes { <#a> ex:p _:b } .",
        ("blank node",),
        id="delete-blank-node",
    ),
    pytest.param(
        PREFIXES + b'_:x a solid:InsertDeletePatch ; solid:deletes { ?x ex:p "one" } .',
        ("not bound", "?x"),
        id="delete-unbound-variable",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:where { ?a ex:name ?n } ;"
        b" solid:inserts { ?z ex:p 1 } .",
        ("not bound", "?z"),
        id="insert-unbound-variable",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:inserts { <#a> ex:p { <#c> ex:d 1 } } .",
        ("nested",),
        id="nested-formula",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:where { ?a ex:p { <#c> ex:d 1 } } ;"
        b" solid:inserts { ?a ex:r 1 } .",
        ("nested",),
        id="nested-formula-in-where",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:Patch ; solid:inserts { <#a> ex:p 1 } .",
        ("solid:InsertDeletePatch",),
        id="wrong-type",
    ),
    pytest.param(
        PREFIXES + b"_:x solid:inserts { <#a> ex:p 1 } .",
        ("solid:InsertDeletePatch",),
        id="no-type",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:inserts <#a> .",
        ("formula",),
        id="inserts-not-a-formula",
    ),
]


@pytest.mark.parametrize("target", [DOC, NEW_DEEP])
@pytest.mark.parametrize(("body", "details"), N3_STRUCTURAL)
async def test_n3_patch_breaking_the_rules_is_422(
    pod: Pod, target: str, body: bytes, details: tuple[str, ...]
) -> None:
    # Solid Protocol #server-patch-n3-invalid
    r = await send(pod.client, "PATCH", target, body=body, content_type=N3)
    await expect_problem(r, 422, *details)
    await pod.assert_unchanged()


N3_SEMANTIC = [
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:where { ?a ex:missing ?b } ;"
        b" solid:inserts { ?a ex:r 1 } .",
        ("no",),
        id="where-matches-nothing",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:where { ?a ex:p ?v } ;"
        b" solid:inserts { ?a ex:r ?v } .",
        ("more than one",),
        id="where-matches-two",
    ),
    pytest.param(
        PREFIXES + b'_:x a solid:InsertDeletePatch ; solid:deletes { <#a> ex:p "three" } ;'
        b' solid:inserts { <#a> ex:p "four" } .',
        ("cannot delete",),
        id="delete-missing-triple",
    ),
    pytest.param(
        PREFIXES + b'_:x a solid:InsertDeletePatch ; solid:deletes { <#a> ex:p "one", "three" } .',
        ("cannot delete",),
        id="delete-one-present-one-missing",
    ),
    pytest.param(
        PREFIXES + b"_:x a solid:InsertDeletePatch ; solid:where { ?a ex:name ?n } ;"
        b' solid:deletes { ?a ex:name "Other"@en } .',
        ("cannot delete",),
        id="delete-bound-missing-triple",
    ),
]


@pytest.mark.parametrize(("body", "details"), N3_SEMANTIC)
async def test_n3_patch_that_does_not_fit_is_409(
    pod: Pod, body: bytes, details: tuple[str, ...]
) -> None:
    # Solid Protocol #server-patch-n3-semantics: exactly one binding; deletes must exist.
    r = await send(pod.client, "PATCH", DOC, body=body, content_type=N3)
    await expect_problem(r, 409, *details)
    await pod.assert_unchanged()


async def test_n3_patch_with_where_on_missing_resource_is_409_and_creates_nothing(
    pod: Pod,
) -> None:
    body = N3_SEMANTIC[0].values[0]
    assert isinstance(body, bytes)
    r = await send(pod.client, "PATCH", NEW_DEEP, body=body, content_type=N3)
    await expect_problem(r, 409, "no")
    await pod.assert_unchanged()


SPARQL_UNSUPPORTED = [
    pytest.param(b"LOAD <http://example.org/data.ttl>", "Load", id="load"),
    pytest.param(b"LOAD <file:///etc/passwd> INTO GRAPH <http://e/g>", "Load", id="load-into"),
    pytest.param(b"CLEAR DEFAULT", "Clear", id="clear-default"),
    pytest.param(b"CLEAR ALL", "Clear", id="clear-all"),
    pytest.param(b"DROP ALL", "Drop", id="drop-all"),
    pytest.param(b"DROP GRAPH <http://example.org/g>", "Drop", id="drop-graph"),
    pytest.param(b"CREATE GRAPH <http://example.org/g>", "Create", id="create"),
    pytest.param(b"COPY DEFAULT TO <http://example.org/g>", "Copy", id="copy"),
    pytest.param(b"MOVE DEFAULT TO <http://example.org/g>", "Move", id="move"),
    pytest.param(b"ADD DEFAULT TO <http://example.org/g>", "Add", id="add"),
    pytest.param(
        SPARQL_PREFIXES + b"INSERT DATA { GRAPH <http://example.org/g> { <#a> ex:p 1 } }",
        "GRAPH",
        id="graph-insert-data",
    ),
    pytest.param(
        SPARQL_PREFIXES + b'DELETE DATA { GRAPH <http://example.org/g> { <#a> ex:p "one" } }',
        "GRAPH",
        id="graph-delete-data",
    ),
    pytest.param(
        SPARQL_PREFIXES
        + b"INSERT { GRAPH <http://example.org/g> { ?s ex:p ?o } } WHERE { ?s ex:p ?o }",
        "GRAPH",
        id="graph-template",
    ),
    pytest.param(
        SPARQL_PREFIXES + b"DELETE { ?s ex:p ?o } WHERE { GRAPH <http://example.org/g> "
        b"{ ?s ex:p ?o } }",
        "GRAPH",
        id="graph-in-where",
    ),
    pytest.param(
        SPARQL_PREFIXES
        + b"DELETE { ?s ex:p ?o } WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ex:p ?o } }",
        "SERVICE",
        id="service",
    ),
    pytest.param(
        SPARQL_PREFIXES + b"DELETE { ?s ex:p ?o } WHERE { { SELECT ?s ?o WHERE "
        b"{ SERVICE <http://127.0.0.1:9/sparql> { ?s ex:p ?o } } } }",
        "SELECT",  # refused at the subquery, before its SERVICE
        id="service-in-subquery",
    ),
    pytest.param(
        b"DELETE { ?s ?p ?o } WHERE " + b"{ " * 20 + b"?s ?p ?o" + b" }" * 20,
        "nested group",
        id="groups",
    ),
    pytest.param(
        SPARQL_PREFIXES + b"WITH <http://example.org/g> DELETE { ?s ex:p ?o } WHERE { ?s ex:p ?o }",
        "WITH",
        id="with",
    ),
    pytest.param(
        SPARQL_PREFIXES
        + b"DELETE { ?s ex:p ?o } USING <http://example.org/g> WHERE { ?s ex:p ?o }",
        "USING",
        id="using",
    ),
    pytest.param(
        SPARQL_PREFIXES + b'INSERT DATA { <#a> ex:p "x" } ; DROP ALL',
        "Drop",
        id="valid-then-drop",
    ),
]


@pytest.mark.parametrize("target", [DOC, BOX])
@pytest.mark.parametrize(("body", "detail"), SPARQL_UNSUPPORTED)
async def test_unsupported_sparql_update_is_422(
    pod: Pod, target: str, body: bytes, detail: str
) -> None:
    r = await send(pod.client, "PATCH", target, body=body, content_type=SPARQL)
    await expect_problem(r, 422, detail)
    await pod.assert_unchanged()


# --- 9. containers, storage roots and methods (409, 405, 404) ---------------------------------

BOX_URL = url(BOX).encode()
CONTAINS_CHILD = b"<" + BOX_URL + b"> ldp:contains <" + url(CHILD).encode() + b">"
CONTAINS_GHOST = b"<" + BOX_URL + b"> ldp:contains <" + url(BOX + "ghost").encode() + b">"
BASIC_CONTAINER = '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"'


@dataclass(frozen=True, slots=True)
class Case:
    method: str
    target: str
    status: int
    details: tuple[str, ...]
    body: bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


CONFLICTS = [
    pytest.param(
        Case(
            "PUT",
            BOX,
            409,
            ("ldp:contains", "child"),
            PREFIXES + b"<> ldp:contains <child> .",
            TURTLE,
        ),
        id="put-containment-to-container",
    ),
    pytest.param(
        Case(
            "PUT",
            POD,
            409,
            ("storage types", "Storage"),
            b"<> a <http://www.w3.org/ns/pim/space#Storage> .",
            TURTLE,
        ),
        id="put-storage-type-to-storage-root",
    ),
    pytest.param(Case("PUT", DOC + "/", 409, ("exists",), b""), id="put-container-twin-of-doc"),
    pytest.param(
        Case("PUT", POD + "box", 409, ("exists",), VALID_TTL, TURTLE),
        id="put-doc-twin-of-container",
    ),
    pytest.param(
        Case("PUT", DOC + "/inside", 409, ("not a container",), VALID_TTL, TURTLE),
        id="put-below-a-document",
    ),
    pytest.param(
        Case(
            "PATCH",
            BOX,
            409,
            ("containment",),
            SPARQL_PREFIXES + b"DELETE DATA { " + CONTAINS_CHILD + b" }",
            SPARQL,
        ),
        id="sparql-delete-contains",
    ),
    pytest.param(
        Case(
            "PATCH",
            BOX,
            409,
            ("ldp:contains",),
            SPARQL_PREFIXES + b"INSERT DATA { " + CONTAINS_GHOST + b" }",
            SPARQL,
        ),
        id="sparql-insert-contains",
    ),
    pytest.param(
        Case(
            "PATCH",
            BOX,
            409,
            ("containment",),
            PREFIXES
            + b"_:x a solid:InsertDeletePatch ; solid:deletes { "
            + CONTAINS_CHILD
            + b" } .",
            N3,
        ),
        id="n3-delete-contains",
    ),
    pytest.param(
        Case(
            "PATCH",
            BOX,
            409,
            ("ldp:contains",),
            PREFIXES
            + b"_:x a solid:InsertDeletePatch ; solid:inserts { "
            + CONTAINS_GHOST
            + b" } .",
            N3,
        ),
        id="n3-insert-contains",
    ),
    pytest.param(
        Case(
            "PATCH",
            BOX,
            409,
            ("containment",),
            SPARQL_PREFIXES + b"DELETE WHERE { ?c ldp:contains ?x }",
            SPARQL,
        ),
        id="sparql-delete-where-contains",
    ),
    pytest.param(
        Case(
            "POST",
            BOX,
            409,
            ("ldp:contains",),
            PREFIXES + b"<> ldp:contains <ghost> .",
            TURTLE,
            (("Link", BASIC_CONTAINER),),
        ),
        id="post-container-with-contains",
    ),
    pytest.param(Case("DELETE", BOX, 409, ("not empty",)), id="delete-non-empty-container"),
]


METHOD_ERRORS = [
    pytest.param(Case("DELETE", POD, 405, ("storage root",)), id="delete-storage-root"),
    pytest.param(Case("DELETE", POD_ACL, 405, ("ACL",)), id="delete-storage-root-acl"),
    pytest.param(Case("POST", DOC, 405, ("container",), VALID_TTL, TURTLE), id="post-to-document"),
    pytest.param(Case("POST", BLOB, 405, ("container",), b"x", "text/plain"), id="post-to-non-rdf"),
    pytest.param(
        Case("POST", POD + "nope/", 404, ("does not exist",), VALID_TTL, TURTLE),
        id="post-to-missing-container",
    ),
    pytest.param(
        Case("POST", POD + "nope", 404, ("does not exist",), VALID_TTL, TURTLE),
        id="post-to-missing-resource",
    ),
    pytest.param(
        Case("POST", POD + "nope/deeper/", 404, ("does not exist",), VALID_TTL, TURTLE),
        id="post-to-missing-nested-container",
    ),
]

CONDITIONALS = [
    pytest.param(
        Case("PUT", DOC, 412, ("If-Match",), VALID_TTL, TURTLE, (("If-Match", '"nope"'),)),
        id="put-if-match",
    ),
    pytest.param(
        Case("PUT", BLOB, 412, ("If-Match",), b"new", BLOB_TYPE, (("If-Match", '"nope"'),)),
        id="put-blob-if-match",
    ),
    pytest.param(
        Case("PUT", NEW_DEEP, 412, ("If-Match",), VALID_TTL, TURTLE, (("If-Match", '"nope"'),)),
        id="put-missing-if-match",
    ),
    pytest.param(
        Case("PUT", NEW_DEEP, 412, ("If-Match",), VALID_TTL, TURTLE, (("If-Match", "*"),)),
        id="put-missing-if-match-star",
    ),
    pytest.param(
        Case("PATCH", DOC, 412, ("If-Match",), VALID_N3_PATCH, N3, (("If-Match", '"nope"'),)),
        id="patch-if-match",
    ),
    pytest.param(
        Case("PATCH", BOX, 412, ("If-Match",), VALID_N3_PATCH, N3, (("If-Match", '"nope"'),)),
        id="patch-container-if-match",
    ),
    pytest.param(
        Case("DELETE", DOC, 412, ("If-Match",), None, None, (("If-Match", '"nope"'),)),
        id="delete-if-match",
    ),
    pytest.param(
        Case("DELETE", CHILD, 412, ("If-Match",), None, None, (("If-Match", '"a", "b"'),)),
        id="delete-if-match-list",
    ),
    pytest.param(
        Case("PUT", DOC, 412, ("If-None-Match",), VALID_TTL, TURTLE, (("If-None-Match", "*"),)),
        id="put-if-none-match-star",
    ),
    pytest.param(
        Case("PUT", BOX, 412, ("If-None-Match",), b"", None, (("If-None-Match", "*"),)),
        id="put-container-if-none-match-star",
    ),
    pytest.param(
        Case("PATCH", DOC, 412, ("If-None-Match",), VALID_N3_PATCH, N3, (("If-None-Match", "*"),)),
        id="patch-if-none-match-star",
    ),
    pytest.param(
        Case(
            "PUT",
            DOC,
            412,
            ("If-Unmodified-Since",),
            VALID_TTL,
            TURTLE,
            (("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"),),
        ),
        id="put-if-unmodified-since",
    ),
    pytest.param(
        Case(
            "DELETE",
            DOC,
            412,
            ("If-Unmodified-Since",),
            None,
            None,
            (("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"),),
        ),
        id="delete-if-unmodified-since",
    ),
]


async def _run_case(pod: Pod, case: Case) -> ClientResponse:
    r: ClientResponse = await send(
        pod.client,
        case.method,
        case.target,
        body=case.body,
        content_type=case.content_type,
        headers=dict(case.headers),
    )
    await expect_problem(r, case.status, *case.details)
    return r


@pytest.mark.parametrize("case", CONFLICTS)
async def test_conflicting_write_is_409(pod: Pod, case: Case) -> None:
    await _run_case(pod, case)
    await pod.assert_unchanged()


@pytest.mark.parametrize("case", METHOD_ERRORS)
async def test_method_not_allowed_or_missing_target(pod: Pod, case: Case) -> None:
    r = await _run_case(pod, case)
    if case.status == 405:
        allow = {m.strip() for m in r.headers.get("Allow", "").split(",")}
        assert "GET" in allow, allow
        assert case.method not in allow, allow
    await pod.assert_unchanged()


async def test_storage_root_answers_without_delete_in_allow(pod: Pod) -> None:
    # Solid Protocol #server-delete-protect-root-container: DELETE is left out of Allow there.
    for path in (POD, POD_ACL):
        for method in ("GET", "HEAD", "OPTIONS"):
            r = await pod.client.request(method, path)
            assert r.status in (200, 204), (method, path, r.status)
            allow = {m.strip() for m in r.headers.get("Allow", "").split(",")}
            assert "DELETE" not in allow, (method, path, allow)


@pytest.mark.parametrize("case", CONDITIONALS)
async def test_failed_precondition_is_412(pod: Pod, case: Case) -> None:
    await _run_case(pod, case)
    await pod.assert_unchanged()


# --- 10. ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "byte_range", ["bytes=2048-", "bytes=5000-", "bytes=2048-4000", "bytes=99999999999999999999-"]
)
async def test_range_beyond_the_end_is_416(pod: Pod, byte_range: str) -> None:
    r = await pod.client.get(BLOB, headers={"Range": byte_range})
    await expect_problem(r, 416, "range")
    assert r.headers.get("Content-Range") == f"bytes */{len(BLOB_BYTES)}"
    await pod.assert_unchanged()


# --- 11. garbage headers: ignored or 4xx, never 500 -------------------------------------------


def _status_ok(status: int, allowed: Sequence[int]) -> None:
    assert status < 500, f"garbage header caused {status}"
    assert status in allowed, f"status {status} not in {allowed}"


@pytest.mark.parametrize(
    "accept",
    [
        pytest.param("," * 4000, id="4000-commas"),
        pytest.param("," * 10_000, id="10000-commas"),
        pytest.param("text/turtle;q=abc", id="q-not-a-number"),
        pytest.param("text/turtle;q=", id="q-empty"),
        pytest.param("*/*;q=NaN", id="q-nan"),
        pytest.param("*/*;q=inf", id="q-inf"),
        pytest.param("*/*;q=-1", id="q-negative"),
        pytest.param("*/*;q=1e400", id="q-huge"),
        pytest.param(";;;;;;", id="only-semicolons"),
        pytest.param("/", id="bare-slash"),
        pytest.param("*/html", id="star-subtype"),
        pytest.param("a/b/c/d", id="many-slashes"),
        pytest.param("text/turtle;" + "x=y;" * 1500, id="many-params"),
        pytest.param(
            ", ".join(f"type{i}/sub{i};q=0.{i % 10}" for i in range(500)), id="500-ranges"
        ),
        pytest.param("text/turtle;q=0", id="turtle-refused"),
        pytest.param("*/*;q=0", id="everything-refused"),
        pytest.param("\t \t", id="whitespace"),
    ],
)
async def test_garbage_accept_is_ignored_or_4xx(pod: Pod, accept: str) -> None:
    for target in (DOC, BLOB, BOX):
        r = await pod.client.get(target, headers={"Accept": accept})
        _status_ok(r.status, (200, 400, 406, 431))
    await pod.assert_unchanged()


@pytest.mark.parametrize(
    "byte_range",
    [
        "bytes=abc",
        "bytes=5-1",
        "bytes=0-1,2-3",
        "bytes=-",
        "bytes=",
        "chars=0-5",
        "bytes=0-1," * 2000,
        "bytes=--5",
        "bytes=-99999999999999999999",
        "bytes=1-99999999999999999999",
    ],
)
async def test_garbage_range_is_ignored_or_4xx(pod: Pod, byte_range: str) -> None:
    for target in (BLOB, DOC, BOX):
        r = await pod.client.get(target, headers={"Range": byte_range})
        _status_ok(r.status, (200, 206, 400, 416, 431))
        if r.status == 206:
            assert target == BLOB, "a range of an RDF representation"
            assert r.headers["Content-Range"].startswith("bytes ")
    await pod.assert_unchanged()


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        '"unterminated',
        "W/",
        ",,,,",
        '"a" "b"',
        "*, *",
        '"' + "e" * 7000 + '"',
        ", ".join(f'"{i}"' for i in range(1000)),
    ],
)
@pytest.mark.parametrize("header", ["If-Match", "If-None-Match"])
async def test_garbage_etag_conditions_never_500(pod: Pod, header: str, value: str) -> None:
    r = await pod.client.get(DOC, headers={header: value})
    _status_ok(r.status, (200, 304, 400, 412, 431))
    r = await send(pod.client, "DELETE", CHILD, headers={header: value})
    _status_ok(r.status, (204, 400, 412, 431))
    if r.status != 204:
        await pod.assert_unchanged()


async def test_garbage_if_match_on_writes_changes_nothing(pod: Pod) -> None:
    for value in ("garbage", '"unterminated', ",,,,", "W/", '"' + "e" * 7000 + '"'):
        r = await send(
            pod.client, "PUT", DOC, body=VALID_TTL, content_type=TURTLE, headers={"If-Match": value}
        )
        _status_ok(r.status, (400, 412, 431))
        r = await send(
            pod.client,
            "PATCH",
            DOC,
            body=VALID_N3_PATCH,
            content_type=N3,
            headers={"If-Match": value},
        )
        _status_ok(r.status, (400, 412, 431))
        await pod.assert_unchanged()


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "Mon, 99 Foo 99999 99:99:99 GMT",
        "Mon, 01 Jan 0000 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Sat, 01 Jan 10000 00:00:00 GMT",
        "-1",
        "99999999999999999999",
        "",
    ],
)
@pytest.mark.parametrize("header", ["If-Modified-Since", "If-Unmodified-Since"])
async def test_garbage_dates_never_500(pod: Pod, header: str, value: str) -> None:
    for target in (DOC, BLOB, BOX):
        r = await pod.client.get(target, headers={header: value})
        _status_ok(r.status, (200, 304, 400, 412))
    await pod.assert_unchanged()
    r = await send(
        pod.client,
        "PUT",
        POD + "scratch",
        body=b"x",
        content_type="text/plain",
        headers={header: value},
    )
    _status_ok(r.status, (201, 400, 412))


@pytest.mark.parametrize(
    "link",
    [
        "<",
        ">",
        "<>",
        "<>; rel=",
        ";;;,,,",
        '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type',
        '<http://www.w3.org/ns/ldp#BasicContainer; rel="type"',
        'rel="type"',
        '"' * 200,
        "<a>, " * 1500,
        "<" + "x" * 7000 + ">; rel=type",
        '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type\\',
    ],
)
async def test_garbage_link_on_post_is_ignored_or_4xx(pod: Pod, link: str) -> None:
    r = await send(
        pod.client, "POST", BOX, body=b"hello", content_type="text/plain", headers={"Link": link}
    )
    # An unterminated quote may still be read as rel="type" (then a text body for a container
    # is 415); either way, never a 5xx and never anything outside the container.
    _status_ok(r.status, (201, 400, 415, 431))
    if r.status == 201:
        location = r.headers["Location"]
        assert location.startswith(url(BOX)), location
        name = location[len(url(BOX)) :]
        assert name, location
        assert "/" not in name.rstrip("/"), location
        got = await pod.client.get(location[len(url("")) :])
        assert got.status == 200


SLUGS = [
    pytest.param("../../x", id="dotdot-slash"),
    pytest.param("..", id="dotdot"),
    pytest.param(".", id="dot"),
    pytest.param("%2e%2e", id="pct-dotdot"),
    pytest.param("%2e%2e%2f%2e%2e%2fescaped", id="pct-dotdot-slash"),
    pytest.param("..\\..\\x", id="backslashes"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("a%2Fb", id="encoded-slash"),
    pytest.param("%ff", id="invalid-utf8"),
    pytest.param("%zz", id="bad-percent"),
    pytest.param("%00", id="nul"),
    pytest.param("a%0ab", id="newline"),
    pytest.param("x" * 1000, id="1000-chars"),
    pytest.param("%C3%A9" * 300, id="long-utf8"),
    pytest.param("x.acl", id="acl"),
    pytest.param("x.meta", id="meta"),
    pytest.param(".acl", id="bare-acl"),
    pytest.param("x.acl ", id="acl-trailing-space"),
    pytest.param("x.acl%00", id="acl-nul"),
    pytest.param("x.acl/", id="acl-slash"),
    pytest.param(".kluis~self.ttl", id="layout-name"),
    pytest.param(".kluis~meta~child", id="layout-sidecar"),
    pytest.param(".well-known", id="well-known"),
    pytest.param("child", id="existing-child"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="spaces"),
    pytest.param("?#", id="query-fragment"),
]


@pytest.mark.parametrize("as_container", [False, True], ids=["resource", "container"])
@pytest.mark.parametrize("slug", SLUGS)
async def test_hostile_slug_creates_one_safe_child(pod: Pod, slug: str, as_container: bool) -> None:
    headers = {"Slug": slug}
    if as_container:
        headers["Link"] = BASIC_CONTAINER
    body, media = (b"", None) if as_container else (b"hello", "text/plain")
    before = await pod.snapshot()
    r = await send(pod.client, "POST", BOX, body=body, content_type=media, headers=headers)
    _status_ok(r.status, (201, 400))
    if r.status != 201:
        await expect_problem(r, 400)
        await pod.assert_unchanged()
        return
    location = r.headers["Location"]
    assert location.startswith(url(BOX)), location
    name = location[len(url(BOX)) :]
    if as_container:
        assert name.endswith("/"), location
        name = name[:-1]
    assert name, location
    assert "/" not in name, location
    assert not name.endswith((".acl", ".meta")), f"a Slug created an auxiliary resource: {name}"
    assert not name.startswith((".kluis", "%2E", "%2e")), name
    assert name not in (".", "..", ".well-known"), name
    got = await pod.client.get(location[len(url("")) :])
    assert got.status == 200
    if not as_container:
        assert await got.read() == b"hello"
    # The existing child and everything else seeded is untouched.
    after = await pod.snapshot()
    for path in (DOC, BLOB, CHILD, POD_ACL, DOC_META):
        assert after.resources[path] == before.resources[path], path
    # On disk, everything new lives directly in the container's directory.
    box_dir = str((pod.data_dir / "pod" / "box").relative_to(pod.tmp_path))
    for new in pod.new_files(before, after) | (after.dirs - before.dirs):
        assert str(Path(new).parent) == box_dir or str(Path(new).parent.parent) == box_dir, new
    if pod.backend_kind == "fs":
        assert pod.new_files(before, after) or (after.dirs - before.dirs)
    assert_nothing_escaped(pod.data_dir)
