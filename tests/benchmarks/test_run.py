"""The benchmark run's own logic: scenario selection, the event loop and memory it reports."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


def _run(rate: float, cores: float) -> dict[str, Any]:
    return {**_figures(rate), "server_cores": cores}


def test_cost_of_authentication_is_the_difference_of_time_per_request() -> None:
    # 1e6/1,600 - 1e6/4,000 = 625 - 250 µs; from CPU time: 0.96/1,600 - 1.0/4,000 = 600 - 250.
    cost = run.auth_cost(_run(4000, 1.0), _run(1600, 0.96), verification_us=85.0)
    assert cost == {
        "cost_us": 375.0, "cpu_cost_us": 350.0, "verification_us": 85.0, "budget_us": 145.0,
        "met": False,
    }  # fmt: skip
    assert run.auth_cost(_run(4000, 1.0), _run(3000, 1.0), verification_us=85.0)["met"]
    unmeasured = run.auth_cost(_run(4000, 1.0), _run(3000, 1.0), verification_us=None)
    assert (unmeasured["budget_us"], unmeasured["met"]) == (None, False)
    failed = run.auth_cost(_run(4000, 1.0), _run(0, 1.0), verification_us=85.0)
    assert (failed["cost_us"], failed["cpu_cost_us"], failed["met"]) == (None, None, False)


def _results() -> dict[str, Any]:
    """f, g, g2 on one core against the bare server; fmt and gmt on Kluis only."""

    def pinned(title: str, kluis: float, bare: float) -> dict[str, Any]:
        return {"title": title, "kluis": _run(kluis, 1.0), "bare": _run(bare, 1.0), "ratio": 0.5}

    return {
        "f": pinned("public", 4000, 8000),
        "g": pinned("ES256", 2500, 7600),
        "g2": pinned("EdDSA", 1000, 8000),
        "fmt": {"title": "public, both cores", "kluis": _run(5000, 1.3)},
        "gmt": {"title": "ES256, both cores", "kluis": _run(4000, 1.6)},
    }


def test_authenticated_runs_are_compared_with_their_public_baseline() -> None:
    results = _results()
    run.compare_public(results, {"ES256": {"us": 100.0}, "EdDSA": {"us": 150.0}})
    assert results["g"]["vs_public"] == {"kluis": 0.625, "bare": 0.95}
    # g: 400 - 250 = 150 µs against 100 + 60; g2: 1,000 - 250 = 750 against 150 + 60.
    assert (results["g"]["cost"]["cost_us"], results["g"]["cost"]["met"]) == (150.0, True)
    assert (results["g2"]["cost"]["budget_us"], results["g2"]["cost"]["met"]) == (210.0, False)
    # Both cores: a ratio against fmt, no cost (the server is not on one core).
    assert results["gmt"]["vs_public"] == {"kluis": 0.8}
    assert "cost" not in results["gmt"]
    assert "vs_public" not in results["f"]
    assert "vs_public" not in results["fmt"]
    g, g2, gmt = run._targets(results, 32)
    assert (g["met"], g2["met"], gmt["met"]) == (True, False, True)
    assert g["measured"] == (
        "150 µs (1e6/2,500 - 1e6/4,000 req/s); verification alone 100 µs, budget 160 µs"
    )
    assert "(g2, DPoP EdDSA)" in g2["target"]
    assert "(gmt)" in gmt["target"]
    assert gmt["measured"] == "80% (4,000 of 5,000 req/s)"


def test_without_its_baseline_a_run_has_no_comparison() -> None:
    results = {k: v for k, v in _results().items() if k not in ("f", "fmt")}
    run.compare_public(results, {"ES256": {"us": 100.0}})
    assert not any("vs_public" in row or "cost" in row for row in results.values())
    assert run._targets(results, 32) == []


def test_report_puts_both_core_runs_in_their_own_table() -> None:
    results = _results()
    verification = {"ES256": {"us": 100.0, "rounds_us": [99.0, 100.0, 104.0], "count": 200}}
    run.compare_public(results, verification)
    report = {
        "date": "2026-12-07T00:00:00+00:00",
        "environment": {
            "commit": "abc", "cpu": "cpu", "loader": "wrk", "connections": 32, "duration_s": 10,
            "warmup_s": 2, "pinned": {"server": 0, "load": 1}, "nice": -15,
        },
        "scenarios": results,
        "verification": verification,
        "growth": {},
        "notes": {"event_loop": {"kluis": "uvloop"}, "bytes": {"f": 1300},
                  "kluis_peak_rss_mb": 100.0, "kluis_both_cores_peak_rss_mb": 90.0},
        "targets": run._targets(results, 32),
    }  # fmt: skip
    text = run.markdown(report)
    assert "| (gmt) ES256, both cores | 4,000 | 5.0 | 9.0 | 0 | 1.60 | 80% |" in text
    assert (
        "| (g) ES256 | 2,500 | 5.0 | 9.0 | 1.00 | 62% | 7,600 | 95% | 150 | 150 | 100 | 160 |"
        in (text)
    )
    # EdDSA was not measured alone, so g2 has no budget.
    assert "| 750 | 750 | n/a | n/a |" in text
    assert "ES256 100.0 µs (rounds 99.0-104.0)" in text
    assert "| (fmt)" not in text.split("Authenticated against public")[0]  # not in the main table
    assert "100.0 MB, 90.0 MB in its run on both cores." in text


def test_unpinned_server_may_use_every_core_the_run_may() -> None:
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 or shutil.which("taskset") is None:
        pytest.skip("pinning needs taskset and two cores")
    options = run.Options(
        duration=1, warmup=0, connections=1, loader="python", server_cpu=cores[0],
        load_cpu=cores[1], workdir=Path(tempfile.mkdtemp(prefix="kluis-bench-test-")),
    )  # fmt: skip
    try:
        for pinned, allowed in ((True, {cores[0]}), (False, set(cores))):
            port = run.free_port()
            command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
            with run.serving("web", command, port, options, pinned=pinned) as server:
                assert os.sched_getaffinity(server.process.pid) == allowed
    finally:
        shutil.rmtree(options.workdir)
