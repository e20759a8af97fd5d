"""Work that hostile input could make run away, done in a worker process with a time limit.
Imports errors only.

Parsing a SPARQL Update with rdflib's grammar (pyparsing) costs up to hundreds of microseconds
per byte of hostile input, and nothing in it can be interrupted. A thread would still hold the
interpreter lock the event loop needs, so the work runs in a separate process instead: the event
loop only waits on a pipe, and a call that overruns its limit gets its process killed (the next
call starts a fresh one). Calls to one process are served one at a time, in order.

The functions run must be importable (they are pickled by name) and pure: their arguments and
results cross the pipe by pickle, and a PodError they raise is raised again in the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final, TypeVar, final

from pod.errors import PodError

log = logging.getLogger(__name__)
T = TypeVar("T")
# A fresh interpreter for the worker: forking a process that runs an event loop and threads can
# copy a lock some thread holds, and the child would wait on it forever.
_CONTEXT: Final = multiprocessing.get_context("spawn")


_STARTED: Final = "started"
_START_SECONDS: Final = 60.0


class Overrun(Exception):
    """The work did not finish within the time limit; its process was killed."""


class WorkerCrashed(Exception):
    """The worker process ended before it answered (killed from outside, out of memory...)."""


@final
class IsolatedWorker:
    """One worker process, started on first use, running one call at a time."""

    def __init__(self, *, name: str = "kluis-worker") -> None:
        self.name = name
        self._lock = asyncio.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    async def run(self, seconds: float, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in the worker process, within `seconds`.

        Raises Overrun after `seconds` (the process is killed), WorkerCrashed if the process
        dies, or the PodError `fn` raised.
        """
        async with self._lock:
            conn = await self._connection()
            conn.send((fn, args, kwargs))
            # The limit is on the work: a fresh worker first starts an interpreter and imports
            # the function's modules, which a loaded machine can take seconds over.
            started = False
            try:
                async with asyncio.timeout(_START_SECONDS):
                    started = await self._receive(conn) == _STARTED
                if not started:
                    raise EOFError("the worker did not acknowledge the call")
                async with asyncio.timeout(seconds):
                    ok, value = await self._receive(conn)
            except TimeoutError:
                await self._stop(kill=True)
                if not started:
                    raise WorkerCrashed(
                        f"the worker process did not start within {_START_SECONDS:g} s"
                    ) from None
                raise Overrun(f"the work took longer than {seconds:g} s") from None
            except (EOFError, OSError) as exc:
                await self._stop(kill=True)
                raise WorkerCrashed(f"the worker process ended: {exc!r}") from exc
            except asyncio.CancelledError:
                # The caller gave up (shutdown): the worker's answer would reach the next call.
                self._abandon()
                raise
        if ok:
            result: T = value
            return result
        raise value

    async def _connection(self) -> Connection:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            return self._conn
        await self._stop(kill=True)
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=_serve, args=(child,), name=self.name, daemon=True)
        # Starting a spawned interpreter blocks for tens of milliseconds: not on the loop.
        await asyncio.to_thread(process.start)
        child.close()
        self._process, self._conn = process, parent
        return parent

    @staticmethod
    async def _receive(conn: Connection) -> Any:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = conn.fileno()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        # Each message is one pickle; the worker writes it whole as soon as it is ready.
        return await asyncio.to_thread(conn.recv)

    def _abandon(self) -> None:
        """Kill the worker without waiting for it (it is reaped by multiprocessing)."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.kill()

    async def _stop(self, *, kill: bool) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            if not kill:
                with contextlib.suppress(OSError, ValueError):
                    conn.send(None)
            conn.close()
        if process is not None:
            if kill:
                process.kill()
            await asyncio.to_thread(process.join, 5)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)

    @property
    def pid(self) -> int | None:
        """The worker process's id, while it runs."""
        return None if self._process is None else self._process.pid

    async def close(self) -> None:
        """Stop the worker process (it finishes the call it is on, if any, first)."""
        async with self._lock:
            await self._stop(kill=False)


# Parsers written as recursive descent (rdflib's SPARQL grammar on pyparsing) recurse a few
# dozen frames per nested group and several per triple pattern: the worker's calls run in a
# thread with a large stack and a high recursion limit, so that a where clause of thousands of
# patterns parses, while nesting thousands deep still ends in a RecursionError within a second.
_STACK_BYTES: Final = 512 * 1024 * 1024
_RECURSION_LIMIT: Final = 40_000


def _serve(conn: Connection) -> None:
    """The worker process: answer calls, on a thread with a deep stack (see above)."""
    threading.stack_size(_STACK_BYTES)
    sys.setrecursionlimit(_RECURSION_LIMIT)
    worker = threading.Thread(target=_answer, args=(conn,), name="kluis-worker")
    worker.start()
    worker.join()


def _answer(conn: Connection) -> None:
    """Answer calls until told to stop (None) or the pipe closes."""
    while True:
        try:
            call = conn.recv()
        except (EOFError, OSError):
            return
        if call is None:
            return
        conn.send(_STARTED)  # unpickling the call imported what it needs: the work starts now
        fn, args, kwargs = call
        try:
            answer: tuple[bool, Any] = (True, fn(*args, **kwargs))
        except PodError as exc:
            answer = (False, exc)
        except Exception as exc:  # a bug: reported to the caller, whose error boundary logs it
            answer = (False, RuntimeError(f"{type(exc).__name__}: {exc}"))
        try:
            conn.send(answer)
        except Exception as exc:  # the result did not pickle: a bug, reported the same way
            conn.send((False, RuntimeError(f"unpicklable result: {exc}")))
