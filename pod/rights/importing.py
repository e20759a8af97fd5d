"""Importing an exported pod (`pod.rights.exporting`) into a new or an empty pod, on this server or
another (GDPR Art. 20(2): direct transmission). Imports accounts, vault, ldp, storage.

It never overwrites, and leaves nothing behind from an archive it refuses:

1. **Check.** A first pass over the archive (spooled to a file by the caller) reads every
   header before its member (`archive.members`): a member over the limit of a request body of
   its kind (RDF: `max_rdf_bytes`, other files and log days: `max_body_bytes`), more members
   than `archive.MAX_MEMBERS`, more than `max_import_bytes` unpacked, a manifest over
   `archive.MAX_MANIFEST_BYTES`, anything but a regular file (a link, a device, a sparse
   file), an absolute or `..` name is BadRequest naming the member. It hashes every member
   against the manifest: a member that differs is BadRequest naming it. Every member's name
   is checked as a request's path would be, and the pod's bytes against the target's quota
   (QuotaExceeded). A second pass parses every RDF document (renaming it for another root,
   4.): one that does not parse is BadRequest naming it. Nothing is written yet.
2. **Target.** A new name is claimed as `AccountService.add_pod` claims one (the `pod_names`
   record, atomically; a name held after an erasure only with its reclaim code), and made a
   storage owned by its WebID, without provisioning; or a pod of the account that holds
   nothing but its root `.acl` (which it keeps). Anything else is Conflict.
3. **Write.** A last pass writes top down (each container's description before what it
   holds, as the export ordered them) through the store, every write `If-None-Match: *`, so
   the store's rules, validators and quotas apply, and `consent/` reaches the grant index
   through the change feed. Stored RDF is Turtle kept as sent, so the bytes come back equal.
   Should the store refuse a member all the same (its rules changed since the export), or
   anything fail, what was written is deleted again, the access log days restored dropped and
   a name claimed released (Conflict naming the member): the import is all or nothing, and
   can be tried again. A held name's hold ends only once the import is whole.
4. **Another base URL or name.** RDF is rewritten with `pod.ldp.moving`: the old pod root to
   the new, then the old base URL to the new. The hashes are checked before, and the rewritten
   documents are no longer byte-identical to the export.

The access log's days are restored where the target has no log of that day yet; a record
whose fields are not of the types the log writes is skipped and counted (`logSkipped`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final, final

from pod import paths
from pod.accounts.pods import check_pod_name, webid_of
from pod.accounts.service import ACCOUNTS, POD_NAMES, Account, AccountService, Owner
from pod.accounts.tombstones import Tombstones
from pod.errors import BadRequest, Conflict, PodError, QuotaExceeded
from pod.ldp import rdf
from pod.ldp.conditions import Conditions
from pod.ldp.moving import moved_document, renamer_of
from pod.ldp.quotas import Quotas
from pod.ldp.resources import ResourceStore
from pod.rights import archive
from pod.rights.exporting import ACCOUNT, CONTAINER, INFO, LOG, POD, TRIG, backend_of
from pod.storage.journal import is_day
from pod.storage.records import Records
from pod.vault.disclosures import DisclosureLog, is_well_formed, key_of

log = logging.getLogger(__name__)

_CREATE_ONLY: Final = Conditions(if_none_match=("*",))
_SMALL_MEMBER: Final = 1024 * 1024  # kluis-export.json, account.json: never read, only hashed
_LOG_LINE: Final = 64 * 1024  # a longer access log record is skipped
_LOG_BATCH: Final = 2000  # records appended between two yields to the loop


@final
@dataclass(frozen=True, slots=True)
class Targets:
    """What an import writes through: the app's components, and the server's limits on a
    request body (`max_body_bytes`, `max_rdf_bytes`) and on an archive unpacked."""

    store: ResourceStore
    accounts: AccountService
    quotas: Quotas
    disclosures: DisclosureLog | None
    tombstones: Tombstones | None = None
    max_body_bytes: int = 64 * 1024 * 1024
    max_rdf_bytes: int = 8 * 1024 * 1024
    max_import_bytes: int = 10 * 1024**3

    def limits(self) -> archive.Limits:
        """The limits of each member: those a PUT of the same resource has."""

        def member(name: str, media: str) -> int | None:
            if name.startswith(POD):
                if name.endswith(CONTAINER) or rdf.is_rdf_type(media):
                    return self.max_rdf_bytes
                return self.max_body_bytes
            if name in (INFO, ACCOUNT):
                return _SMALL_MEMBER
            if name == TRIG:
                return None  # hashed only, a piece at a time; the total bounds it
            return self.max_body_bytes  # log days, and what an import does not read

        return archive.Limits(total=self.max_import_bytes, member=member)


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
    log_skipped: int = 0  # access log records of a type the log does not write

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
            "logSkipped": self.log_skipped,
        }


def _bad_archive(exc: archive.ArchiveError) -> BadRequest:
    what = f" (member {exc.member})" if exc.member else ""
    return BadRequest(f"the archive cannot be imported{what}: {exc}")


@final
@dataclass(frozen=True, slots=True)
class _Plan:
    """Where an archive's documents go: the pod at `root` (URL `new_root_url`), moved from
    `old_root_url` when `renamed`, with `rename` for every IRI."""

    root: str
    old_root_url: str
    new_root_url: str
    new_base: str
    renamed: bool
    rename: Callable[[str], str]


@dataclass(slots=True)
class _Undo:
    """What a failed import takes back: the paths written (in order), the log days restored,
    the name claimed."""

    written: list[str] = field(default_factory=list)
    log_days: list[str] = field(default_factory=list)
    claimed: bool = False
    root_described: bool = False


async def import_pod(
    targets: Targets, account: Account, name: str, file: IO[bytes], *, reclaim: str | None = None
) -> Imported:
    """Import the archive in `file` as `account`'s pod `name`; `reclaim`: the reclaim code of
    an erased pod whose name is held. Raises BadRequest (a damaged or tampered archive, or one
    past a limit, naming the member), Conflict (the name is taken or held, the pod not empty,
    or the store refused a member), QuotaExceeded, AccountDisabled; whatever it raises, the
    pod and the account are as they were."""
    check_pod_name(name)
    try:
        scanned = await asyncio.to_thread(archive.scan, file, targets.limits())
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
    plan = _Plan(
        root=root,
        old_root_url=old_root_url,
        new_root_url=new_root_url,
        new_base=new_base,
        renamed=old_root_url != new_root_url,
        rename=renamer_of(moves),
    )

    names = Records(targets.accounts.kv, POD_NAMES)
    holder = await names.get(name)
    if holder is not None and holder.account != account.id:
        raise Conflict(f"the pod name {name!r} is taken")
    created = holder is None
    if created and targets.tombstones is not None:
        await targets.tombstones.claim(name, reclaim, check_only=True)
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
    # Every RDF document parses (and renames) before anything is written.
    await asyncio.to_thread(_check_documents, file, targets.limits(), plan)
    done = Imported(name=name, root=new_root_url, created=created, renamed=plan.renamed)
    undo = _Undo()
    try:
        if created:
            await _claim(targets, account, name)
            undo.claimed = True
        kept_acl = not created and await store.head(paths.acl_of(root)) is not None
        await _write_all(targets, file, plan, done, undo, kept_acl=kept_acl)
    except BaseException as exc:
        await _take_back(targets, account.id, name, root, undo)
        if isinstance(exc, PodError | archive.ArchiveError | OSError):
            log.warning("the import into %s was taken back: %s", root, exc)
        else:
            log.exception("the import into %s failed and was taken back", root)
        raise
    if created and targets.tombstones is not None:
        await targets.tombstones.claim(name, reclaim)  # the hold ends: the pod is whole
    return done


def _check_documents(file: IO[bytes], limits: archive.Limits, plan: _Plan) -> None:
    """Parse every RDF document and container description of the archive (and rename it,
    for another root): BadRequest naming the first that fails. Blocking."""
    logged = None
    try:
        for member, media, reader in archive.members(file, limits):
            if member.startswith(LOG):
                logged = member
            if not member.startswith(POD):
                continue
            if logged is not None:
                # The export writes the log after the pod, so only a failed write of the log
                # (the disk is full) can come after writes the log would then have to undo.
                raise BadRequest(f"the archive member {member} follows {logged}: not an export")
            path = _path_of(plan.root, member)
            if not (paths.is_container(path) or rdf.is_rdf_type(media)):
                continue
            data = reader.read()  # within max_rdf_bytes: `limits`
            if not data:
                continue
            try:
                _document(data, media, path, plan)
            except PodError as exc:
                raise BadRequest(
                    f"the archive member {member} is not RDF the server accepts: {exc.message}"
                ) from exc
    except archive.ArchiveError as exc:  # it verified a moment ago: the spool changed
        raise _bad_archive(exc) from exc


def _document(data: bytes, media: str, path: str, plan: _Plan) -> bytes:
    """The document to store at `path`: renamed for another root, else as it is (parsed, so
    it is known to be RDF). Raises InvalidRdf or UnsupportedMediaType."""
    kind = media if rdf.is_rdf_type(media) else rdf.TURTLE  # a container's description
    old_url = plan.old_root_url + _url_tail(plan.root, path)
    if plan.renamed:
        return moved_document(
            data,
            kind,
            old_url=old_url,
            new_url=plan.new_root_url + _url_tail(plan.root, path),
            server=plan.new_base,
            rename=plan.rename,
        )
    rdf.parse(data, kind, base=old_url)
    return data


async def _write_all(
    targets: Targets, file: IO[bytes], plan: _Plan, done: Imported, undo: _Undo, *, kept_acl: bool
) -> None:
    """The last pass: every pod member through the store, every log day to the access log."""
    store = targets.store
    root = plan.root
    items = archive.members(file, targets.limits())
    move = _path_mover(plan.old_root_url, root, store)
    while True:
        item = await asyncio.to_thread(_next_member, items)
        if item is None:
            return
        member, media, reader = item
        if member.startswith(POD):
            path = _path_of(root, member)
            if kept_acl and path == paths.acl_of(root):
                done.kept.append(store.url(path))
                continue
            data = await asyncio.to_thread(reader.read)  # within max_body_bytes: `limits`
            if plan.renamed and data and (paths.is_container(path) or rdf.is_rdf_type(media)):
                data = await asyncio.to_thread(_document, data, media, path, plan)
            try:
                if await _write(store, root, path, data, media):
                    undo.written.append(path)
                elif data:
                    undo.root_described = True
            except PodError as exc:
                # The archive verified, so the store refused it (a validator, a change of the
                # server's rules since the export): say where.
                raise Conflict(
                    f"the import stopped at {member}: {exc.message}; nothing of it was kept"
                ) from exc
            done.files += 1
            done.bytes += len(data)
        elif member.startswith(LOG) and targets.disclosures is not None:
            day = member[len(LOG) :].removesuffix(".jsonl")
            if is_day(day):
                restored = await _restore_day(targets.disclosures, root, day, reader, move)
                if restored is not None:
                    undo.log_days.append(day)
                    done.log_days += 1
                    done.log_skipped += restored


def _next_member(
    items: Iterator[tuple[str, str, archive.MemberReader]],
) -> tuple[str, str, archive.MemberReader] | None:
    try:
        return next(items)
    except StopIteration:
        return None
    except archive.ArchiveError as exc:  # it verified a moment ago: the spool changed
        raise _bad_archive(exc) from exc


async def _take_back(targets: Targets, account_id: str, name: str, root: str, undo: _Undo) -> None:
    """Delete what a failed import wrote, deepest first, drop the log days it restored, and
    release the name it claimed. What cannot be deleted is logged; the name then stays
    claimed, so nothing is left in a pod nobody owns."""
    store = targets.store
    whole = True
    for path in reversed(undo.written):
        if undo.claimed and paths.is_auxiliary(path) and paths.subject_of(path) == root:
            continue  # the root's own .acl and .meta go with the storage
        try:
            await store.delete(path)
        except PodError as exc:
            if await store.head(path) is not None:
                whole = False
                log.error("a failed import left %s: %s", store.url(path), exc)
    if undo.claimed or undo.written:
        await _prune(store, root)  # containers a write made on its way (no member named them)
    if undo.root_described and not undo.claimed:
        with contextlib.suppress(PodError):
            await store.put(root, data=b"", content_type=rdf.TURTLE)
    disclosures = targets.disclosures
    if disclosures is not None and undo.log_days:
        if undo.claimed:
            disclosures.drop(root)  # a new pod's log: only what was restored
        else:
            journal, key = disclosures.journal, key_of(root)
            for day in undo.log_days:  # emptied (the journal drops whole pods or old days)
                with contextlib.suppress(OSError):
                    journal.rewrite(key, day, [])  # on the loop, as the journal's appends
    if not undo.claimed or not whole:
        return
    try:
        await store.remove_storage(root)
    except PodError as exc:
        log.error("a failed import left the pod %s: %s", store.url(root), exc)
        return
    await Records(targets.accounts.kv, POD_NAMES).delete(name)
    fresh = await targets.accounts.get(account_id)
    if fresh is not None and name in fresh.pods:
        at = fresh.pods.index(name)
        del fresh.pods[at]
        if at < len(fresh.webids):
            del fresh.webids[at]
        await Records(targets.accounts.kv, ACCOUNTS).put(fresh.id, fresh)


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


async def _prune(store: ResourceStore, container: str) -> None:
    """Delete the empty containers under `container`, deepest first."""
    try:
        children = await backend_of(store).children(container)
    except PodError:
        return
    for child in children:
        if child.is_container:
            await _prune(store, child.path)
            with contextlib.suppress(PodError):
                await store.delete(child.path)  # Conflict if it holds anything: kept


async def _claim(targets: Targets, account: Account, name: str) -> None:
    """Claim `name` for `account` as `AccountService.add_pod` does, and make its root a storage
    owned by the pod's WebID: the archive brings the profile and everything else. The account
    is read again right before it is written, not taken from the request: an operator may
    have disabled it, or a reset changed its password, meanwhile (AccountDisabled)."""
    store = targets.store
    root = f"/{name}/"
    names = Records(targets.accounts.kv, POD_NAMES)
    if await store.head(root) is not None or await store.head(paths.twin(root)) is not None:
        raise Conflict(f"the pod name {name!r} is taken")
    await targets.accounts.require(account.id)  # before anything is made
    if not await names.put_new(name, Owner(account.id)):
        raise Conflict(f"the pod name {name!r} is taken")
    webid = webid_of(store, name)
    try:
        await store.create_storage(root, owner=webid)
        fresh = await targets.accounts.require(account.id)
        fresh.pods.append(name)
        fresh.webids.append(webid)
        await Records(targets.accounts.kv, ACCOUNTS).put(fresh.id, fresh)
    except BaseException:
        with contextlib.suppress(PodError):
            await store.remove_storage(root)
        await names.delete(name)
        raise


async def _write(store: ResourceStore, root: str, path: str, data: bytes, media: str) -> bool:
    """Write one member; whether a resource was made (False: the root's own description)."""
    if path == root:
        # The root exists (claimed, or the empty pod): its own description, if it has none.
        if data:
            own = await store.read_graph(root)
            if own is None or not own[1].triples:
                await store.put(root, data=data, content_type=rdf.TURTLE)
        return False
    content_type = rdf.TURTLE if paths.is_container(path) else media
    if not content_type:
        raise BadRequest(f"the archive gives {store.url(path)} no media type")
    await store.put(path, data=data, content_type=content_type, conditions=_CREATE_ONLY)
    return True


def _path_mover(old_root_url: str, root: str, store: ResourceStore) -> Callable[[str], str]:
    """Moves a resource path of the exported pod to the same place in the pod at `root`."""
    old_root = store.path_of(old_root_url)
    if old_root is None or old_root == root:
        return lambda p: p
    return lambda p: root + p[len(old_root) :] if p.startswith(old_root) else p


def _records_of(
    reader: archive.MemberReader, move: Callable[[str], str]
) -> tuple[list[bytes], int, bool]:
    """The next records of an exported day of the access log, moved to the new pod: at most
    `_LOG_BATCH` of them, the lines skipped (not JSON, not a record of the types the log
    writes, `disclosures.is_well_formed`, or longer than `_LOG_LINE`), whether the day is
    done. Blocking."""
    records: list[bytes] = []
    skipped = 0
    while len(records) < _LOG_BATCH:
        line = reader.readline(_LOG_LINE + 1)
        if not line:
            return records, skipped, True
        if not line.endswith(b"\n") and len(line) > _LOG_LINE:
            skipped += 1
            while (rest := reader.readline(_LOG_LINE)) and not rest.endswith(b"\n"):
                pass
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            skipped += 1
            continue
        if not is_well_formed(record):
            skipped += 1
            continue
        record["p"] = move(record["p"])
        for basis in record.get("b") or []:
            basis["ref"] = move(basis["ref"])
        # JSON escapes tabs and newlines, which the journal's framing needs.
        records.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode())
    return records, skipped, False


async def _restore_day(
    disclosures: DisclosureLog,
    root: str,
    day: str,
    reader: archive.MemberReader,
    move: Callable[[str], str],
) -> int | None:
    """Append one exported day of the access log to the pod's, unless it has that day (None);
    the records skipped. The lines are read and checked in a thread, a batch at a time; the
    appends stay on the loop, which every other append of the journal is on (its open
    segments are not shared between threads), with a yield between batches."""
    key = key_of(root)
    journal = disclosures.journal
    if day in await asyncio.to_thread(journal.days, key):
        return None
    skipped = 0
    while True:
        records, bad, last = await asyncio.to_thread(_records_of, reader, move)
        skipped += bad
        for payload in records:
            journal.append(key, day, payload)
        if last:
            return skipped
        await asyncio.sleep(0)
