"""Moving a data directory to another base URL (`kluis migrate`). Imports accounts, ldp, storage.

The documents the server writes itself name its resources with relative IRIs
(`pod.ldp.rdf.serialize_stored`), but the server's own state holds absolute URLs (accounts and
their WebIDs, client credentials, remembered consents, storage owners), and so do the documents
clients write (stored as sent, or as parsed in absolute IRIs: much cheaper to write). So the data
directory remembers the base URL it is served at; a server started with another one refuses to
start (`check_base_url`) until `kluis migrate` has rewritten every URL under the old base to the
new one, after a backup. Rewritten documents are stored relative. The base URL is the one
record of the KeyValueStore namespace `server`, owned here.

URLs inside literals (a "homepage" typed as text) and inside non-RDF files stay as they are: they
are data, not links the server resolves.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, final

import pyoxigraph as ox

from pod import paths
from pod.accounts.service import all_accounts
from pod.errors import InvalidRdf, NotFound
from pod.ldp import rdf
from pod.ldp.moving import renamed, renamer
from pod.storage.fs import FileBackend
from pod.storage.kv import FileKeyValueStore, KeyValueStore, Record
from pod.storage.records import Expiry, Records, declare

_KEY: Final = "base_url"


@final
@dataclass(frozen=True, slots=True)
class ServedAt:
    """The base URL a data directory is served at."""

    url: str

    def to_json(self) -> Record:
        return {"url": self.url}

    @classmethod
    def from_json(cls, key: str, data: Record) -> ServedAt:
        return cls(str(data["url"]))


SERVER: Final = declare("server", ServedAt, ttl=Expiry.NEVER)


class BaseUrlChanged(Exception):
    """The data directory was served at another base URL; `kluis migrate` moves it."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(
            f"this data directory was served at {old}, not {new}: its accounts, WebIDs and "
            f"access rules name {old}. To move it, stop the server and run `kluis migrate` with "
            f"the same options as `kluis serve` (add --dry-run to see what would change first); "
            f"or serve it at {old} again"
        )
        self.old = old
        self.new = new


async def check_base_url(kv: KeyValueStore, base_url: str) -> None:
    """Refuse a base URL other than the one the state was made under; remember it if new."""
    recorded = await served_at(kv)
    if recorded is None:
        await Records(kv, SERVER).put(_KEY, ServedAt(base_url))
    elif recorded != base_url:
        raise BaseUrlChanged(recorded, base_url)


async def served_at(kv: KeyValueStore) -> str | None:
    """The base URL the state was made under: as recorded, or (for a data directory from before
    the record) as the first account's WebID shows."""
    found = await Records(kv, SERVER).get(_KEY)
    if found is not None:
        return found.url
    for account in await all_accounts(kv):
        for name, webid in zip(account.pods, account.webids, strict=False):
            tail = f"{name}/profile/card#me"
            if webid.endswith(tail):
                return webid[: -len(tail)]
    return None


@dataclass(slots=True)
class Plan:
    """What a move changes. `documents` and `containers` are resource paths."""

    old: str
    new: str
    documents: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)  # storage owners
    records: list[str] = field(default_factory=list)  # "namespace: key"
    unreadable: list[str] = field(default_factory=list)  # RDF that does not parse: left alone
    backup: Path | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "from": self.old,
            "to": self.new,
            "documents": self.documents,
            "storageOwners": self.containers,
            "records": self.records,
            "unreadable": self.unreadable,
            "backup": None if self.backup is None else str(self.backup),
        }


async def move(data_dir: Path, new: str, *, old: str | None = None, dry_run: bool = False) -> Plan:
    """Rewrite every URL under the old base URL in `data_dir` to `new`.

    The whole directory is copied beside itself first (`<data_dir>.backup-<time>`); with
    `dry_run` nothing is written and the plan says what would change. No server may be running
    on the directory meanwhile.
    """
    kv = FileKeyValueStore(data_dir / ".kluis" / "kv")
    old = old or await served_at(kv)
    if old is None:
        raise ValueError(f"{data_dir} holds no accounts and no recorded base URL: nothing to move")
    plan = Plan(old=old, new=new)
    if old == new:
        return plan
    backend = FileBackend(data_dir)
    try:
        if not dry_run:
            plan.backup = _backup(data_dir)
        await _move_resources(backend, plan, write=not dry_run)
        _move_records(kv, plan, write=not dry_run)
        if not dry_run:
            await Records(kv, SERVER).put(_KEY, ServedAt(new))
    finally:
        await backend.close()
    return plan


def _backup(data_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = data_dir.with_name(f"{data_dir.name}.backup-{stamp}")
    shutil.copytree(data_dir, target, symlinks=True)
    target.chmod(0o700)
    return target


async def _move_resources(backend: FileBackend, plan: Plan, *, write: bool) -> None:
    rename = renamer(plan.old, plan.new)
    root = await backend.stat(paths.ROOT)
    pending = [] if root is None else [root]
    while pending:
        container = pending.pop()
        owner = container.attrs.get("owner")
        if owner and rename(owner) != owner:
            plan.containers.append(container.path)
            if write:
                await backend.set_attrs(container.path, {**container.attrs, "owner": rename(owner)})
        await _move_document(backend, container.path, plan, rename, write=write)
        for child in await backend.children(container.path):
            if child.is_container:
                pending.append(child)
            elif rdf.is_rdf_type(child.content_type):
                await _move_document(backend, child.path, plan, rename, write=write)


async def _move_document(
    backend: FileBackend, path: str, plan: Plan, rename: Callable[[str], str], *, write: bool
) -> None:
    try:
        meta, data = await backend.read(path)
    except NotFound:
        return  # deleted while we walked: a server is running; the lock should have said so
    if not data:
        return
    url_path = paths.to_url_path(path)
    try:
        graph = rdf.parse(data, meta.content_type, base=plan.old.rstrip("/") + url_path)
    except InvalidRdf:
        plan.unreadable.append(path)
        return
    triples = [ox.Triple(*(renamed(term, rename) for term in t)) for t in graph.triples]
    prefixes = {name: rename(iri) for name, iri in graph.prefixes.items()}
    moved = rdf.serialize_stored(
        triples, document=plan.new.rstrip("/") + url_path, server=plan.new, prefixes=prefixes
    )
    if moved == data:
        return
    plan.documents.append(path)
    if write:
        await backend.write(path, moved, content_type=rdf.TURTLE)


def _move_records(kv: FileKeyValueStore, plan: Plan, *, write: bool) -> None:
    rename = renamer(plan.old, plan.new)
    for namespace in kv.namespaces():
        if namespace == SERVER.name:
            continue
        for key, value, expires in kv.records(namespace):
            # Keys join parts with `|` ("account|client id"), and any part may be a URL.
            new_key = "|".join(rename(part) for part in key.split("|"))
            new_value = _renamed_json(value, rename)
            if new_key == key and new_value == value:
                continue
            plan.records.append(f"{namespace}: {key}")
            if write:
                kv.replace(namespace, key, new_key, new_value, expires)


def _renamed_json(value: Any, rename: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return rename(value)
    if isinstance(value, list):
        return [_renamed_json(v, rename) for v in value]
    if isinstance(value, dict):
        return {rename(k): _renamed_json(v, rename) for k, v in value.items()}
    return value
