"""Log lines: each names the request it belongs to, the one its answer names; refusals say why.

A real `kluis serve --log-level debug` process writes the log, so the format, the filter and the
access log are the ones an operator gets.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import aiohttp

from pod import logs
from tests.support import (
    free_port,
    kluis_process,
    seed_open_storage,
    stop_process,
    wait_until_serving,
)

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \[([^\]]+)\] ")


def lines_of(log: Path) -> list[str]:
    text = log.read_text()
    assert "Traceback" not in text, text
    return text.splitlines()


async def test_every_line_of_a_request_carries_the_id_its_answer_names(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    data = tmp_path / "data"
    seed_open_storage(data, "open")
    log = tmp_path / "kluis.log"
    with kluis_process(port, log, "--data-dir", str(data), "--log-level", "debug") as proc:
        await wait_until_serving(base, proc)
        async with aiohttp.ClientSession() as s:
            async with s.put(
                base + "open/bad.ttl",
                data=b"<#a> <#b> .",
                # a client cannot choose the id: it could name another request's lines
                headers={"Content-Type": "text/turtle", "X-Request-Id": "chosen-by-client"},
            ) as r:
                assert r.status == 400
                problem = await r.json()
                request_id = r.headers["X-Request-Id"]
            async with s.put(
                base + "open/good.ttl",
                data=b"<#a> <#b> <#c> .",
                headers={"Content-Type": "text/turtle"},
            ) as r:
                assert r.status == 201
                other_id = r.headers["X-Request-Id"]
        stop_process(proc)
    assert problem["requestId"] == request_id
    assert request_id != "chosen-by-client"
    assert other_id != request_id
    lines = lines_of(log)
    assert all(LINE.match(line) for line in lines), lines
    assert "chosen-by-client" not in log.read_text()
    mine = [line for line in lines if f"[{request_id}]" in line]
    # Every line about the request carries its id: the reason of the refusal, once, at debug
    # level, and the access log line.
    about = [line for line in lines if "/open/bad.ttl" in line]
    assert about == mine
    refusals = [line for line in mine if " DEBUG " in line and "pod.http.errors" in line]
    assert len(refusals) == 1
    assert f"pod.http.errors: 400 PUT /open/bad.ttl: {problem['detail']}" in refusals[0]
    access = [line for line in mine if "pod.access" in line]
    assert len(access) == 1
    assert ' "PUT /open/bad.ttl HTTP/1.1" 400 ' in access[0]
    assert [line for line in lines if f"[{other_id}]" in line and "pod.access" in line]
    # Lines outside any request show "-".
    started = [line for line in lines if "Kluis" in line and "serving" in line]
    assert len(started) == 1
    assert " INFO [-] pod.app: " in started[0]


async def test_query_strings_stay_out_of_the_log(tmp_path: Path) -> None:
    """A query string can carry a token (an ID token as `id_token_hint`) or a code."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    log = tmp_path / "kluis.log"
    with kluis_process(port, log, "--storage", "memory", "--log-level", "debug") as proc:
        await wait_until_serving(base, proc)
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                base + ".oidc/session/end",
                params={"id_token_hint": "eyJ-not-to-be-logged", "state": "s"},
            ) as r,
        ):
            assert r.status == 200  # the confirmation page
            request_id = r.headers["X-Request-Id"]
        stop_process(proc)
    text = log.read_text()
    assert "not-to-be-logged" not in text
    assert f'INFO [{request_id}] pod.access: 127.0.0.1 "GET /.oidc/session/end HTTP/1.1" 200' in (
        text
    )


def test_a_message_is_one_line_whatever_it_quotes() -> None:
    """CWE-117: text a client sent (a path, a parser's quote of a body) cannot forge a line."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.LineFormatter())
    logger = logging.getLogger("tests.logs.injection")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        token = logs.REQUEST_ID.set("abc-1")
        try:
            logger.warning("bad body: %s", "x\n2026-01-01 00:00:00,000 INFO [-] pod.app: forged\r")
        finally:
            logs.REQUEST_ID.reset(token)
        logger.warning("outside a request")
    finally:
        logger.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert " WARNING [abc-1] tests.logs.injection: bad body: x\\n2026-01-01" in lines[0]
    assert lines[0].endswith("forged\\r")
    assert " WARNING [-] tests.logs.injection: outside a request" in lines[1]
