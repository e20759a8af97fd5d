"""The access log: one line per request, carrying the request's id. Imports http.keys.

A line reads `ADDRESS "METHOD PATH HTTP/VERSION" STATUS BYTES SECONDS "USER-AGENT"`. Unlike
aiohttp's default format it leaves out the query string and the Referer: both can carry a token
or a code that passed through a sign-in (`id_token_hint` on the logout endpoint, an app's
callback URL with `code=`), and a log must never hold one.
"""

from __future__ import annotations

import logging
from typing import final

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from pod.http.keys import REQUEST_ID


@final
class AccessLogger(AbstractAccessLogger):
    """For `web.AppRunner(access_log_class=AccessLogger)`; aiohttp ignores the format string."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        version = request.version
        line = (
            f'{request.remote or "-"} "{request.method} {request.rel_url.raw_path} '
            f'HTTP/{version.major}.{version.minor}" {response.status} {response.body_length} '
            f'{time:.3f}s "{request.headers.get("User-Agent", "-")[:200]}"'
        )
        # The request id travels explicitly: a request aiohttp refused before any middleware
        # ran (a malformed head) has none, and shows "-".
        self.logger.info("%s", line, extra={"request_id": request.get(REQUEST_ID, "-")})

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
