"""Verification alone (benchmarks.verify): what it times is Kluis checking real signatures."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

import pytest

from benchmarks import verify
from benchmarks.dpop import ALGS, Alg
from pod.auth.dpop import Proof


@pytest.mark.parametrize("alg", ALGS)
def test_each_check_verifies_its_own_proof(alg: Alg) -> None:
    checks = verify.signature_checks(alg, 5)
    proofs = [check() for check in checks]
    assert all(isinstance(proof, Proof) for proof in proofs)
    assert len({proof.jti for proof in proofs}) == 5
    assert len({proof.jkt for proof in proofs}) == 1  # one client key, as in scenario g


@pytest.mark.parametrize("alg", ALGS)
def test_a_check_takes_the_time_of_a_signature_verification(alg: Alg) -> None:
    # P-256 and Ed25519 verifications take tens of µs on any current CPU; a check that did not
    # verify (a cached answer, a lookup) would take well under one.
    found = verify.measure(alg, count=20, rounds=3)
    assert len(found["rounds_us"]) == 3
    assert found["us"] == statistics.median(found["rounds_us"])
    assert found["us"] > 10


def test_command_prints_the_asked_algorithms_as_json() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.verify", "--alg", "EdDSA", "--count", "5"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)
    assert list(found) == ["EdDSA"]
    assert found["EdDSA"]["count"] == 5
    assert len(found["EdDSA"]["rounds_us"]) == 9


def test_command_refuses_an_empty_round() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.verify", "--rounds", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "--count and --rounds must be at least 1" in done.stderr
