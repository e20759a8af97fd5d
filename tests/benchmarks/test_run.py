"""The benchmark run's own logic: scenario selection, the event loop and memory it reports."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from benchmarks import bare, growth, run
from benchmarks.scenarios import SCENARIOS


def test_default_run_has_every_scenario_and_every_growth_size() -> None:
    assert run.parse_args([]).scenario == [*SCENARIOS, *growth.CASES]


def test_growth_selects_the_growth_sizes_once() -> None:
    args = run.parse_args(["--scenario", "a,d10,growth", "--quick"])
    assert args.scenario == ["a", "d10", *(k for k in growth.CASES if k != "d10")]
    assert (args.duration, args.warmup) == (2, 1)


def test_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run.parse_args(["--scenario", "a,d100k"])
    assert "unknown scenario ['d100k']" in capsys.readouterr().err


def test_long_runs_are_refused_only_for_signed_scenarios() -> None:
    assert run.parse_args(["--scenario", "growth", "--duration", "60"]).duration == 60
    with pytest.raises(SystemExit):
        run.parse_args(["--scenario", "g,growth", "--duration", "60"])


@pytest.mark.parametrize(
    ("peak", "measured", "met"),
    [(128.4, "128 MB", True), (150.0, "150 MB", False), (None, "n/a", False)],
)
def test_peak_rss_target_is_below_150_mb(peak: float | None, measured: str, met: bool) -> None:
    target = run.rss_target(peak)
    assert (target["measured"], target["met"]) == (measured, met)


@contextmanager
def _process(code: str) -> Iterator[int]:
    """A Python process that has run `code`, alive until the block ends; its pid."""
    with subprocess.Popen(
        [sys.executable, "-c", code + "\nprint('ready', flush=True)\nimport time; time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n"
            yield child.pid
        finally:
            child.kill()


def test_event_loop_is_read_from_the_process() -> None:
    with _process("import asyncio") as pid:
        assert run.event_loop(pid) == "asyncio"
    pytest.importorskip("uvloop")
    with _process("import uvloop") as pid:
        assert run.event_loop(pid) == "uvloop"


def test_bare_server_takes_uvloop_when_it_can() -> None:
    uvloop = pytest.importorskip("uvloop")
    for choice, kind in (("auto", uvloop.Loop), ("uvloop", uvloop.Loop)):
        loop = bare.new_loop(choice)
        try:
            assert isinstance(loop, kind)
        finally:
            loop.close()
    loop = bare.new_loop("asyncio")
    try:
        assert isinstance(loop, asyncio.BaseEventLoop)
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def _figures(rate: float) -> dict[str, Any]:
    return {
        "ok_per_second": rate, "p50_ms": 5.0, "p99_ms": 9.0, "non2xx": 0, "socket_errors": 0,
        "sample_status": 0, "sample_body": "", "other_cores": 0.0, "out_of_proofs": False,
        "peak_rss_mb": 90.0,
    }  # fmt: skip


def test_report_names_each_server_s_loop_and_has_the_growth_table() -> None:
    report = {
        "date": "2026-12-07T00:00:00+00:00",
        "environment": {
            "commit": "abc", "cpu": "cpu", "loader": "wrk", "connections": 32, "duration_s": 10,
            "warmup_s": 2, "pinned": {"server": 0, "load": 1}, "nice": -15,
        },
        "scenarios": {
            "a": {"title": "GET", "kluis": _figures(3000), "bare": _figures(9000), "ratio": 0.333}
        },
        "growth": {
            "c10": {"title": "GET container", "family": "c", "size": 10, "size_after": 10,
                    "kluis": _figures(2000)},
        },
        "notes": {"event_loop": {"kluis": "asyncio", "bare": "uvloop"}, "bytes": {"a": 1300},
                  "kluis_peak_rss_mb": 120.0, "kluis_peak_rss_mb_before_growth": 110.0},
        "targets": [run.rss_target(120.0)],
    }  # fmt: skip
    text = run.markdown(report)
    assert "Event loops: kluis asyncio, bare uvloop." in text
    assert "| (c10) GET container | 10 | 2,000 | 5.0 | 9.0 | 0 | 100% | 100% | 90 |" in text
    assert "- Kluis peak RSS over the whole run < 150 MB: 120 MB (met)" in text
    assert "Kluis peak RSS 120.0 MB (110.0 MB before the growth scenarios)." in text


def test_idle_means_a_whole_second_without_work() -> None:
    # A thread that starts working after the process says it is ready, for a second of CPU.
    busy = (
        "import threading, time\n"
        "def spin():\n"
        "    time.sleep(0.2)\n"
        "    end = time.process_time() + 1.0\n"
        "    while time.process_time() < end: pass\n"
        "threading.Thread(target=spin).start()"
    )
    with _process(busy) as pid:
        waited = run.wait_idle(pid)
    with _process("pass") as pid:
        quiet = run.wait_idle(pid)
    assert 0.9 <= quiet < 1.5
    assert waited >= 1.0 + quiet - 0.2  # the busy second, then the quiet one
