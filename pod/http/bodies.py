"""Reading request bodies with a size limit and a deadline, so a client that stops sending
cannot hold a handler (and its locks) forever. SPEC.md §13: idle or slow connections must not
exhaust the server; the request head has its deadline in the runner (`runner_options`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Final, TypeVar

from aiohttp import web

from pod.config import Settings
from pod.errors import PayloadTooLarge, RequestTimeout
from pod.http.keys import SETTINGS

READ_CHUNK: Final = 64 * 1024
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
    while True:
        chunk = await _in_time(request.content.read(READ_CHUNK), settings.body_timeout)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)


async def small_body(request: web.Request, read: Awaitable[T]) -> T:
    """`read` (request.post(), request.read(): bodies aiohttp caps at 1 MB), given
    `body_timeout` seconds in all."""
    return await _in_time(read, request.app[SETTINGS].body_timeout)


async def _in_time(read: Awaitable[T], seconds: float) -> T:
    try:
        async with asyncio.timeout(seconds):
            return await read
    except TimeoutError:
        raise RequestTimeout(
            f"no part of the request body arrived for {seconds:g} seconds"
        ) from None
