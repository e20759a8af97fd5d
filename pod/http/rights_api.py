"""Export and import of a pod over HTTP (pod.rights):

- `GET <base>.account/export/<pod>`: the copy, for the account page's "Download a copy" link
  (the account session).
- `GET <base>.account/api/pods/<pod>/export`: the same with an API token, as `kluis export`.
- `POST <base>.account/api/pods/<name>/import` (API token; the archive as the body,
  `?reclaim=CODE` for a name held after an erasure) and `POST <base>.account/import` (the
  account page's form: multipart, CSRF token first, the archive last).

A copy is `application/gzip` with `Content-Disposition: attachment` and `Kluis-Export-Bytes`,
the bytes of pod data it holds (for a progress bar: the archive is compressed and streamed, so
it has no Content-Length). An archive to import is spooled to `<data_dir>/.kluis/tmp/` (the
system's temporary directory for memory storage), within `max_import_bytes`, once the request
holds its slot (`Exports`: one export or import per pod and per account, two per server). An
export's every write waits for its client at most `body_timeout` seconds, and the whole export
takes at most `export_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

from aiohttp import BodyPartReader, hdrs, web

from pod.accounts.pods import check_pod_name
from pod.accounts.service import Account
from pod.errors import BadRequest, PodError, UnsupportedMediaType
from pod.http.account import account_page, api_account, check_form, require_page_account
from pod.http.bodies import SMALL_BODY_BYTES, in_time, spool_body
from pod.http.errors import status_of
from pod.http.i18n import N_, page_error
from pod.http.keys import (
    ACCOUNTS,
    DISCLOSURES,
    EXPORTS,
    PROVIDER,
    QUOTAS,
    SETTINGS,
    STORE,
    TOMBSTONES,
)
from pod.rights.exporting import Sources, backend_of, export_pod, measure, owned_root
from pod.rights.importing import Imported, Targets, import_pod

log = logging.getLogger(__name__)

EXPORT_BYTES: Final = "Kluis-Export-Bytes"
_IMPORT_FIELDS: Final = ("csrf", "pod", "reclaim")


def add_rights_routes(app: web.Application, *, base_path: str) -> None:
    a = base_path + ".account/"
    app.router.add_get(a + "export/{pod}", get_export_page)
    app.router.add_get(a + "api/pods/{pod}/export", get_export_api)
    app.router.add_post(a + "api/pods/{pod}/import", post_import_api)
    app.router.add_post(a + "import", post_import_page)


def _tmp_dir(request: web.Request) -> Path | None:
    settings = request.app[SETTINGS]
    if settings.storage != "file":
        return None
    return settings.data_dir / ".kluis" / "tmp"


def _sources(request: web.Request) -> Sources:
    app = request.app
    return Sources(
        store=app[STORE],
        accounts=app[ACCOUNTS],
        provider=app[PROVIDER],
        quotas=app[QUOTAS],
        disclosures=app[DISCLOSURES],
        tmp_dir=_tmp_dir(request),
        level=app[SETTINGS].export_compression,
    )


async def get_export_page(request: web.Request) -> web.StreamResponse:
    found = await require_page_account(request)
    if isinstance(found, web.Response):
        return found
    return await _export(request, found[1])


async def get_export_api(request: web.Request) -> web.StreamResponse:
    return await _export(request, await api_account(request))


async def _export(request: web.Request, account: Account) -> web.StreamResponse:
    name = request.match_info["pod"]
    sources = _sources(request)
    settings = request.app[SETTINGS]
    root = owned_root(account, name)  # NotFound before anything is sent
    with request.app[EXPORTS].running(root, account=account.id):
        counted = await measure(backend_of(sources.store), root)
        day = time.strftime("%Y-%m-%d", time.gmtime())
        response = web.StreamResponse(
            headers={
                hdrs.CONTENT_TYPE: "application/gzip",
                # RFC 6266 §4.1; the name is a pod name: [a-z0-9-] only, nothing to quote.
                hdrs.CONTENT_DISPOSITION: f'attachment; filename="{name}-{day}.tar.gz"',
                hdrs.CACHE_CONTROL: "no-store",
                EXPORT_BYTES: str(counted[1]),
            }
        )
        await response.prepare(request)
        idle = settings.body_timeout

        async def write(data: bytes) -> None:
            # A client that reads nothing holds a slot, a zlib state and a connection: each
            # write waits for it at most `body_timeout` seconds.
            async with asyncio.timeout(idle):
                await response.write(data)

        try:
            async with asyncio.timeout(settings.export_seconds):
                await export_pod(sources, account, name, write, counted=counted)
                async with asyncio.timeout(idle):
                    await response.write_eof()
        except Exception as exc:
            # The head is sent: no error answer is possible. Cut the connection, so the
            # client sees a broken archive (its manifest is missing) rather than a short one
            # that looks whole.
            if isinstance(exc, PodError | OSError):  # TimeoutError is an OSError
                log.warning("the export of %s stopped: %r", root, exc)
            else:
                log.exception("the export of %s failed", root)
            if request.transport is not None:
                request.transport.abort()  # not close(): that would wait for the client to read
            return response
    log.info("exported %s for account %s (%d bytes of data)", root, account.id, counted[1])
    return response


# --- import ---------------------------------------------------------------------------------


@contextmanager
def _spool(request: web.Request) -> Iterator[IO[bytes]]:
    where = _tmp_dir(request)
    if where is not None:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=where, prefix="import-") as f:
        yield f


def _targets(request: web.Request) -> Targets:
    app = request.app
    settings = app[SETTINGS]
    return Targets(
        store=app[STORE],
        accounts=app[ACCOUNTS],
        quotas=app[QUOTAS],
        disclosures=app[DISCLOSURES],
        tombstones=app[TOMBSTONES],
        max_body_bytes=settings.max_body_bytes,
        max_rdf_bytes=settings.max_rdf_bytes,
        max_import_bytes=settings.max_import_bytes,
    )


async def post_import_api(request: web.Request) -> web.StreamResponse:
    """The archive as the body; `?reclaim=CODE` for a name held after an erasure (the query
    string is left out of the access log, `pod.http.access`)."""
    account = await api_account(request)
    name = request.match_info["pod"]
    check_pod_name(name)
    reclaim = request.query.get("reclaim") or None
    settings = request.app[SETTINGS]
    # The slot first: spooling is the costly part a crowd of uploads would share.
    with request.app[EXPORTS].running(f"/{name}/", account=account.id), _spool(request) as file:
        await spool_body(request, file, limit=settings.max_import_bytes)
        done = await import_pod(_targets(request), account, name, file, reclaim=reclaim)
    _log_import(account, done)
    return web.json_response(done.to_json(), status=201 if done.created else 200)


async def post_import_page(request: web.Request) -> web.StreamResponse:
    """The account page's import form: `csrf`, `pod`, maybe `reclaim`, and then `archive`, in
    that order (as the form lists them), so the CSRF token is checked and the slot taken
    before the archive is read. Any other part, a part given twice or one after the archive
    is refused (400): each would be read (or spooled) for nothing."""
    found = await require_page_account(request)
    if isinstance(found, web.Response):
        return found
    session, account = found
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "send the import form as multipart/form-data", accepted=("multipart/form-data",)
        )
    settings = request.app[SETTINGS]
    timeout = settings.body_timeout
    reader = await request.multipart()
    fields: dict[str, str] = {}
    while True:
        part = await in_time(reader.next(), timeout)
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise BadRequest("the import form holds a nested multipart part")
        if part.name == "archive":
            break
        if part.name not in _IMPORT_FIELDS:
            raise BadRequest(f"the import form has no field {part.name!r}")
        if part.name in fields:
            raise BadRequest(f"the import form gives {part.name!r} more than once")
        fields[part.name] = await _small_field(part, timeout)
    check_form(request, session, fields)  # Forbidden without the CSRF token
    if part is None:
        raise BadRequest("choose the archive to import")
    account = await request.app[ACCOUNTS].require(account.id)
    name = fields.get("pod", "").strip()
    reclaim = fields.get("reclaim", "").strip() or None
    try:
        check_pod_name(name)
        with request.app[EXPORTS].running(f"/{name}/", account=account.id), _spool(request) as f:
            await spool_body(request, f, limit=settings.max_import_bytes, content=part)
            if await in_time(reader.next(), timeout) is not None:
                raise BadRequest("the archive must be the import form's last and only file")
            done = await import_pod(_targets(request), account, name, f, reclaim=reclaim)
    except PodError as exc:
        return await account_page(
            request, session, account, status=status_of(exc), error=page_error(exc.message)
        )
    _log_import(account, done)
    account = await request.app[ACCOUNTS].require(account.id)  # with its new pod
    return await account_page(
        request,
        session,
        account,
        notice=N_("Imported %(files)s files into %(pod)s.", files=str(done.files), pod=done.root),
    )


async def _small_field(part: BodyPartReader, seconds: float) -> str:
    value = bytearray()
    while chunk := await in_time(part.read_chunk(4096), seconds):
        value += chunk
        if len(value) > SMALL_BODY_BYTES:
            raise BadRequest(f"the form field {part.name} is too long")
    return value.decode("utf-8", "replace")


def _log_import(account: Account, done: Imported) -> None:
    log.info(
        "imported %d files (%d bytes) into %s for account %s%s",
        done.files,
        done.bytes,
        done.root,
        account.id,
        " (URLs rewritten)" if done.renamed else "",
    )
