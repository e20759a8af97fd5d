"""Log lines that name their request: the request-id context, its filter and the line format.
Imports nothing of pod.

The HTTP layer sets `REQUEST_ID` for the task that handles a request; `RequestIdFilter` copies it
onto every record logged in that task (or in a thread or task it starts, which copy the context),
whichever module logs it, aiohttp's included. Lines logged outside a request show `-`.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from typing import Final, TextIO

REQUEST_ID: Final[ContextVar[str]] = ContextVar("request_id", default="-")
FORMAT: Final = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
# Every C0 control but tab, and DEL: a newline would let text a client chose start a line of its
# own, forged to look like ours (CWE-117).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class RequestIdFilter(logging.Filter):
    """Give each record the id of the request being handled where it was logged, unless the
    record names one already (the access log line passes its request's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class LineFormatter(logging.Formatter):
    """`FORMAT`, one line per message: control characters in a message are escaped (`\\n`),
    so a path or header value in it cannot forge lines. A traceback still follows on lines of
    its own."""

    def __init__(self) -> None:
        super().__init__(FORMAT, defaults={"request_id": "-"})

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        if not _CONTROL.search(message):
            return super().formatMessage(record)
        record.message = _CONTROL.sub(_escape, message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


def _escape(match: re.Match[str]) -> str:
    return match[0].encode("unicode_escape").decode("ascii")


def configure(level: str, *, stream: TextIO | None = None) -> None:
    """Log to `stream` (standard error) at `level`, each line with its request id."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(LineFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
