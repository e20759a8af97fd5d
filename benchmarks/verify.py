"""Verification alone: the CPU time Kluis spends checking one DPoP proof's signature, hot.

    python -m benchmarks.verify [--alg ES256 --alg EdDSA] [--count 200] [--rounds 9]

Issue 13 (target 4) gives authentication a budget per request: on one core, an authenticated GET
may cost at most one signature verification plus 60 µs more than a public GET of the same
document. This measures the verification, for the budget, in the same run as the load: the run
starts it pinned to the server core while the servers are idle.

Proofs are made by benchmarks.dpop, as the load sends them, and checked by Kluis's own
`ProofVerifier` (header, claims), untimed; what is timed is `CheckedProof.signed`, the call
Kluis makes on the event loop or hands to its worker thread: joserfc's algorithm verifying the
signature with `cryptography`. Each round verifies `count` proofs once each and takes the
thread's CPU time per proof; one round warms up and is dropped, and the result is the median
of the others. Prints one JSON object: per algorithm, the median and each round in µs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, cast, get_args

from benchmarks.dpop import ALGS, Alg, DPoPKey
from pod.auth.dpop import Proof, ProofVerifier

URL = "http://127.0.0.1:8080/alice/doc"  # any URL: the proofs are checked against this one
TOKEN = "benchmark-access-token"  # the proofs carry its `ath`, as g's do


def signature_checks(alg: Alg, count: int) -> list[Callable[[], Proof]]:
    """`count` signature checks of fresh proofs by one `alg` key, each passed once by Kluis's
    header and claim checks: calling one verifies its signature (or raises Unauthenticated)."""
    key = DPoPKey(alg)
    verifier = ProofVerifier()
    now = int(time.time())
    checks: list[Callable[[], Proof]] = []
    for n in range(count):
        proof = key.proof("GET", URL, token=TOKEN, iat=now, jti=f"verify.{n}")
        checked = verifier.check(proof, method="GET", url=URL, access_token=TOKEN, now=now)
        checks.append(checked.signed)
    return checks


def cpu_us_per_call(calls: Sequence[Callable[[], object]]) -> float:
    """The CPU time of this thread per call, in µs, over one pass through `calls`."""
    started = time.thread_time_ns()
    for call in calls:
        call()
    return (time.thread_time_ns() - started) / len(calls) / 1000


def measure(alg: Alg, *, count: int, rounds: int) -> dict[str, Any]:
    """The median CPU µs of one `alg` signature verification over `rounds` rounds, after one
    dropped warm-up round, with each round's figure."""
    checks = signature_checks(alg, count)
    cpu_us_per_call(checks)  # warm-up: caches, branch predictors, lazy imports
    each = [round(cpu_us_per_call(checks), 1) for _ in range(rounds)]
    return {"us": round(statistics.median(each), 1), "rounds_us": each, "count": count}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.verify", description=__doc__)
    parser.add_argument("--alg", action="append", choices=get_args(Alg), help="default: all")
    parser.add_argument("--count", type=int, default=200, help="proofs verified per round")
    parser.add_argument("--rounds", type=int, default=9, help="measured rounds (median)")
    args = parser.parse_args(argv)
    if args.count < 1 or args.rounds < 1:
        parser.error("--count and --rounds must be at least 1")
    algs = cast(list[Alg], args.alg or list(ALGS))
    found = {alg: measure(alg, count=args.count, rounds=args.rounds) for alg in algs}
    print(json.dumps(found))


if __name__ == "__main__":
    main()
