"""Reading request bodies with a size limit and a deadline, so a client that stops sending
cannot hold a handler (and its locks) forever. Idle or slow connections must
not exhaust the server; the request head has its deadline in the runner (`runner_options`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import IO, Any, Final, TypeVar, final
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, hdrs, web

from pod.config import Settings
from pod.errors import BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from pod.http.keys import SETTINGS

READ_CHUNK: Final = 64 * 1024
SPOOL_CHUNK: Final = 1024 * 1024  # a body spooled to a file: fewer thread hops per byte
# Forms and JSON of the account pages, the account API and the identity provider: small by
# nature, and sent by anyone, so capped well below the resource bodies' limit.
SMALL_BODY_BYTES: Final = 64 * 1024
_FORM: Final = "application/x-www-form-urlencoded"
_MULTIPART: Final = "multipart/form-data"
_MAX_FORM_FIELDS: Final = 64
T = TypeVar("T")


def runner_options(settings: Settings) -> dict[str, Any]:
    """aiohttp server options from the settings. aiohttp's keep-alive timer also closes a
    connection whose next request head has not fully arrived by then, so it is the deadline
    for slow headers as well as for idle connections (its default is an hour)."""
    return {"keepalive_timeout": settings.idle_timeout}


async def read_body(request: web.Request, *, limit: int | None = None) -> bytes:
    """The whole request body, refusing (413) as soon as it exceeds the limit, and (408) when
    no part of it arrives for `body_timeout` seconds."""
    settings = request.app[SETTINGS]
    limit = settings.max_body_bytes if limit is None else limit
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    if not request.body_exists:
        return b""
    chunks: list[bytes] = []
    total = 0
    content = request.content
    while True:
        # What has arrived needs no deadline (a small body comes with the head); the deadline
        # is for waiting.
        chunk = content.read_nowait(READ_CHUNK)
        if not chunk:
            if content.at_eof():
                return b"".join(chunks)
            chunk = await in_time(content.read(READ_CHUNK), settings.body_timeout)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)


async def spool_body(
    request: web.Request, file: IO[bytes], *, limit: int, content: Any = None
) -> int:
    """Write the request body (or `content`, a multipart part's reader) to `file`, refusing
    (413) as soon as it exceeds `limit` and (408) when no part of it arrives for `body_timeout`
    seconds; returns its size. `client_max_size` does not limit a body read as a stream, so
    this is the limit of a body too large for memory (an imported pod)."""
    settings = request.app[SETTINGS]
    if content is None:
        declared = request.content_length
        if declared is not None and declared > limit:
            raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
        if not request.body_exists:
            return 0
        read = request.content.read
    else:
        read = content.read_chunk
    total = 0
    while True:
        chunk = await in_time(read(SPOOL_CHUNK), settings.body_timeout)
        if not chunk:
            return total
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes")
        await asyncio.to_thread(file.write, chunk)


async def read_form(request: web.Request, *, limit: int = SMALL_BODY_BYTES) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (HTML forms, OAuth requests), read within
    `limit` bytes however it is framed (Content-Length or chunked). A field given twice is
    refused (RFC 6749 §3.1: parameters must not be included more than once)."""
    if request.content_type != _FORM:
        raise UnsupportedMediaType(f"send the form as {_FORM}", accepted=(_FORM,))
    data = await read_body(request, limit=limit)
    try:
        pairs = parse_qsl(
            data.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise BadRequest("the form is not UTF-8") from exc
    except ValueError as exc:  # more than _MAX_FORM_FIELDS fields
        raise BadRequest(f"the form has more than {_MAX_FORM_FIELDS} fields") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise BadRequest(f"the form gives {name!r} more than once")
        form[name] = value
    return form


@final
@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent in a form: the name the browser gave it (maybe empty: no file chosen), the
    media type it declared (None: none), and its bytes."""

    filename: str
    content_type: str | None
    data: bytes


async def read_multipart(
    request: web.Request, *, limit: int
) -> tuple[dict[str, str], list[Upload]]:
    """A `multipart/form-data` body (RFC 7578, an HTML form with a file): its text fields and
    its files. Refused (413) as soon as its parts exceed `limit` bytes together, a text field
    beyond SMALL_BODY_BYTES, and (408) when no part of it arrives for `body_timeout` seconds;
    a field given twice or more than the form fields' limit is refused (400), as `read_form`."""
    if request.content_type != _MULTIPART:
        raise UnsupportedMediaType(f"send the form as {_MULTIPART}", accepted=(_MULTIPART,))
    declared = request.content_length
    if declared is not None and declared > limit + SMALL_BODY_BYTES:  # boundaries, headers
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    timeout = request.app[SETTINGS].body_timeout
    reader = await request.multipart()
    fields: dict[str, str] = {}
    files: list[Upload] = []
    total = 0
    while True:
        part = await in_time(reader.next(), timeout)
        if part is None:
            return fields, files
        if not isinstance(part, BodyPartReader):
            raise BadRequest("a form part may not itself be multipart")
        if len(fields) + len(files) >= _MAX_FORM_FIELDS:
            raise BadRequest(f"the form has more than {_MAX_FORM_FIELDS} fields")
        chunks: list[bytes] = []
        while True:
            chunk = await in_time(part.read_chunk(READ_CHUNK), timeout)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge(f"the form exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        data = b"".join(chunks)
        name = part.name or ""
        if part.filename is not None:
            files.append(Upload(part.filename, part.headers.get(hdrs.CONTENT_TYPE), data))
            continue
        if name in fields:
            raise BadRequest(f"the form gives {name!r} more than once")
        if len(data) > SMALL_BODY_BYTES:
            raise PayloadTooLarge(f"the form field {name!r} is longer than {SMALL_BODY_BYTES}")
        try:
            fields[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("the form is not UTF-8") from exc


async def read_json(request: web.Request, *, limit: int = SMALL_BODY_BYTES) -> Any:
    """A JSON body, read within `limit` bytes however it is framed."""
    if request.content_type not in ("application/json", "application/ld+json"):
        raise UnsupportedMediaType(
            "send a JSON body with Content-Type: application/json", accepted=("application/json",)
        )
    data = await read_body(request, limit=limit)
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from exc


async def in_time(read: Awaitable[T], seconds: float) -> T:
    """`read`'s result, or RequestTimeout when it takes longer than `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            return await read
    except TimeoutError:
        raise RequestTimeout(
            f"no part of the request body arrived for {seconds:g} seconds"
        ) from None


# Sending: aiohttp writes a response's headers and body with one `transport.write` of their
# concatenation (on Python before 3.12.9 it never uses `writelines`, see aiohttp's
# `http_writer.SKIP_WRITELINES`), a copy of the whole body per response: 32 clients fetching
# a 2 MB listing at once made the server hold 32 copies (66 MB). A large body is written after
# the headers, as a view of the one shared `bytes`, which uvloop's transport keeps until sent.
LARGE_BODY_BYTES: Final = 256 * 1024


def response_with_body(request: web.Request, status: int, body: bytes) -> web.Response:
    """A response carrying `body`: a large one for a GET is not copied to be sent."""
    if len(body) > LARGE_BODY_BYTES and request.method == "GET" and status in (200, 206):
        return _SharedBodyResponse(status=status, body=body, content_type=None)
    return web.Response(status=status, body=body, content_type=None)


class _SharedBodyResponse(web.Response):
    """A response whose body is written apart from its headers, so never joined to them."""

    async def write_eof(self, data: bytes = b"") -> None:
        body = self.body
        assert isinstance(body, bytes)
        assert not data
        await self.write(b"")  # the headers alone
        await self.write(memoryview(body))  # waits while the peer lags
        await web.StreamResponse.write_eof(self)
