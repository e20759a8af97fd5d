"""A change-feed consumer of your own: one JSON line per change, appended to a file.

Run: .venv/bin/python examples/change_log.py LOG [PORT]
(no server needs to be running; `make serve` makes .venv.)

Every write in Kluis publishes one event on the change feed: what changed (a resource's path, or a
key-value record's namespace and key, hashed where the key is personal data), how (Create, Update,
Delete; Add and Remove for a container gaining or losing a child), the new version, and who did it:
the WebID and client app of the request, and the request id that the response carried in its
`X-Request-Id` header. `create_app(settings, consumers=[ChangeLog(path).attach])` hands the feed to
`attach`, which subscribes with `feed.consume`: the log gets a queue and a task of its own, so a
slow disk never slows a write. If it falls further behind than the queue holds, the oldest events
are dropped; the log then says how many it missed. Events carry no content (no document, no record
value), so neither does the log.

This script starts a server (access control replaced by GrantAll, so nobody signs in and the
WebID is null), creates, patches and deletes a document, stops, and prints the log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from pod.acl.authorizer import GrantAll
from pod.app import create_app
from pod.config import Settings
from pod.feed import ChangeFeed, Consumer, Event, ResourceChanged


class ChangeLog:
    """Appends one JSON object per change to the file `path` (JSON Lines)."""

    def __init__(self, path: Path, *, queue: int = 10_000) -> None:
        self.path = path
        self.queue = queue
        self.consumer: Consumer | None = None
        self._reported = 0  # events missed that the log already mentions

    def attach(self, feed: ChangeFeed) -> Consumer:
        """Follow `feed` (what `create_app` calls each of its `consumers` with)."""
        self.consumer = feed.consume(self.write, name="change-log", queue=self.queue)
        return self.consumer

    async def write(self, event: Event) -> None:
        lines = []
        missed = self.consumer.missed if self.consumer is not None else 0
        if missed > self._reported:
            lines.append(_json({"time": _time(event.published), "missed": missed - self._reported}))
            self._reported = missed
        lines.append(_json(entry(event)))
        # A file's write blocks; in a thread it does not hold up the server's event loop.
        await asyncio.to_thread(self._append, "".join(lines))

    def _append(self, text: str) -> None:
        # Opened for every write, so a log rotated away (logrotate's default) is started anew.
        with self.path.open("a", encoding="utf-8") as log:
            log.write(text)


def entry(event: Event) -> dict[str, Any]:
    """What the log says about `event`."""
    what: dict[str, Any]
    if isinstance(event, ResourceChanged):
        what = {"path": event.path, "version": event.version}
        if event.child is not None:
            what["child"] = event.child
    else:
        what = {"namespace": event.namespace, "key": event.key}
    return {
        "time": _time(event.published),
        "change": event.change.value,
        **what,
        "webid": event.actor.webid,
        "client": event.actor.client_id,
        "request": event.actor.request_id,
    }


def _time(published: float) -> str:
    return datetime.fromtimestamp(published, UTC).isoformat(timespec="milliseconds")


def _json(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"


async def main(log: Path, port: int) -> str:
    settings = Settings(host="127.0.0.1", port=port, storage="memory", access_log=False)
    app = create_app(settings, readers=[GrantAll()], consumers=[ChangeLog(log).attach])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            doc = settings.base_url + "notes/today"
            await session.put(doc, data="<#a> <#b> 1 .", headers={"Content-Type": "text/turtle"})
            await session.patch(
                doc,
                data="_:p a <http://www.w3.org/ns/solid/terms#InsertDeletePatch> ;"
                " <http://www.w3.org/ns/solid/terms#inserts> { <#a> <#b> 2 } .",
                headers={"Content-Type": "text/n3"},
            )
            await session.delete(doc)
    finally:
        await runner.cleanup()  # the server's shutdown lets the log catch up first
    return await asyncio.to_thread(log.read_text, encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("log", type=Path, help="file to append the JSON lines to")
    parser.add_argument("port", type=int, nargs="?", default=3000, help="default 3000")
    args = parser.parse_args()
    print(asyncio.run(main(args.log, args.port)), end="")
