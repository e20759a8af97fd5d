"""Exporting a pod (GDPR Art. 20(1): "structured, commonly used and machine-readable"; Art. 15(3):
a copy): one streamed archive (`pod.rights.archive`). Imports idp, accounts, vault, ldp, storage.

Members, in order:
1. `kluis-export.json`: format, version, base URL, pod root, WebID, time, and the file and
   byte counts of a first walk (for a progress bar).
2. `account.json`, allow-listed: e-mail, created, WebIDs, the public half of client
   credentials, connected apps, quota and log retention. Never a password hash, a secret or its
   hash, a session, an API or refresh token, a code or a key: nothing is copied from a record
   wholesale, so a field added to one later is not exported by accident.
3. `pod/<path in the pod>` for every resource, `.acl`, `.meta` and `consent/` included (grants
   with their history, requests, refusals, choices), byte for byte, its media type in the pax
   header `KLUIS.type`. A container's own description is `pod/<c>/.kluis~container.ttl`
   (`.kluis` names are reserved by `pod.paths`, so no resource can have that name), written
   before what the container holds, so an import creates it first.
4. `log/<day>.jsonl`: the owner's access log (`pod.vault.disclosures`), one record a line.
5. `pod.trig`: every RDF document and every container (with its `ldp:contains`) as a graph
   named by its URL, for researchers and other tools; spooled to a temporary file during the
   walk, since a tar header needs the size.
6. `manifest.json`, last: path, size, type and sha256 of every member.

The walk reads the Backend under `SolidRules`, not the store: `CachedListings` would keep every
listing and `FileBackend.read` keeps small files, which an export reads once each. Bytes are
streamed (`StreamingBackend.stream`), so memory holds one chunk, one container's listing, one
RDF document while it becomes TriG, the zlib state and the manifest rows. Each file is
consistent on its own ("consistency": "per-file"), not the pod as a whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, final

import pyoxigraph as ox

from pod import __version__, paths
from pod.accounts.service import Account, AccountService
from pod.errors import InvalidRdf, NotFound, PodError, TooManyRequests
from pod.idp.provider import Provider
from pod.ldp import rdf
from pod.ldp.quotas import Quotas
from pod.ldp.resources import ResourceStore, layer
from pod.ldp.rules import SolidRules
from pod.model import Metadata
from pod.rights.archive import ArchiveWriter, Sink
from pod.storage.base import Backend, chunks_of
from pod.vault.disclosures import DisclosureLog, key_of
from pod.vocab import LDP, PIM, RDF

INFO: Final = "kluis-export.json"
ACCOUNT: Final = "account.json"
POD: Final = "pod/"
LOG: Final = "log/"
TRIG: Final = "pod.trig"
CONTAINER: Final = ".kluis~container.ttl"  # a container's own description
_SPOOL_CHUNK: Final = 1024 * 1024
_A: Final = ox.NamedNode(str(RDF.type))
_CONTAINS: Final = ox.NamedNode(str(LDP.contains))
_CONTAINER_TYPES: Final = (ox.NamedNode(str(LDP.Container)), ox.NamedNode(str(LDP.BasicContainer)))
_STORAGE: Final = ox.NamedNode(str(PIM.Storage))


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@final
@dataclass(frozen=True, slots=True)
class Sources:
    """Where an export reads from, and how it writes: the app's components."""

    store: ResourceStore
    accounts: AccountService
    provider: Provider
    quotas: Quotas
    disclosures: DisclosureLog | None
    tmp_dir: Path | None  # where pod.trig is spooled; None: the system's temporary directory
    level: int = 3  # zlib compression level


@final
class Exports:
    """Exports and imports under way: one per pod and one per account, `limit` per server (an
    export keeps a connection, a zlib state and a share of the CPU for as long as its client
    reads; an import must not meet another into the same pod, nor an export of it; one
    account must not take every slot)."""

    def __init__(self, limit: int = 2) -> None:
        self.limit = limit
        self._roots: set[str] = set()
        self._accounts: set[str] = set()

    @contextlib.contextmanager
    def running(self, root: str, *, account: str) -> Iterator[None]:
        """Count an export or import of `root` by `account` while the block runs. Raises
        TooManyRequests."""
        if root in self._roots:
            raise TooManyRequests(
                "this pod is being exported or imported already; try again when that is done",
                retry_after=60,
            )
        if account in self._accounts:
            raise TooManyRequests(
                "this account is exporting or importing a pod already; try again when that is done",
                retry_after=60,
            )
        if len(self._roots) >= self.limit:
            raise TooManyRequests(
                "the server is exporting or importing other pods; try again in a minute",
                retry_after=60,
            )
        self._roots.add(root)
        self._accounts.add(account)
        try:
            yield
        finally:
            self._roots.discard(root)
            self._accounts.discard(account)


def member_of(root: str, path: str) -> str:
    """The archive member of resource `path` in the pod at `root`."""
    relative = path[len(root) :]
    if paths.is_container(path):
        return POD + relative + CONTAINER
    return POD + relative


def backend_of(store: ResourceStore) -> Backend:
    """The Backend below the Solid rules, under every cache of the store."""
    return layer(store, SolidRules).backend


def owned_root(account: Account, name: str) -> str:
    """The root of `account`'s pod `name`. Raises NotFound when it has none of that name."""
    if name not in account.pods:
        raise NotFound(f"this account has no pod named {name!r}")
    return f"/{name}/"


async def walk(backend: Backend, root: str) -> AsyncIterator[tuple[Metadata, list[Metadata]]]:
    """Every container under `root` (itself first) with what it holds: each before what it
    holds, and in each, a resource before its `.acl` and `.meta`. Depth first, so only the
    listings of the containers on the way down are held."""
    top = await backend.stat(root)
    if top is None:
        raise NotFound(f"{root} does not exist")
    pending: list[Metadata] = [top]
    while pending:
        container = pending.pop()
        try:
            children = await backend.children(container.path)
        except NotFound:
            continue  # deleted during the export
        children.sort(key=_order)
        yield container, children
        pending.extend(reversed([c for c in children if c.is_container]))


def _order(meta: Metadata) -> tuple[str, bool]:
    path = meta.path
    if paths.is_auxiliary(path):
        try:
            return paths.subject_of(path), True
        except PodError:  # `a.acl.acl`, placed by hand
            return path, True
    return path, False


async def measure(backend: Backend, root: str) -> tuple[int, int]:
    """Files and bytes in the pod at `root`, from metadata alone (the progress bar's total)."""
    files = size = 0
    async for container, children in walk(backend, root):
        files += 1
        size += container.size
        for child in children:
            if not child.is_container:
                files += 1
                size += child.size
    return files, size


async def export_pod(
    sources: Sources,
    account: Account,
    name: str,
    sink: Sink,
    *,
    counted: tuple[int, int] | None = None,
) -> ArchiveWriter:
    """Write the archive of `account`'s pod `name` to `sink`; `counted` is what `measure`
    gave, if the caller measured already. Raises NotFound for a pod the account does not
    have. Returns the writer (its entries say what was written)."""
    store = sources.store
    root = owned_root(account, name)
    backend = backend_of(store)
    files, size = counted or await measure(backend, root)
    webid = store.storages.owner(root)
    info = {
        "format": "kluis-export/1",
        "version": __version__,
        "baseUrl": store.base_url + "/",
        "name": name,
        "root": store.url(root),
        "webId": webid,
        "exported": iso(time.time()),
        "files": files,
        "bytes": size,
        "consistency": "per-file",
    }
    writer = ArchiveWriter(sink, level=sources.level, meta={"export": info})
    await writer.add_bytes(INFO, _json(info), media_type="application/json")
    await writer.add_bytes(
        ACCOUNT, _json(await _account(sources, account, root)), media_type="application/json"
    )
    with _spool(sources.tmp_dir) as trig:
        async for container, children in walk(backend, root):
            await _add_resource(sources, writer, root, container, trig, children=children)
            for child in children:
                if not child.is_container:
                    await _add_resource(sources, writer, root, child, trig)
        await _add_log(sources, writer, root)
        spooled = trig.tell()
        trig.seek(0)
        await writer.add(TRIG, spooled, _read_spool(trig), media_type=rdf.TRIG)
    await writer.finish()
    return writer


async def _account(sources: Sources, account: Account, root: str) -> dict[str, Any]:
    """The account as the export shows it: an allow-list of fields, none of them a secret."""
    used, limit = await sources.quotas.usage(root)
    credentials = [
        {"clientId": c.id, "name": c.name, "webId": c.webid, "created": iso(c.created)}
        for c in await sources.accounts.credentials(account)
    ]
    apps = [
        {
            "clientId": str(a.get("client_id")),
            "clientName": str(a.get("client_name")),
            "webIds": [str(w) for w in a.get("webids", [])],
            "remembered": bool(a.get("remembered")),
            "staysConnected": bool(a.get("stays_connected")),
            "granted": iso(float(a.get("granted") or 0)),
        }
        for a in await sources.provider.connected_apps(account)
    ]
    disclosures = sources.disclosures
    return {
        "email": account.email,
        "created": iso(account.created),
        "pods": list(account.pods),
        "webIds": list(account.webids),
        "credentials": credentials,
        "connectedApps": apps,
        "quota": {"usedBytes": used, "limitBytes": limit},
        "accessLogDays": None if disclosures is None else disclosures.retention(root),
    }


async def _add_resource(
    sources: Sources,
    writer: ArchiveWriter,
    root: str,
    listed: Metadata,
    trig: IO[bytes],
    *,
    children: list[Metadata] | None = None,
) -> None:
    store = sources.store
    path = listed.path
    try:
        meta, chunks = await chunks_of(backend_of(store), path)
    except NotFound:
        return  # deleted since its container was listed: per-file consistency
    is_rdf = paths.is_container(path) or rdf.is_rdf_type(meta.content_type)
    # Only what the server would parse goes to pod.trig: a bigger file was placed by hand.
    small = meta.size <= layer(store, SolidRules).max_rdf_bytes
    kept: list[bytes] | None = [] if is_rdf and small else None
    media = rdf.TURTLE if paths.is_container(path) else meta.content_type
    await writer.add(
        member_of(root, path), meta.size, _tee(chunks, kept), media_type=media, mtime=meta.modified
    )
    if kept is None:
        return
    data = b"".join(kept)
    url = store.url(path)
    extra: list[ox.Triple] = []
    if children is not None:
        node = ox.NamedNode(url)
        extra = [ox.Triple(node, _A, t) for t in _CONTAINER_TYPES]
        if store.storages.is_root(path):
            extra.append(ox.Triple(node, _A, _STORAGE))
        extra += [
            ox.Triple(node, _CONTAINS, ox.NamedNode(store.url(c.path)))
            for c in children
            if not paths.is_auxiliary(c.path)
        ]
    await asyncio.to_thread(_add_graph, trig, data, media, url, extra)


async def _tee(chunks: AsyncIterator[bytes], kept: list[bytes] | None) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            if kept is not None:
                kept.append(chunk)
            yield chunk
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def _add_graph(trig: IO[bytes], data: bytes, media: str, url: str, extra: list[ox.Triple]) -> None:
    """Append the graph of one document to the spooled pod.trig (in the thread that made it:
    a document's TriG is as large as the document)."""
    block = _graph_block(data, media, url, extra)
    if block:
        trig.write(block)


def _graph_block(data: bytes, media: str, url: str, extra: list[ox.Triple]) -> bytes:
    """The TriG of one document as a graph named `url`; a document that does not parse (a
    file placed by hand) is left out of pod.trig, its bytes are in the archive anyway."""
    try:
        triples = rdf.parse(data, media, base=url).triples if data else []
    except InvalidRdf:
        triples = []
    triples += extra
    if not triples:
        return b""
    graph = ox.NamedNode(url)
    quads = [ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples]
    out = ox.serialize(quads, format=ox.RdfFormat.TRIG)
    return out or b""


async def _add_log(sources: Sources, writer: ArchiveWriter, root: str) -> None:
    disclosures = sources.disclosures
    if disclosures is None:
        return
    disclosures.flush_counts()  # anonymous reads counted so far belong in the copy
    journal = disclosures.journal
    key = key_of(root)

    def day_of_log(day: str) -> bytes:
        return b"".join(payload + b"\n" for payload in journal.read(key, day))

    for day in await asyncio.to_thread(journal.days, key):
        data = await asyncio.to_thread(day_of_log, day)
        await writer.add_bytes(f"{LOG}{day}.jsonl", data, media_type="application/jsonl")


@contextlib.contextmanager
def _spool(tmp_dir: Path | None) -> Iterator[IO[bytes]]:
    if tmp_dir is not None:
        tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=tmp_dir, prefix="export-") as f:
        yield f


async def _read_spool(file: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(file.read, _SPOOL_CHUNK):
        yield chunk


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=1, ensure_ascii=False).encode()
