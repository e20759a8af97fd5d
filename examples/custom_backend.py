"""Plug your own storage into Kluis: any object with the Backend protocol's methods will do.

Run: .venv/bin/python examples/custom_backend.py [PORT]
(no server needs to be running; `make serve` makes .venv.)
This one wraps the in-memory backend and records every write, as a backend that replicates or
audits writes might; Kluis's Solid rules, access control and HTTP layer stay exactly the same.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

from pod.acl.authorizer import GrantAll
from pod.app import create_app
from pod.config import Settings
from pod.model import Metadata
from pod.storage.memory import MemoryBackend


class RecordingBackend:
    """A Backend (see pod/storage/base.py for the contract) that logs what it stores."""

    def __init__(self) -> None:
        self.inner = MemoryBackend()
        self.log: list[str] = []

    async def stat(self, path: str) -> Metadata | None:
        return await self.inner.stat(path)

    async def read(
        self, path: str, *, start: int = 0, end: int | None = None
    ) -> tuple[Metadata, bytes]:
        return await self.inner.read(path, start=start, end=end)

    async def write(
        self, path: str, data: bytes, *, content_type: str, create_only: bool = False
    ) -> Metadata:
        self.log.append(f"write {path} ({content_type}, {len(data)} bytes)")
        return await self.inner.write(
            path, data, content_type=content_type, create_only=create_only
        )

    async def delete(self, path: str) -> None:
        self.log.append(f"delete {path}")
        await self.inner.delete(path)

    async def children(self, path: str) -> list[Metadata]:
        return await self.inner.children(path)

    async def set_attrs(self, path: str, attrs: dict[str, str]) -> Metadata:
        return await self.inner.set_attrs(path, attrs)

    async def close(self) -> None:
        await self.inner.close()


async def main(port: int) -> list[str]:
    backend = RecordingBackend()
    settings = Settings(host="127.0.0.1", port=port, storage="memory", access_log=False)
    app = create_app(settings, backend=backend, readers=[GrantAll()])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:
            url = settings.base_url + "notes/today"
            await session.put(url, data="<#a> <#b> 1 .", headers={"Content-Type": "text/turtle"})
            await session.delete(url)
    finally:
        await runner.cleanup()
    return backend.log


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("port", type=int, nargs="?", default=3000, help="default 3000")
    for line in asyncio.run(main(parser.parse_args().port)):
        print(line)
