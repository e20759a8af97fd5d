"""The benchmark run: start Kluis and the bare server, set up the data, load each, report.

Kluis runs as `kluis serve` on a fresh data directory (file storage, fsync on, access log off)
and is its own identity provider; the bare server (benchmarks.bare) answers the same bytes from
memory. With taskset and two cores, servers run on the first core and the load generator on the
second. The authenticated scenarios send a DPoP-bound access token from Kluis with a fresh proof
per request; the proofs are written to a file right before each run. Other Solid servers
(benchmarks.peers) run beside them, pinned and loaded alike.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import math
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pyoxigraph as ox
from yarl import URL

from benchmarks import grants, growth, peers
from benchmarks.dpop import Alg, DPoPKey
from benchmarks.drivers import NICE, Loader, find_loader, launcher, run_load, wrk_version
from benchmarks.load import LoadSpec, Measurement
from benchmarks.peers import Peer, Plan
from benchmarks.scenarios import (
    AUTHENTICATED,
    BENCH,
    BIG,
    CHILD,
    CHILDREN,
    DOC,
    DOCUMENT,
    OWNED,
    OWNED_ACL,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    OWNER_POD,
    PATCHED,
    PUBLIC_ACL,
    SCENARIOS,
    SHARED,
    TURTLE,
    Scenario,
)

ROOT = Path(__file__).resolve().parent.parent  # the checkout: `benchmarks` imports from here
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
GET_RATIO_TARGET = 0.50  # issue 13: a and b at >= 50% of the bare server on uvloop
LISTING_P50_TARGET_MS = 50.0
# Issue 13, target 4. On one core, an authenticated GET (g, g2) may cost at most one signature
# verification (measured alone, benchmarks.verify) plus AUTH_BUDGET_US more per request than the
# public GET of the same document (f). With both cores allowed, gmt at AUTH_RATIO_TARGET of fmt.
AUTH_BUDGET_US = 60.0
AUTH_RATIO_TARGET = 0.75
# Issue 14: a GET allowed by a grant among grants.GRANTS (h) at GRANT_RATIO_TARGET of the same
# GET allowed by WAC (hw).
GRANT_RATIO_TARGET = 0.95
# Issue 15 §1: "logging adds < 5% to an authenticated GET": the GET allowed by WAC, each one
# recorded in the owner's access log (hw1), takes less than DISCLOSURE_COST_TARGET more time a
# request than the same GET with the log off (hw0): hw0's rate / hw1's - 1.
DISCLOSURE_COST_TARGET = 0.05
PEAK_RSS_TARGET_MB = 150.0  # Kluis's peak resident memory over the whole run
NOISE_CORES = 0.1  # CPU used by other processes during a run above which the report flags it
# DPoP proofs are written right before each run: for the warm-up PROOF_RATE_GUESS a second
# (more than the bare server serves here), for the measured run PROOF_HEADROOM times the rate of
# its warm-up, at least PROOF_RATE_MIN. A run that uses them all stops early and is flagged.
# Kluis accepts a proof for 60 s after its iat (the second it was written), so a run with
# proofs may last at most MAX_PROOF_RUN_S.
PROOF_RATE_GUESS = 10_000
PROOF_RATE_MIN = 2_000
PROOF_HEADROOM = 2.0
MAX_PROOF_RUN_S = 30
PASSWORD_COST = 10  # scrypt log2 N for the benchmark account: setup in milliseconds


@dataclass(frozen=True, slots=True)
class Options:
    duration: int
    warmup: int
    connections: int
    loader: Loader
    server_cpu: int | None
    load_cpu: int | None
    workdir: Path
    peers: tuple[Peer, ...] = ()  # other Solid servers measured beside Kluis (benchmarks.peers)


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str  # ends with "/"


@dataclass(frozen=True, slots=True)
class BoundToken:
    """An access token from Kluis bound to `key`: sent with a fresh proof by `key` each time."""

    key: DPoPKey
    token: str
    webid: str  # whom it authenticates


@dataclass(frozen=True, slots=True)
class Prepared:
    bodies: dict[str, tuple[str, bytes]]  # the bare server's bodies, by its path
    tokens: dict[Alg, BoundToken]  # the pod owner's tokens, one per DPoP key algorithm
    # The other agents' ES256 tokens (h: "grantee", hw: "member"), through the benchmark's app.
    agents: dict[str, BoundToken] = field(default_factory=dict)
    grants: dict[str, Any] = field(default_factory=dict)  # how the grants' set-up went

    def token_for(self, scenario: Scenario) -> BoundToken | None:
        """The token `scenario` sends (None: anonymous)."""
        if scenario.dpop is None:
            return None
        if scenario.agent == "owner":
            return self.tokens[scenario.dpop]
        return self.agents[scenario.agent]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--duration", type=int, help="seconds measured per run (default 10)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up per run (default 2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s, 1 s warm-up")
    every = [*SCENARIOS, *growth.CASES]
    parser.add_argument(
        "--scenario",
        default=",".join(every),
        help=f"comma-separated: {','.join(every)}; `growth` for {','.join(growth.CASES)}",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument(
        "--peers", default="jss", help="other servers to run beside Kluis: jss (default), none"
    )
    args = parser.parse_args(argv)
    try:
        args.peers = peers.choose(args.peers)
    except ValueError as exc:
        parser.error(str(exc))
    args.scenario = [k.strip() for k in args.scenario.split(",") if k.strip()]
    if "growth" in args.scenario:
        at = args.scenario.index("growth")
        args.scenario[at : at + 1] = [k for k in growth.CASES if k not in args.scenario]
    unknown = [k for k in args.scenario if k not in every]
    if unknown or not args.scenario:
        parser.error(f"unknown scenario {unknown}; choose from {','.join(every)}")
    args.duration = args.duration or (2 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    signed = [k for k in args.scenario if k in SCENARIOS and SCENARIOS[k].dpop]
    if signed and max(args.duration, args.warmup) > MAX_PROOF_RUN_S:
        parser.error(
            f"scenarios {','.join(signed)} send DPoP proofs, which expire 60 s after they are "
            f"written: use --duration and --warmup of at most {MAX_PROOF_RUN_S} s"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = [SCENARIOS[k] for k in args.scenario if k in SCENARIOS]
    cases = [growth.CASES[k] for k in args.scenario if k in growth.CASES]
    cores = sorted(os.sched_getaffinity(0))
    pinned = shutil.which("taskset") is not None and len(cores) >= 2
    if os.getloadavg()[0] > 0.5:
        print(
            f"warning: load average {os.getloadavg()[0]:.1f}: other processes compete for the "
            "cores and will skew the figures",
            file=sys.stderr,
        )
    skipped = ""
    if args.peers:
        try:
            peers.install()
        except peers.PeerUnavailable as exc:
            print(f"warning: running without peers: {exc}", file=sys.stderr)
            args.peers, skipped = (), str(exc)
    with tempfile.TemporaryDirectory(prefix="kluis-bench-") as tmp:
        options = Options(
            duration=args.duration,
            warmup=args.warmup,
            connections=args.connections,
            loader=find_loader(args.loader),
            server_cpu=cores[0] if pinned else None,
            load_cpu=cores[1] if pinned else None,
            workdir=Path(tmp),
            peers=args.peers,
        )
        report = run(scenarios, options, cases)
    if skipped:
        report["notes"]["peers_skipped"] = skipped
    print(markdown(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON results: {args.output}")
    return 0


def run(
    scenarios: list[Scenario], options: Options, cases: Sequence[growth.Case] = ()
) -> dict[str, Any]:
    workdir = options.workdir
    port = free_port()
    kluis_command = [
        str(_kluis_executable()), "serve", "--host", "127.0.0.1", "--port", str(port),
        "--base-url", f"http://127.0.0.1:{port}/", "--data-dir", str(workdir / "data"),
        "--storage", "file", "--access-log", "false", "--password-cost", str(PASSWORD_COST),
    ]  # fmt: skip
    kluis_command += growth.server_options(cases)
    if any(s.agent != "owner" for s in scenarios):
        # The app the grantee and the member sign in with (benchmarks.grants).
        clients = grants.write_static_clients(workdir / "clients.json")
        kluis_command += ["--static-clients", str(clients)]
    # Written before Kluis starts, as the file backend keeps `/bench/.acl`: no one could PUT it
    # without logging in as the owner of the server.
    acl = workdir / "data" / BENCH.strip("/") / ".acl"
    acl.parent.mkdir(parents=True)
    acl.write_text(PUBLIC_ACL)
    growth.write_children(workdir / "data", cases)
    pinned = [s for s in scenarios if s.pinned and not s.kluis_options]
    restarted = [s for s in scenarios if s.pinned and s.kluis_options]
    unpinned = [s for s in scenarios if not s.pinned]
    results: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    verification: dict[str, Any] = {}
    with serving("kluis", kluis_command, port, options) as kluis:
        print(f"Kluis on {kluis.url}; setting up", file=sys.stderr)
        prepared = asyncio.run(setup(kluis.url, {s.key for s in scenarios}))
        if prepared.grants:
            # Kluis's peak so far: the grants given and read into its index, before any load.
            peak = _peak_rss_mb(kluis.process.pid)
            notes["grants"] = {**prepared.grants, "kluis_peak_rss_mb_after_setup": peak}
        asyncio.run(growth.setup(kluis.url, cases))
        notes["event_loop"] = {"kluis": event_loop(kluis.process.pid)}
        bodies = prepared.bodies
        bare_args: list[str] = []
        for name, (content_type, data) in bodies.items():
            (workdir / name).write_bytes(data)
            bare_args += ["--body", f"/{name}={content_type}={workdir / name}"]
        notes["bytes"] = {name: len(data) for name, (_, data) in bodies.items()}
        bare_port = free_port()
        bare_command = [sys.executable, "-m", "benchmarks.bare", "--port", str(bare_port)]
        with (
            serving("bare", bare_command + bare_args, bare_port, options) as bare,
            _peers_serving(pinned, options) as others,
        ):
            notes["event_loop"]["bare"] = event_loop(bare.process.pid)
            for scenario in pinned:
                row: dict[str, Any] = {"title": scenario.title}
                token = prepared.token_for(scenario)
                for server, path in ((kluis, scenario.path), (bare, scenario.bare_path)):
                    print(f"{scenario.key}: {scenario.title} on {server.name}", file=sys.stderr)
                    row[server.name] = measure(scenario, server, path, options, token)
                row["ratio"] = _ratio(row["kluis"], row["bare"])
                # Which scenario raised Kluis's peak, for the memory target.
                peaks = notes.setdefault("kluis_peak_rss_mb_after", {})
                peaks[scenario.key] = _peak_rss_mb(kluis.process.pid)
                for peer, server, plans in others:
                    if scenario.key in plans:
                        _measure_peer(row, scenario, peer, server, plans[scenario.key], options)
                results[scenario.key] = row
            _peer_notes(notes, others, "e" in results)
            # For the cost of g and g2 over f: h and hw are compared with each other.
            algs = sorted({s.dpop for s in pinned if s.dpop is not None and s.public})
            if algs:
                busy = [kluis, bare, *(server for _, server, _ in others)]
                verification = verify_alone(algs, options, idle=busy)
        if "e" in results:
            notes["patched_document"] = asyncio.run(_document_size(kluis.url + PATCHED[1:]))
        # After the others: d's thousands of new files and the large documents stay out of them.
        if cases and pinned:
            notes["kluis_peak_rss_mb_before_growth"] = _peak_rss_mb(kluis.process.pid)
        grown = growth.run_cases(
            cases,
            lambda scenario: measure(scenario, kluis, scenario.path, options),
            lambda case: asyncio.run(growth.size_now(case, kluis.url, workdir / "data")),
        )
        notes["kluis_peak_rss_mb"] = _peak_rss_mb(kluis.process.pid)
    for scenario in restarted:
        # Kluis starts again, pinned, on the same port and data, with the scenario's options.
        command = kluis_command + list(scenario.kluis_options)
        with serving(f"kluis-{scenario.key}", command, port, options) as kluis:
            print(f"{scenario.key}: {scenario.title}", file=sys.stderr)
            results[scenario.key] = {
                "title": scenario.title,
                "kluis": measure(
                    scenario, kluis, scenario.path, options, prepared.token_for(scenario)
                ),
            }
    if unpinned:
        # Kluis starts again, on the same port and data, free to run on every core.
        with serving("kluis", kluis_command, port, options, pinned=False) as kluis:
            notes["event_loop"]["kluis, both cores"] = event_loop(kluis.process.pid)
            for scenario in unpinned:
                print(f"{scenario.key}: {scenario.title}", file=sys.stderr)
                token = prepared.token_for(scenario)
                results[scenario.key] = {
                    "title": scenario.title,
                    "kluis": measure(scenario, kluis, scenario.path, options, token),
                }
            notes["kluis_both_cores_peak_rss_mb"] = _peak_rss_mb(kluis.process.pid)
    compare_public(results, verification)
    compare_grant(results)
    compare_disclosures(results)
    peaks = [notes.get(k) for k in ("kluis_peak_rss_mb", "kluis_both_cores_peak_rss_mb")]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": _environment(options),
        "peers": [peers.describe(p) for p in options.peers if p.runs_any(results)],
        "scenarios": results,
        "verification": verification,
        "growth": grown,
        "notes": notes,
        "targets": [
            *_targets(results, options.connections),
            *growth.targets(grown),
            rss_target(max((p for p in peaks if p is not None), default=None)),
        ],
    }


def verify_alone(
    algs: Sequence[Alg], options: Options, *, idle: Sequence[Server]
) -> dict[str, Any]:
    """The CPU µs of one signature verification per algorithm (benchmarks.verify), measured in
    a process of its own on the server core once every server in `idle` is idle."""
    for server in idle:
        wait_idle(server.process.pid)
    command = [sys.executable, "-m", "benchmarks.verify", *(f"--alg={alg}" for alg in algs)]
    print(f"verification alone ({', '.join(algs)})", file=sys.stderr)
    done = subprocess.run(
        launcher(options.server_cpu) + command, capture_output=True, text=True, check=False,
        cwd=ROOT,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.verify failed ({done.returncode}): {done.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


@contextmanager
def _peers_serving(
    scenarios: list[Scenario], options: Options
) -> Iterator[list[tuple[Peer, Server, dict[str, Plan]]]]:
    """Start each peer that runs one of `scenarios`, pinned like Kluis, and set up its data."""
    with ExitStack() as stack:
        started = []
        for peer in options.peers:
            keys = {s.key for s in scenarios if peer.runs(s.key)}
            if keys:
                data = options.workdir / peer.name
                peers.prepare(data)
                port = free_port()
                command = peers.command(peer, port=port, data=data)
                server = stack.enter_context(serving(peer.name, command, port, options))
                print(f"{peer.label} on {server.url}; setting up", file=sys.stderr)
                started.append((peer, server, asyncio.run(peers.setup(server.url, keys))))
        yield started


def _measure_peer(
    row: dict[str, Any],
    scenario: Scenario,
    peer: Peer,
    server: Server,
    plan: Plan,
    options: Options,
) -> None:
    measured = None
    if plan.path is not None:
        print(f"{scenario.key}: {scenario.title} on {peer.label}", file=sys.stderr)
        measured = measure(scenario, server, plan.path, options)
    row[peer.name] = entry = peers.figures(plan, measured)
    if measured is not None:
        row.setdefault("peer_ratios", {})[peer.name] = peers.ratio(row["kluis"], entry)


def _peer_notes(
    notes: dict[str, Any], others: list[tuple[Peer, Server, dict[str, Plan]]], patched: bool
) -> None:
    """Each running peer's peak memory and, after (e), the size of the document it patched."""
    for peer, server, plans in others:
        notes.setdefault("peers_peak_rss_mb", {})[peer.name] = _peak_rss_mb(server.process.pid)
        path = plans["e"].path if "e" in plans else None
        if patched and path is not None:
            size = asyncio.run(_document_size(server.url + path[1:]))
            notes.setdefault("peers_patched_document", {})[peer.name] = size


def measure(
    scenario: Scenario,
    server: Server,
    path: str,
    options: Options,
    token: BoundToken | None = None,
) -> dict[str, Any]:
    """Warm up, then measure `scenario` against `path` on `server`; its figures as a dict.

    Before each load the server must be idle: requests still running from the previous load
    (wrk drops those in flight when its time is up, the server does not) would slow this one.
    With a `token`, every request carries it and a proof of its own; the proofs for each load
    are written right before it, after the server is idle, and before its CPU time is taken.
    """
    url = server.url + path[1:]
    headers = dict(scenario.headers)
    if token is not None:
        headers["Authorization"] = f"DPoP {token.token}"
    proofs: dict[str, Any] = {}

    def prepare(tag: str, duration: int, rate: float) -> LoadSpec:
        file = ""
        if token is not None:
            count = math.ceil(rate * duration)
            started = time.monotonic()
            written = options.workdir / f"proofs-{scenario.key}{tag}-{server.name}.txt"
            token.key.write_proofs(
                written, count, method=scenario.method, url=url, token=token.token
            )
            proofs.update(proofs_written=count, proofs_write_s=round(time.monotonic() - started, 1))
            file = str(written)
        return LoadSpec(
            method=scenario.method,
            url=url,
            headers=headers,
            body=scenario.body,
            mode=scenario.mode,
            tag=scenario.key + tag,
            connections=scenario.connections or options.connections,
            duration=duration,
            proofs=file,
        )

    def load(spec: LoadSpec) -> Measurement:
        try:
            return run_load(
                spec, loader=options.loader, cpu=options.load_cpu, workdir=options.workdir
            )
        finally:
            if spec.proofs:
                Path(spec.proofs).unlink(missing_ok=True)

    waited = 0.0
    warm: Measurement | None = None
    if options.warmup:
        waited += wait_idle(server.process.pid)
        warm = load(prepare("w", options.warmup, PROOF_RATE_GUESS))
    waited += wait_idle(server.process.pid)
    spec = prepare("m", options.duration, _proof_rate(warm))
    before = _cpu_seconds(server.process.pid)
    m = load(spec)
    after = _cpu_seconds(server.process.pid)
    machine, served, loaded = (b - a for a, b in zip(before, after, strict=True))
    return {
        **dataclasses.asdict(m),
        **proofs,
        "ok_per_second": round(m.ok_per_second, 1),
        "idle_wait_s": round(waited, 1),
        # cores used by the server, and by everything but the server and the load generator:
        # more than a little of the latter means other work on the machine skewed this run.
        "server_cores": round(served / m.seconds, 2),
        "other_cores": round(max(0.0, machine - served - loaded) / m.seconds, 2),
        # the server's peak so far, which shows the run that raised it
        "peak_rss_mb": _peak_rss_mb(server.process.pid),
    }


def _proof_rate(warm: Measurement | None) -> float:
    """Proofs to write per second of the measured run, from its warm-up."""
    if warm is None or not warm.seconds:
        return PROOF_RATE_GUESS
    rate = warm.requests / warm.seconds
    if warm.out_of_proofs:  # the warm-up was cut short, so its rate says too little
        return max(2.0 * PROOF_RATE_GUESS, 2.0 * rate)
    return max(PROOF_RATE_MIN, PROOF_HEADROOM * rate)


# --- servers -----------------------------------------------------------------------------


@contextmanager
def serving(
    name: str, command: list[str], port: int, options: Options, *, pinned: bool = True
) -> Iterator[Server]:
    """Run a server process until the block ends: pinned to the server core, or on every core
    this process may use (`pinned` False)."""
    log = options.workdir / f"{name}{'' if pinned else '-unpinned'}.log"
    cpu = options.server_cpu if pinned else None
    with log.open("wb") as out:
        process = subprocess.Popen(
            launcher(cpu) + command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    try:
        _wait_for_port(port, process, log)
        yield Server(name, process, f"http://127.0.0.1:{port}/")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_idle(pid: int, *, timeout: float = 180.0, quiet: int = 2) -> float:
    """Wait until process `pid` uses under 5% of a core `quiet` half-seconds in a row.

    One quiet half-second is not enough: a server working through a backlog of large
    listings (c10k) can wait that long on memory or the disk, and the next run then met the
    rest of the backlog (no response at all in a 2 s run). Returns the seconds waited.
    """
    started = time.monotonic()
    tick = os.sysconf("SC_CLK_TCK")
    before = _cpu_ticks(pid)
    calm = 0
    while before is not None and time.monotonic() - started < timeout:
        time.sleep(0.5)
        after = _cpu_ticks(pid)
        if after is None:
            break
        calm = calm + 1 if after - before < 0.05 * 0.5 * tick else 0
        if calm >= quiet:
            break
        before = after
    return time.monotonic() - started


def _cpu_seconds(pid: int) -> tuple[float, float, float]:
    """CPU seconds used so far by the machine, by process `pid`, and by our finished children."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(f) for f in _read("/proc/stat").split("\n", 1)[0].split()[1:9]]
    machine = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return machine / tick, (_cpu_ticks(pid) or 0) / tick, children.ru_utime + children.ru_stime


def _cpu_ticks(pid: int) -> int | None:
    """User plus system CPU time of `pid`, all its threads, in clock ticks (None if unknown)."""
    fields = _read(f"/proc/{pid}/stat").rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12]) if len(fields) > 12 else None


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on port {port} within 30 s:\n{log.read_text()}")


def _kluis_executable() -> Path:
    beside = Path(sys.executable).with_name("kluis")  # .venv/bin/kluis next to .venv/bin/python
    found = beside if beside.exists() else shutil.which("kluis")
    if found is None:
        raise SystemExit("no `kluis` command: run `make bench`, which installs it into .venv")
    return Path(found)


# --- setup over HTTP -----------------------------------------------------------------------


async def setup(base: str, keys: set[str]) -> Prepared:
    """Create the documents the scenarios need; the bare server's bodies and the owner's tokens."""
    bodies: dict[str, tuple[str, bytes]] = {}
    tokens: dict[Alg, BoundToken] = {}
    async with aiohttp.ClientSession() as session:

        async def put(path: str, body: str) -> None:
            headers = {"Content-Type": "text/turtle"}
            async with session.put(base + path[1:], data=body, headers=headers) as response:
                if response.status not in (201, 204):
                    raise RuntimeError(
                        f"setup PUT {path}: {response.status} {await response.text()}"
                    )

        async def get(path: str, accept: str) -> tuple[str, bytes]:
            async with session.get(base + path[1:], headers={"Accept": accept}) as response:
                response.raise_for_status()
                return response.headers["Content-Type"], await response.read()

        await put(DOC, DOCUMENT)
        bodies["a"] = await get(DOC, TURTLE["Accept"])
        bodies["b"] = await get(DOC, "application/ld+json")
        if "e" in keys:
            await put(PATCHED, DOCUMENT)
        if keys & {"c", "c1"}:
            limit = asyncio.Semaphore(8)

            async def child(i: int) -> None:
                async with limit:
                    await put(f"{BIG}item-{i:04d}", CHILD)

            await asyncio.gather(*(child(i) for i in range(CHILDREN)))
            bodies["c"] = await get(BIG, TURTLE["Accept"])
        if keys & set(AUTHENTICATED):
            # The owner's ES256 token writes the document; each signed scenario gets its own.
            algs: set[Alg] = {"ES256"}
            algs.update(alg for k in keys if (alg := SCENARIOS[k].dpop) is not None)
            tokens = await _owner_tokens(session, base, algs)
            bodies["f"] = await _owned_document(session, base, tokens)
            if keys & {"h", "hw", "hw0", "hw1"}:
                agents, bodies["h"], found = await _grant_setup(session, base, tokens["ES256"])
                return Prepared(bodies, tokens, agents, found)
    return Prepared(bodies, tokens)


async def _owner_tokens(
    session: aiohttp.ClientSession, base: str, algs: set[Alg]
) -> dict[Alg, BoundToken]:
    """Sign up with a pod, create client credentials, and get one access token per key."""
    webid, basic = await _account(session, base, email=OWNER_EMAIL, pod=OWNER_POD)
    return await _client_credentials(session, base, webid=webid, basic=basic, algs=algs)


async def _account(
    session: aiohttp.ClientSession, base: str, *, email: str, pod: str
) -> tuple[str, str]:
    """Sign up with a pod and create client credentials; the WebID and the client's HTTP
    Basic authorization."""

    async def post(path: str, body: dict[str, str], **headers: str) -> dict[str, Any]:
        async with session.post(base + path, json=body, headers=headers) as response:
            found: dict[str, Any] = await response.json()
            if response.status not in (200, 201):
                raise RuntimeError(f"setup POST /{path}: {response.status} {found}")
            return found

    account = {"email": email, "password": OWNER_PASSWORD}
    webid = str((await post(".account/api/accounts", {**account, "pod": pod}))["webId"])
    api = (await post(".account/api/login", account))["token"]
    credential = await post(
        ".account/api/credentials",
        {"webId": webid, "name": "benchmarks"},
        Authorization=f"Bearer {api}",
    )
    # HTTP Basic with form-encoded id and secret (RFC 6749 §2.3.1).
    pair = f"{quote(credential['clientId'], safe='')}:{quote(credential['clientSecret'], safe='')}"
    return webid, "Basic " + base64.b64encode(pair.encode()).decode()


async def _client_credentials(
    session: aiohttp.ClientSession, base: str, *, webid: str, basic: str, algs: set[Alg]
) -> dict[Alg, BoundToken]:
    """One access token for `webid` per key algorithm, by the client credentials grant."""
    token_url = base + ".oidc/token"
    tokens: dict[Alg, BoundToken] = {}
    for alg in sorted(algs):
        key = DPoPKey(alg)
        async with session.post(
            token_url,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic, "DPoP": key.proof("POST", token_url)},
        ) as response:
            issued: dict[str, Any] = await response.json()
        if response.status != 200 or issued.get("token_type") != "DPoP":
            raise RuntimeError(f"setup: no DPoP-bound token for {alg}: {response.status} {issued}")
        tokens[alg] = BoundToken(key, str(issued["access_token"]), webid)
    return tokens


async def _owned_document(
    session: aiohttp.ClientSession, base: str, tokens: dict[Alg, BoundToken]
) -> tuple[str, bytes]:
    """PUT OWNED and its ACL as the owner; check it reads the same for the public and the owner.

    Returns its type and bytes (for the bare server).
    """
    url = base + OWNED[1:]
    owner = tokens["ES256"]
    await _put_with_acl(
        session, url, DOCUMENT, owner=owner, acl=OWNED_ACL.format(owner=owner.webid, document=url)
    )
    async with session.get(url, headers=TURTLE) as response:
        if response.status != 200:
            raise RuntimeError(f"setup: anonymous GET {url}: {response.status}")
        public = response.headers["Content-Type"], await response.read()
    for alg, by in tokens.items():
        async with session.get(url, headers={**TURTLE, **_signed("GET", url, by)}) as response:
            allowed = response.headers.get("WAC-Allow", "")
            if response.status != 200 or "control" not in allowed.split(",", 1)[0]:
                raise RuntimeError(
                    f"setup: GET {url} as the owner ({alg}): {response.status}, WAC-Allow "
                    f"{allowed!r}: {await response.text()}"
                )
            if await response.read() != public[1]:
                raise RuntimeError(f"setup: GET {url} as the owner answered other bytes")
    return public


def _signed(method: str, target: str, by: BoundToken) -> dict[str, str]:
    """The headers of one request with `by`'s token and a fresh proof."""
    proof = by.key.proof(method, target, token=by.token)
    return {"Authorization": f"DPoP {by.token}", "DPoP": proof}


async def _put_with_acl(
    session: aiohttp.ClientSession, url: str, body: str, *, owner: BoundToken, acl: str
) -> None:
    """PUT a Turtle document and then its ACL (found through its Link rel=acl) as `owner`."""

    async def put(target: str, data: str) -> None:
        headers = {"Content-Type": "text/turtle", **_signed("PUT", target, owner)}
        async with session.put(target, data=data, headers=headers) as response:
            if response.status not in (201, 204):
                raise RuntimeError(f"setup PUT {target}: {response.status} {await response.text()}")

    await put(url, body)
    async with session.head(url, headers=_signed("HEAD", url, owner)) as response:
        acl_link = response.links.get("acl")
    if acl_link is None:
        raise RuntimeError(f"setup: HEAD {url} answered {response.status} without Link rel=acl")
    await put(str(URL(url).join(URL(str(acl_link["url"])))), acl)


async def _grant_setup(
    session: aiohttp.ClientSession, base: str, owner: BoundToken, *, count: int = grants.GRANTS
) -> tuple[dict[str, BoundToken], tuple[str, bytes], dict[str, Any]]:
    """What h and hw need (benchmarks.grants): the grantee's and the member's tokens through
    the benchmark's app, SHARED with its ACL, the grantee's grant among `count`; checked.

    Returns the two tokens, SHARED's type and bytes (for the bare server), and how long the
    grants took to give and to be read.
    """
    started = time.monotonic()
    url = base + SHARED[1:]
    agents: dict[str, BoundToken] = {}
    others: dict[str, BoundToken] = {}  # the same people through their client credentials
    for name, email, pod in (
        ("grantee", grants.GRANTEE_EMAIL, grants.GRANTEE_POD),
        ("member", grants.MEMBER_EMAIL, grants.MEMBER_POD),
    ):
        webid, basic = await _account(session, base, email=email, pod=pod)
        others[name] = (
            await _client_credentials(session, base, webid=webid, basic=basic, algs={"ES256"})
        )["ES256"]
        key = DPoPKey("ES256")
        issued = await grants.app_token(
            base, email=email, password=OWNER_PASSWORD, webid=webid, key=key
        )
        agents[name] = BoundToken(key, str(issued["access_token"]), webid)
    acl = grants.SHARED_ACL.format(owner=owner.webid, member=agents["member"].webid, document=url)
    await _put_with_acl(session, url, DOCUMENT, owner=owner, acl=acl)
    given = await grants.give_grants(
        session,
        grants.grants_api(base, OWNER_POD),
        owner=lambda method, target: _signed(method, target, owner),
        first=grants.grant_body(
            recipient=agents["grantee"].webid, client=grants.APP_ID, resource=url
        ),
        others=lambda n: grants.other_grant(n, resource=url),
        count=count,
    )

    async def get(by: BoundToken | None) -> tuple[int, str, str, bytes]:
        headers = {**TURTLE, **(_signed("GET", url, by) if by is not None else {})}
        async with session.get(url, headers=headers) as response:
            return (
                response.status,
                response.headers.get("WAC-Allow", ""),
                response.headers.get("Content-Type", ""),
                await response.read(),
            )

    # The first GETs after the grants were given read them into Kluis's index.
    first_read = time.monotonic()
    status, _, content_type, body = await get(owner)
    if status != 200:
        raise RuntimeError(f"setup: GET {url} as the owner: {status}")
    read_s = 0.0
    expected = {
        # Let in by its grant, with Read only (user="read" in WAC-Allow) and the same bytes...
        "grantee": (agents["grantee"], 200),
        # ...and by nothing else: the same person through another app is refused, so no ACL
        # lets the grantee in.
        "grantee, other app": (others["grantee"], 403),
        # The member is let in by the ACL whatever its app: no grant names the benchmark's
        # app for it, and none can name its client credentials.
        "member": (agents["member"], 200),
        "member, other app": (others["member"], 200),
        "public": (None, 401),
    }
    for who, (by, want) in expected.items():
        status, allowed, _, data = await get(by)
        if status != want:
            raise RuntimeError(f"setup: GET {url} as {who}: {status}, expected {want}")
        if want == 200 and (grants.wac_allow_user(allowed) != {"read"} or data != body):
            raise RuntimeError(f"setup: GET {url} as {who}: WAC-Allow {allowed!r}, other bytes")
        if who == "grantee":
            read_s = round(time.monotonic() - first_read, 1)
    return (
        agents,
        (content_type, body),
        {
            "count": given.count,
            "concurrency": grants.CONCURRENCY,
            "give_s": given.seconds,
            "per_second": round(given.count / given.seconds) if given.seconds else None,
            "first_read_s": read_s,
            "setup_s": round(time.monotonic() - started, 1),
        },
    )


async def _document_size(url: str) -> dict[str, int]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=TURTLE) as response:
        data = await response.read()
    return {
        "bytes": len(data),
        "triples": len(list(ox.parse(data, ox.RdfFormat.TURTLE, base_iri=url))),
    }


# --- reporting ------------------------------------------------------------------------------


def _ratio(kluis: dict[str, Any], bare: dict[str, Any]) -> float | None:
    if not bare["ok_per_second"]:
        return None
    ratio: float = kluis["ok_per_second"] / bare["ok_per_second"]
    return round(ratio, 3)


def _targets(results: dict[str, Any], connections: int) -> list[dict[str, Any]]:
    targets = []
    for key in ("a", "b"):
        if key in results:
            ratio = results[key]["ratio"]
            targets.append(
                {
                    "target": f"public GET of a small document ({key}: "
                    f"{SCENARIOS[key].title}) >= {GET_RATIO_TARGET:.0%} of bare",
                    "measured": f"{ratio:.0%}" if ratio is not None else "n/a",
                    "met": ratio is not None and ratio >= GET_RATIO_TARGET,
                }
            )
    for key in ("c", "c1"):
        if key in results:
            p50 = results[key]["kluis"]["p50_ms"]
            label = "1 connection" if key == "c1" else f"{connections} connections"
            targets.append(
                {
                    "target": f"{CHILDREN:,}-child container listing p50 < "
                    f"{LISTING_P50_TARGET_MS:.0f} ms ({label})",
                    "measured": _ms(p50) + " ms",
                    "met": p50 is not None and p50 < LISTING_P50_TARGET_MS,
                }
            )
    for key in ("g", "g2"):
        if "cost" in results.get(key, {}):
            targets.append(cost_target(key, results))
    if "vs_wac" in results.get("h", {}):
        targets.append(grant_target(results))
    if any("vs_log_off" in results.get(k, {}) for k in ("hw", "hw1")):
        targets.append(disclosure_target(results))
    if "vs_public" in results.get("gmt", {}):
        ratio = results["gmt"]["vs_public"]["kluis"]
        measured = "n/a"
        if ratio is not None:
            public, signed = (results[k]["kluis"]["ok_per_second"] for k in ("fmt", "gmt"))
            measured = f"{ratio:.0%} ({signed:,.0f} of {public:,.0f} req/s)"
        targets.append(
            {
                "target": "authenticated GET (DPoP ES256) with Kluis on both cores (gmt) >= "
                f"{AUTH_RATIO_TARGET:.0%} of public GET on both cores (fmt)",
                "measured": measured,
                "met": ratio is not None and ratio >= AUTH_RATIO_TARGET,
            }
        )
    return targets


def compare_grant(results: dict[str, Any]) -> None:
    """Add to (h) in `results` its rate against (hw)'s, per server, when both ran: `vs_wac`."""
    if "h" in results and "hw" in results:
        row, base = results["h"], results["hw"]
        row["vs_wac"] = {name: _ratio(row[name], base[name]) for name in ("kluis", "bare")}


def grant_target(results: dict[str, Any]) -> dict[str, Any]:
    """The target entry of issue 14: a GET allowed by a grant (h) against the same GET
    allowed by WAC (hw), on Kluis, after compare_grant."""
    ratio = results["h"]["vs_wac"]["kluis"]
    measured = "n/a"
    if ratio is not None:
        granted, wac = (results[k]["kluis"]["ok_per_second"] for k in ("h", "hw"))
        measured = f"{ratio:.0%} ({granted:,.0f} of {wac:,.0f} req/s)"
    return {
        "target": f"authenticated GET allowed by a grant among {grants.GRANTS:,} (h) >= "
        f"{GRANT_RATIO_TARGET:.0%} of the same GET allowed by WAC (hw)",
        "measured": measured,
        "met": ratio is not None and ratio >= GRANT_RATIO_TARGET,
    }


def compare_disclosures(results: dict[str, Any]) -> None:
    """Add to the logged GET its rate on Kluis against (hw0)'s, the same GET with the access log
    off, when both ran: `vs_log_off`. The logged GET is (hw1), Kluis started again as for hw0
    but with the log on, when it ran: a process just started serves faster than one that has
    served every scenario before (hw's), whatever it logs, so only hw1 against hw0 measures
    the log alone."""
    logged = "hw1" if "hw1" in results else "hw"
    if logged in results and "hw0" in results:
        results[logged]["vs_log_off"] = _ratio(results[logged]["kluis"], results["hw0"]["kluis"])


def disclosure_target(results: dict[str, Any]) -> dict[str, Any]:
    """The target entry of issue 15 §1, after compare_disclosures: what the log adds to the
    time of a request, as the issue words it (a rate of 95% would allow 5.3%)."""
    key = "hw1" if "hw1" in results else "hw"
    ratio = results[key]["vs_log_off"]
    measured = "n/a"
    added = None
    if ratio:
        added = 1 / ratio - 1
        logged, off = (results[k]["kluis"]["ok_per_second"] for k in (key, "hw0"))
        measured = (
            f"adds {added:.1%}: {1e6 / logged - 1e6 / off:.1f} µs a request "
            f"(1e6/{logged:,.0f} - 1e6/{off:,.0f} req/s; rate {ratio:.1%})"
        )
        if key == "hw1" and "hw" in results:
            measured += "; hw, in the process that served the rest: rate " + (
                f"{results['hw']['kluis']['ok_per_second'] / off:.0%}"
            )
    return {
        "target": f"the owner's access log adds < {DISCLOSURE_COST_TARGET:.0%} to an "
        f"authenticated GET: {key}, each request recorded, against the same GET with the log "
        "off (hw0), both in Kluis started again",
        "measured": measured,
        "met": added is not None and added < DISCLOSURE_COST_TARGET,
    }


def compare_public(results: dict[str, Any], verification: dict[str, Any]) -> None:
    """Add to each authenticated scenario in `results` its figures against its public baseline
    (`Scenario.public`), when both ran: `vs_public`, the ratio of req/s per server, and on one
    core (pinned) `cost`, its µs per request over the baseline against the budget of one
    signature verification (`verification`, from benchmarks.verify) plus AUTH_BUDGET_US."""
    for key, row in results.items():
        scenario = SCENARIOS[key]
        base = results.get(scenario.public or "")
        if base is None:
            continue
        row["vs_public"] = {
            name: _ratio(row[name], base[name])
            for name in ("kluis", "bare")
            if name in row and name in base
        }
        if scenario.pinned and scenario.dpop is not None:
            alone = verification.get(scenario.dpop, {}).get("us")
            row["cost"] = auth_cost(base["kluis"], row["kluis"], verification_us=alone)


def auth_cost(
    public: dict[str, Any], signed: dict[str, Any], *, verification_us: float | None
) -> dict[str, Any]:
    """What an authenticated request costs over a public one on one core, from the figures of
    the two runs (`measure`) and one signature verification measured alone.

    With the server CPU-bound on one core, a request takes 1e6 / rate µs of it, so the extra
    cost is 1e6 / signed - 1e6 / public µs. Its budget is one signature verification plus
    AUTH_BUDGET_US (None when the verification was not measured). `cpu_cost_us` is the same
    difference from the CPU time the server used per request: the two agree when it was
    CPU-bound, and the latter holds better when other work took some of its core.
    """
    rates = public["ok_per_second"], signed["ok_per_second"]
    cost = cpu_cost = None
    if all(rates):
        cost = 1e6 / rates[1] - 1e6 / rates[0]
        cpu_cost = 1e6 * (signed["server_cores"] / rates[1] - public["server_cores"] / rates[0])
    budget = None if verification_us is None else verification_us + AUTH_BUDGET_US
    return {
        "cost_us": None if cost is None else round(cost, 1),
        "cpu_cost_us": None if cpu_cost is None else round(cpu_cost, 1),
        "verification_us": verification_us,
        "budget_us": None if budget is None else round(budget, 1),
        "met": cost is not None and budget is not None and cost <= budget,
    }


def cost_target(key: str, results: dict[str, Any]) -> dict[str, Any]:
    """The target entry for the one-core cost of authenticated scenario `key` (g, g2)."""
    scenario = SCENARIOS[key]
    cost = results[key]["cost"]
    public = results[scenario.public or ""]["kluis"]["ok_per_second"]
    signed = results[key]["kluis"]["ok_per_second"]
    measured = "n/a"
    if cost["cost_us"] is not None:
        measured = f"{cost['cost_us']:,.0f} µs (1e6/{signed:,.0f} - 1e6/{public:,.0f} req/s)"
    if cost["verification_us"] is not None:
        measured += (
            f"; verification alone {cost['verification_us']:,.0f} µs, "
            f"budget {cost['budget_us']:,.0f} µs"
        )
    return {
        "target": f"authenticated GET ({key}, DPoP {scenario.dpop}) on one core costs at most "
        f"one {scenario.dpop} signature verification + {AUTH_BUDGET_US:.0f} µs per request over "
        f"public GET ({scenario.public})",
        "measured": measured,
        "met": cost["met"],
    }


def _environment(options: Options) -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "commit": commit,
        "loader": wrk_version() if options.loader == "wrk" else "benchmarks.load (aiohttp)",
        "pinned": {"server": options.server_cpu, "load": options.load_cpu},
        "nice": NICE,
        "connections": options.connections,
        "duration_s": options.duration,
        "warmup_s": options.warmup,
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def event_loop(pid: int) -> str:
    """The event loop of process `pid`: "uvloop" if it loaded uvloop's extension, else "asyncio".

    Read from the process's memory map, so it holds for any server we start, whatever decides
    its loop (Kluis picks uvloop when it can import it).
    """
    maps = _read(f"/proc/{pid}/maps")
    return "uvloop" if "/uvloop/loop." in maps else "asyncio"


def rss_target(peak_mb: float | None) -> dict[str, Any]:
    return {
        "target": f"Kluis peak RSS over the whole run < {PEAK_RSS_TARGET_MB:.0f} MB",
        "measured": "n/a" if peak_mb is None else f"{peak_mb:.0f} MB",
        "met": peak_mb is not None and peak_mb < PEAK_RSS_TARGET_MB,
    }


def _peak_rss_mb(pid: int) -> float | None:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _versus_public(report: dict[str, Any]) -> list[str]:
    """The tables of authenticated against public GET of the same document, if measured: on one
    core with the cost per request beside the verification budget, and on both cores."""
    rows = report["scenarios"]
    lines: list[str] = []
    signed = [k for k in ("g", "g2") if "vs_public" in rows.get(k, {})]
    if signed:
        lines += [
            "",
            "Authenticated against public GET of the same document, on one core (the cost of "
            "authentication and access control together). Cost: 1e6/req/s - 1e6/req/s of (f), "
            "the µs of the server core per request, Kluis being CPU-bound (cores used about 1); "
            "CPU cost: the same from the CPU time Kluis used per request (truer when other work "
            "took part of its core); budget: one signature verification alone (median CPU time, "
            f"hot, on the server core in this run) + {AUTH_BUDGET_US:.0f} µs.",
            "",
            "| scenario | Kluis req/s | p50 ms | p99 ms | Kluis cores | vs (f) | bare req/s "
            "| vs (f) | cost µs | CPU cost µs | verification µs | budget µs |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for key in ("f", *signed):
            row = rows[key]
            kluis, bare = row["kluis"], row["bare"]
            ratios = row.get("vs_public", {"kluis": 1.0, "bare": 1.0})
            cost = row.get("cost")
            fields = ("cost_us", "cpu_cost_us", "verification_us", "budget_us")
            costs = [_us(cost[f]) for f in fields] if cost else [""] * len(fields)
            lines.append(
                f"| ({key}) {row['title']} | {kluis['ok_per_second']:,.0f} "
                f"| {_ms(kluis['p50_ms'])} | {_ms(kluis['p99_ms'])} "
                f"| {kluis.get('server_cores', 0):.2f} | {_pct(ratios['kluis'])} "
                f"| {bare['ok_per_second']:,.0f} | {_pct(ratios['bare'])} | "
                + " | ".join(costs)
                + " |"
            )
        alone = report.get("verification", {})
        if alone:
            each = [
                f"{alg} {found['us']:,.1f} µs (rounds {min(found['rounds_us']):,.1f}-"
                f"{max(found['rounds_us']):,.1f})"
                for alg, found in alone.items()
            ]
            first = next(iter(alone.values()))
            lines += [
                "",
                "Verification alone (`benchmarks.verify` on the server core, the servers idle; "
                f"median of {len(first['rounds_us'])} rounds of {first['count']} proofs, CPU "
                "time per signature): " + ", ".join(each) + ".",
            ]
    both = [k for k in ("fmt", "gmt") if k in rows]
    if both:
        lines += [
            "",
            "The same with Kluis allowed both cores (a second Kluis process, not pinned, "
            "with its default settings; the load generator stays on core "
            f"{report['environment']['pinned']['load']}, which Kluis may now share):",
            "",
            "| scenario | Kluis req/s | p50 ms | p99 ms | errors | Kluis cores | vs (fmt) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key in both:
            row = rows[key]
            kluis = row["kluis"]
            ratio = 1.0 if key == "fmt" else row.get("vs_public", {}).get("kluis")
            lines.append(
                f"| ({key}) {row['title']} | {kluis['ok_per_second']:,.0f} "
                f"| {_ms(kluis['p50_ms'])} | {_ms(kluis['p99_ms'])} "
                f"| {kluis['non2xx'] + kluis['socket_errors']} "
                f"| {kluis.get('server_cores', 0):.2f} | {_pct(ratio)} |"
            )
    return lines


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _loops(notes: dict[str, Any]) -> str:
    loops = notes.get("event_loop", {})
    return "Event loops: " + ", ".join(f"{name} {loop}" for name, loop in loops.items()) + "."


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.0%}"


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    others = report.get("peers", [])
    extra_header, extra_align = peers.header(others)
    lines = [
        f"Kluis benchmarks, {report['date']}, commit {env['commit']}: {env['cpu']}, "
        f"{env['loader']}, {env['connections']} connections, {env['duration_s']} s per run "
        f"after {env['warmup_s']} s warm-up; servers on core {env['pinned']['server']}, "
        f"load on core {env['pinned']['load']}, niceness {env['nice']}.",
        _loops(report["notes"]),
        "",
        "| scenario | Kluis req/s | p50 ms | p99 ms | errors "
        "| bare req/s | p50 ms | p99 ms | errors | Kluis/bare |" + extra_header,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + extra_align,
    ]
    samples: list[str] = []
    noisy: list[str] = []
    short: list[str] = []
    for key, row in report["scenarios"].items():
        cells = [f"({key}) {row['title']}"]
        for name in ("kluis", "bare"):
            if name not in row:  # fmt, gmt: Kluis only, in their own table
                continue
            m = row[name]
            errors = m["non2xx"] + m["socket_errors"]
            cells += [
                f"{m['ok_per_second']:,.0f}",
                _ms(m["p50_ms"]),
                _ms(m["p99_ms"]),
                str(errors),
            ]
            if m["sample_status"]:
                samples.append(
                    f"- ({key}) {name}: {m['non2xx']} non-2xx, {m['socket_errors']} socket "
                    f"errors; first {m['sample_status']}: {m['sample_body'][:300]!r}"
                )
            elif errors:
                samples.append(f"- ({key}) {name}: {m['socket_errors']} socket errors")
            if m["other_cores"] > NOISE_CORES:
                noisy.append(f"({key}) {name}: {m['other_cores']:.2f} cores")
            if m["out_of_proofs"]:
                short.append(f"({key}) {name}")
        if "bare" not in row:
            continue
        ratio = row["ratio"]
        cells.append("n/a" if ratio is None else f"{ratio:.0%}")
        cells += peers.cells(row, others)
        lines.append("| " + " | ".join(cells) + " |")
    lines += peers.notes(report, noise=NOISE_CORES)
    lines += _versus_public(report)
    lines += ["", "Errors:" if samples else "Errors: none.", *samples]
    if noisy:
        lines += ["", "Other processes competed for the CPU in: " + "; ".join(noisy) + "."]
    if short:
        lines += [
            "",
            "Ran out of DPoP proofs and stopped early (req/s understated): " + "; ".join(short),
        ]
    lines += growth.markdown(report.get("growth", {}))
    lines += ["", "Targets:"]
    for t in report["targets"]:
        lines.append(f"- {t['target']}: {t['measured']} ({'met' if t['met'] else 'NOT met'})")
    notes = report["notes"]
    before = notes.get("kluis_peak_rss_mb_before_growth")
    both = notes.get("kluis_both_cores_peak_rss_mb")
    lines += [
        "",
        f"Bytes served: {notes['bytes']}; Kluis peak RSS {notes['kluis_peak_rss_mb']} MB"
        + (f" ({before} MB before the growth scenarios)" if before is not None else "")
        + (f", {both} MB in its run on both cores." if both is not None else "."),
    ]
    after = notes.get("kluis_peak_rss_mb_after")
    if after:
        steps = ", ".join(f"{key} {mb}" for key, mb in after.items())
        lines.append(f"Kluis peak RSS (MB) after each scenario: {steps}.")
    if "grants" in notes:
        given = notes["grants"]
        lines.append(
            f"Grants (h): {given['count']:,} given through the grant API in {given['give_s']} s "
            f"({given['per_second']}/s, {given['concurrency']} in flight); the first GETs after "
            f"them (Kluis reads them into its index) {given['first_read_s']} s; the set-up of "
            f"h and hw {given['setup_s']} s in all; Kluis peak RSS after it "
            f"{given['kluis_peak_rss_mb_after_setup']} MB."
        )
    if "patched_document" in notes:
        doc = notes["patched_document"]
        lines.append(
            f"PATCH target after the run: {doc['triples']:,} triples, {doc['bytes']:,} bytes."
        )
    return "\n".join(lines)
