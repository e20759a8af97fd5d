"""Importing an exported pod (`pod.rights.exporting`) into a new or an empty pod, on this server or
another (GDPR Art. 20(2): direct transmission). Imports accounts, vault, ldp, storage.

It never overwrites, and writes nothing from an archive that does not verify:

1. **Check.** A first pass over the archive (spooled to a file by the caller) hashes every
   member against the manifest: a member that differs is BadRequest naming it. Then the pod's
   bytes against the target's quota: QuotaExceeded, before any write.
2. **Target.** A new name is claimed as `AccountService.add_pod` claims one (the `pod_names`
   record, atomically), and made a storage owned by its WebID, without provisioning; or a pod
   of the account that holds nothing but its root `.acl` (which it keeps). Anything else is
   Conflict.
3. **Write.** Every member's name is checked first, as a request's path would be. A second
   pass writes top down (each container's description before what it holds, as the export
   ordered them) through the store, every write `If-None-Match: *`, so the store's rules,
   validators and quotas apply, and `consent/` reaches the grant index through the change
   feed. Stored RDF is Turtle kept as sent, so the bytes come back equal. Should the store
   refuse a member all the same (its rules changed since the export), the import stops there
   with Conflict, naming the member and what was written.
4. **Another base URL or name.** RDF is rewritten with `pod.ldp.moving`: the old pod root to
   the new, then the old base URL to the new. The hashes are checked before, and the rewritten
   documents are no longer byte-identical to the export.

The access log's days are restored where the target has no log of that day yet.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final, final

from pod import paths
from pod.accounts.pods import check_pod_name, webid_of
from pod.accounts.service import ACCOUNTS, POD_NAMES, Account, AccountService, Owner
from pod.errors import BadRequest, Conflict, PodError, QuotaExceeded
from pod.ldp import rdf
from pod.ldp.conditions import Conditions
from pod.ldp.moving import moved_document, renamer_of
from pod.ldp.quotas import Quotas
from pod.ldp.resources import ResourceStore
from pod.rights import archive
from pod.rights.exporting import CONTAINER, LOG, POD, backend_of
from pod.storage.journal import is_day
from pod.storage.records import Records
from pod.vault.disclosures import DisclosureLog, key_of

_CREATE_ONLY: Final = Conditions(if_none_match=("*",))


@final
@dataclass(frozen=True, slots=True)
class Targets:
    """What an import writes through: the app's components."""

    store: ResourceStore
    accounts: AccountService
    quotas: Quotas
    disclosures: DisclosureLog | None


@final
@dataclass(slots=True)
class Imported:
    """What an import did."""

    name: str
    root: str  # URL
    created: bool  # a new pod, or an empty one filled
    renamed: bool  # RDF rewritten for another root URL
    files: int = 0
    bytes: int = 0
    kept: list[str] = field(default_factory=list)  # the target's own (its root .acl)
    log_days: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "podRoot": self.root,
            "created": self.created,
            "renamed": self.renamed,
            "files": self.files,
            "bytes": self.bytes,
            "kept": self.kept,
            "logDays": self.log_days,
        }


def _bad_archive(exc: archive.ArchiveError) -> BadRequest:
    what = f" (member {exc.member})" if exc.member else ""
    return BadRequest(f"the archive cannot be imported{what}: {exc}")


async def import_pod(targets: Targets, account: Account, name: str, file: IO[bytes]) -> Imported:
    """Import the archive in `file` as `account`'s pod `name`. Raises BadRequest (a damaged or
    tampered archive, naming the member), Conflict (the name is taken, or the pod not empty),
    QuotaExceeded; in every case before anything is written."""
    check_pod_name(name)
    try:
        scanned = await asyncio.to_thread(archive.scan, file)
    except archive.ArchiveError as exc:
        raise _bad_archive(exc) from exc
    store = targets.store
    export = scanned.manifest.get("export")
    if not isinstance(export, dict) or not isinstance(export.get("root"), str):
        raise BadRequest("the manifest does not say which pod was exported (export.root)")
    old_root_url = str(export["root"])
    old_base = str(export.get("baseUrl") or "")
    root = f"/{name}/"
    for entry in scanned.entries.values():  # every name and type checked before any write
        if entry.path.startswith(POD):
            _path_of(root, entry.path)
            if not entry.type:
                raise BadRequest(f"the archive member {entry.path} has no media type")
    new_root_url = store.url(root)
    new_base = store.base_url + "/"
    moves = [(old_root_url, new_root_url)]
    if old_base and old_base != new_base:
        moves.append((old_base, new_base))
    renamed = old_root_url != new_root_url

    names = Records(targets.accounts.kv, POD_NAMES)
    holder = await names.get(name)
    if holder is not None and holder.account != account.id:
        raise Conflict(f"the pod name {name!r} is taken")
    created = holder is None
    if not created:
        await _check_empty(store, root)
    if created:
        used, limit = 0, await targets.quotas.limit(root)
    else:
        used, limit = await targets.quotas.usage(root)
    if limit and used + scanned.pod_bytes > limit:
        raise QuotaExceeded(
            f"the archive holds {scanned.pod_bytes} bytes; the pod {name!r} may hold {limit} "
            f"and holds {used}"
        )
    kept_acl = False
    if created:
        await _claim(targets, account, name)
    else:
        kept_acl = await store.head(paths.acl_of(root)) is not None
    done = Imported(name=name, root=new_root_url, created=created, renamed=renamed)
    rename = renamer_of(moves)
    items = archive.members(file)
    while True:
        item = await asyncio.to_thread(_next_member, items)
        if item is None:
            break
        member, media, data = item
        if member.startswith(POD):
            path = _path_of(root, member)
            if kept_acl and path == paths.acl_of(root):
                done.kept.append(store.url(path))
                continue
            if renamed and (paths.is_container(path) or rdf.is_rdf_type(media)):
                data = await asyncio.to_thread(
                    _moved,
                    data,
                    media,
                    old_root_url + _url_tail(root, path),
                    store.url(path),
                    new_base,
                    rename,
                )
            try:
                await _write(store, root, path, data, media)
            except PodError as exc:
                # The archive verified, so the store refused it (a validator, a change of the
                # server's rules since the export): say where, and what is there already.
                raise Conflict(
                    f"the import stopped at {member}: {exc.message} ({done.files} files were "
                    f"written to {new_root_url} before it)"
                ) from exc
            done.files += 1
            done.bytes += len(data)
        elif member.startswith(LOG) and targets.disclosures is not None:
            day = member[len(LOG) :].removesuffix(".jsonl")
            if is_day(day) and await _restore_day(
                targets.disclosures, root, day, data, _path_mover(old_root_url, root, store)
            ):
                done.log_days += 1
    return done


def _next_member(items: Iterator[tuple[str, str, IO[bytes]]]) -> tuple[str, str, bytes] | None:
    try:
        name, media, reader = next(items)
    except StopIteration:
        return None
    except archive.ArchiveError as exc:  # it verified a moment ago: the spool changed
        raise _bad_archive(exc) from exc
    return name, media, reader.read()


def _path_of(root: str, member: str) -> str:
    """The resource path in the pod at `root` of archive member `member` (under `pod/`), each
    name checked as a request's would be (BadRequest)."""
    relative = member[len(POD) :]
    container = relative == CONTAINER or relative.endswith("/" + CONTAINER)
    if container:
        relative = relative[: -len(CONTAINER)]
    names = relative.split("/")
    if container:
        names = names[:-1]  # the empty name after the container's slash
    for n in names:
        paths.check_name(n)
    path = root + "/".join(names) + ("/" if container and names else "")
    if len(path.encode()) > paths.MAX_PATH_BYTES or path.count("/") > paths.MAX_DEPTH:
        raise BadRequest(f"the archive member {member} names a path too long or too deep")
    return path


def _url_tail(root: str, path: str) -> str:
    """The URL path of `path` below `root`, percent-encoded as URLs name it."""
    return paths.to_url_path(path)[len(paths.to_url_path(root)) :]


def _moved(
    data: bytes, media: str, old_url: str, new_url: str, server: str, rename: Callable[[str], str]
) -> bytes:
    if not data:
        return data
    return moved_document(
        data,
        rdf.TURTLE if not rdf.is_rdf_type(media) else media,
        old_url=old_url,
        new_url=new_url,
        server=server,
        rename=rename,
    )


async def _check_empty(store: ResourceStore, root: str) -> None:
    """Conflict unless the pod at `root` holds nothing but its root `.acl`."""
    children = await backend_of(store).children(root)
    others = [c.path for c in children if c.path != paths.acl_of(root)]
    if others:
        shown = ", ".join(store.url(p) for p in sorted(others)[:3])
        raise Conflict(
            f"the pod {store.url(root)} is not empty ({shown}"
            + (", ..." if len(others) > 3 else "")
            + "): import into a new pod name, or into a pod that holds only its root .acl"
        )


async def _claim(targets: Targets, account: Account, name: str) -> None:
    """Claim `name` for `account` as `AccountService.add_pod` does, and make its root a storage
    owned by the pod's WebID: the archive brings the profile and everything else."""
    store = targets.store
    root = f"/{name}/"
    names = Records(targets.accounts.kv, POD_NAMES)
    if await store.head(root) is not None or await store.head(paths.twin(root)) is not None:
        raise Conflict(f"the pod name {name!r} is taken")
    if not await names.put_new(name, Owner(account.id)):
        raise Conflict(f"the pod name {name!r} is taken")
    webid = webid_of(store, name)
    try:
        await store.create_storage(root, owner=webid)
    except Exception:
        await names.delete(name)
        raise
    account.pods.append(name)
    account.webids.append(webid)
    await Records(targets.accounts.kv, ACCOUNTS).put(account.id, account)


async def _write(store: ResourceStore, root: str, path: str, data: bytes, media: str) -> None:
    if path == root:
        # The root exists (claimed, or the empty pod): its own description, if it has none.
        if data:
            own = await store.read_graph(root)
            if own is None or not own[1].triples:
                await store.put(root, data=data, content_type=rdf.TURTLE)
        return
    content_type = rdf.TURTLE if paths.is_container(path) else media
    if not content_type:
        raise BadRequest(f"the archive gives {store.url(path)} no media type")
    await store.put(path, data=data, content_type=content_type, conditions=_CREATE_ONLY)


def _path_mover(old_root_url: str, root: str, store: ResourceStore) -> Callable[[str], str]:
    """Moves a resource path of the exported pod to the same place in the pod at `root`."""
    old_root = store.path_of(old_root_url)
    if old_root is None or old_root == root:
        return lambda p: p
    return lambda p: root + p[len(old_root) :] if p.startswith(old_root) else p


async def _restore_day(
    log: DisclosureLog, root: str, day: str, data: bytes, move: Callable[[str], str]
) -> bool:
    """Append one exported day of the access log to the pod's, unless it has that day."""
    key = key_of(root)
    if day in await asyncio.to_thread(log.journal.days, key):
        return False
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise BadRequest(f"log/{day}.jsonl holds a line that is not JSON") from exc
        if not isinstance(record, dict):
            raise BadRequest(f"log/{day}.jsonl holds a line that is not a JSON object")
        if isinstance(record.get("p"), str):
            record["p"] = move(record["p"])
        for basis in record.get("b") or []:
            if isinstance(basis, dict) and isinstance(basis.get("ref"), str):
                basis["ref"] = move(basis["ref"])
        payload = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
        log.journal.append(key, day, payload)  # JSON escapes tabs and newlines
    return True
