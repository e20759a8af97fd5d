"""Write events: what changed in storage, for notifications and the access log to listen to.

The store emits one event per change after it is durable; listeners never slow a write down
beyond their own synchronous work (they should queue, not deliver, inside `__call__`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import final

log = logging.getLogger(__name__)


class Change(Enum):
    """Activity Streams activity names, as Solid Notifications uses them."""

    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"
    ADD = "Add"  # a child was added to a container
    REMOVE = "Remove"  # a child was removed from a container


@final
@dataclass(frozen=True, slots=True)
class ResourceEvent:
    change: Change
    path: str
    version: str | None = None  # the new version; None after a delete
    child: str | None = None  # for ADD / REMOVE: the child's path
    published: float = field(default_factory=time.time)


Listener = Callable[[ResourceEvent], None]


@final
class EventBus:
    """Fan-out of ResourceEvents to listeners. A failing listener is logged, never fatal."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it again."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: ResourceEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed on %s", event)
