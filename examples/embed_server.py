"""Embed Kluis in your own asyncio program, with in-memory storage and your own access control.

Run: .venv/bin/python examples/embed_server.py [PORT]
(no server needs to be running; `make serve` makes .venv.)
It starts a server whose access control is replaced by GrantAll (as a program that guards the
port itself might do), writes and reads one document through HTTP, prints it, and stops.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

from pod.acl.authorizer import GrantAll
from pod.app import create_app, runner_options
from pod.config import Settings


async def main(port: int) -> str:
    settings = Settings(host="127.0.0.1", port=port, storage="memory", access_log=False)
    # runner_options: the idle and slow-header deadline (idle_timeout) from the settings.
    runner = web.AppRunner(create_app(settings, readers=[GrantAll()]), **runner_options(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:
            doc = settings.base_url + "hello/world"
            await session.put(
                doc,
                data='<#it> <http://purl.org/dc/terms/title> "Hello from an embedded Kluis" .',
                headers={"Content-Type": "text/turtle"},
            )
            async with session.get(doc) as response:
                return await response.text()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("port", type=int, nargs="?", default=3000, help="default 3000")
    print(asyncio.run(main(parser.parse_args().port)))
