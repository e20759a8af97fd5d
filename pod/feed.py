"""The change feed: one typed event per write, which every cache and index follows.

Imports model and logs only. Every write in Kluis, a resource (ACLs and group documents included)
or a key-value record (accounts, tokens, revocations, ...), publishes one event saying what
changed, its new version, who changed it and in which request. Caches and indexes subscribe here
and nowhere else; nothing invalidates by hand.

Events are plain data, made for a feed that crosses processes: a listener is never told which
process wrote, and `encode`/`decode` give the JSON a feed between workers carries. `LocalFeed`
is the feed of one process. Its plain listeners run inside `publish`, before the write answers,
so a revocation holds for the next request; they must be quick (drop a cache entry, set a flag).
Async consumers (an access log, an index) each get a bounded queue drained by their own task,
so a slow one never slows a write; when a queue overflows the oldest events are dropped and
counted (`Consumer.missed`), so a consumer that must see everything knows to resynchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Protocol, final

from pod.logs import REQUEST_ID
from pod.model import Metadata

log = logging.getLogger(__name__)


class Change(Enum):
    """Activity Streams activity names, as Solid Notifications uses them
    (https://solidproject.org/TR/notifications-protocol#activity-types)."""

    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"
    ADD = "Add"  # a child was added to a container
    REMOVE = "Remove"  # a child was removed from a container


@final
@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: the WebID and client app of the request, and the request's id.
    All None for the server's own work (start-up, maintenance)."""

    webid: str | None = None
    client_id: str | None = None
    request_id: str | None = None


SERVER: Final = Actor()
DRAIN_SECONDS: Final = 5.0  # how long `close` lets consumers work through their queues
# The agent of the request being handled, set by the HTTP layer once it has authenticated it.
# A context variable, like the request id in `pod.logs`: every write deep in a service reaches
# the feed with its actor without each layer passing it along.
_AGENT: Final[ContextVar[tuple[str | None, str | None]]] = ContextVar("agent", default=(None, None))


def act_as(webid: str | None, client_id: str | None) -> None:
    """Name the agent of the current request (its task and what it starts)."""
    _AGENT.set((webid, client_id))


def current_actor() -> Actor:
    webid, client_id = _AGENT.get()
    request_id = REQUEST_ID.get()
    if webid is None and client_id is None and request_id == "-":
        return SERVER
    return Actor(webid, client_id, None if request_id == "-" else request_id)


@final
@dataclass(frozen=True, slots=True)
class ResourceChanged:
    """A resource was created, updated or deleted, or a container gained or lost a child.

    `metadata` is the resource's metadata after the change (None after a delete, and for ADD and
    REMOVE, which concern the container's listing, not its own description)."""

    change: Change
    path: str
    metadata: Metadata | None = None
    child: str | None = None  # ADD / REMOVE: the child's path
    actor: Actor = SERVER
    published: float = field(default_factory=time.time)

    @property
    def version(self) -> str | None:
        return None if self.metadata is None else self.metadata.version


@final
@dataclass(frozen=True, slots=True)
class RecordChanged:
    """A key-value record was created, replaced (UPDATE) or removed (DELETE)."""

    change: Change
    namespace: str
    key: str
    actor: Actor = SERVER
    published: float = field(default_factory=time.time)


Event = ResourceChanged | RecordChanged
Listener = Callable[[Event], None]
Consume = Callable[[Event], Awaitable[None]]


class ChangeFeed(Protocol):
    """Where writes are announced and caches and indexes hear of them."""

    def publish(self, event: Event) -> None:
        """Announce a change that is durable. Never blocks on a consumer."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every event before `publish` returns; returns an unsubscribe."""
        ...

    def consume(self, consumer: Consume, *, name: str, queue: int = 10_000) -> Consumer:
        """Hand every event to the coroutine `consumer`, one at a time, in order, in a task of
        its own, through a queue of at most `queue` events."""
        ...

    async def close(self) -> None:
        """Let consumers finish what is queued (briefly), then stop them."""
        ...


@final
class Consumer:
    """One async consumer of a LocalFeed: its queue, its task and what it missed."""

    def __init__(self, consume: Consume, *, name: str, queue: int) -> None:
        self.name = name
        self.missed = 0  # events dropped because the queue was full
        self._consume = consume
        self._queue: deque[Event] = deque(maxlen=queue)
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def offer(self, event: Event) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.missed += 1
            if self.missed == 1 or self.missed % 1000 == 0:
                log.warning(
                    "change feed consumer %s fell behind: %d events missed", self.name, self.missed
                )
        self._queue.append(event)
        self._idle.clear()
        self._ready.set()
        if self._task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: started on a later offer
                # In a context of its own: not the one of the request whose write came first,
                # whose id and agent would otherwise stick to everything the consumer does.
                self._task = asyncio.get_running_loop().create_task(
                    self._run(), name=f"feed-{self.name}", context=contextvars.Context()
                )

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def _run(self) -> None:
        while True:
            while self._queue:
                event = self._queue.popleft()
                try:
                    await self._consume(event)
                except Exception:
                    log.exception("change feed consumer %s failed on %s", self.name, event)
            self._ready.clear()
            self._idle.set()
            await self._ready.wait()

    async def stop(self) -> None:
        """Wait until the queue is empty (for at most `DRAIN_SECONDS`), then stop the task."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                await self._idle.wait()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None


@final
class LocalFeed:
    """The change feed of one process."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._consumers: list[Consumer] = []

    def publish(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("change feed listener failed on %s", event)
        for consumer in self._consumers:
            consumer.offer(event)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def consume(self, consumer: Consume, *, name: str, queue: int = 10_000) -> Consumer:
        made = Consumer(consumer, name=name, queue=queue)
        self._consumers.append(made)
        return made

    async def close(self) -> None:
        for consumer in self._consumers:
            await consumer.stop()


# --- the wire form, for a feed between processes -------------------------------------------


def encode(event: Event) -> str:
    """`event` as one line of JSON."""
    actor = [event.actor.webid, event.actor.client_id, event.actor.request_id]
    out: dict[str, Any]
    if isinstance(event, ResourceChanged):
        meta = event.metadata
        out = {
            "kind": "resource",
            "change": event.change.value,
            "path": event.path,
            "child": event.child,
            "metadata": None
            if meta is None
            else [
                meta.path,
                meta.is_container,
                meta.content_type,
                meta.version,
                meta.modified,
                meta.size,
                meta.attrs,
            ],
        }
    else:
        out = {
            "kind": "record",
            "change": event.change.value,
            "namespace": event.namespace,
            "key": event.key,
        }
    out["actor"] = actor
    out["published"] = event.published
    return json.dumps(out, separators=(",", ":"))


def decode(line: str) -> Event:
    """The event `encode` gave `line` for; ValueError if it is not one."""
    try:
        data = json.loads(line)
        actor = Actor(*data["actor"])
        change = Change(data["change"])
        if data["kind"] == "resource":
            m = data["metadata"]
            meta = None if m is None else Metadata(m[0], m[1], m[2], m[3], m[4], m[5], dict(m[6]))
            return ResourceChanged(
                change, data["path"], meta, data["child"], actor, float(data["published"])
            )
        if data["kind"] == "record":
            return RecordChanged(
                change, data["namespace"], data["key"], actor, float(data["published"])
            )
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"not a change feed event: {exc}") from exc
    raise ValueError(f"not a change feed event: unknown kind {data.get('kind')!r}")
