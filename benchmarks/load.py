"""What one load run asks and measures, and the Python load generator used when wrk is missing.

    python -m benchmarks.load SPEC.json

reads a LoadSpec, keeps `connections` requests in flight for `duration` seconds with an aiohttp
client in this one process, and prints one Measurement as JSON. One asyncio process sends far
fewer requests per second than wrk, so with it the bare baseline is capped by the client and the
Kluis/bare ratios come out higher than they are.

With a file of DPoP proofs, each request sends the next one as its `DPoP` header, and the load
stops when none are left: a proof is never sent twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp

# fixed: the same request every time; unique: `url` + key, each request a new URL;
# vary: `{n}` in the body replaced by the key, so each request inserts something new.
Mode = Literal["fixed", "unique", "vary"]


@dataclass(frozen=True, slots=True)
class LoadSpec:
    method: str
    url: str
    headers: dict[str, str]
    body: str
    mode: Mode
    tag: str  # keeps keys of different runs (warm-up, measurement) apart
    connections: int
    duration: int  # seconds
    # A file of DPoP proofs, one a line: each request sends the next as its `DPoP` header, and
    # the load stops when they run out (a reused proof is refused). "": no proofs.
    proofs: str = ""

    def key(self, worker: int, n: int) -> str:
        """The unique key of request `n` of `worker` (wrk's Lua script builds the same)."""
        return f"{self.tag}-{worker}-{n}"

    def request(self, worker: int, n: int) -> tuple[str, bytes]:
        key = self.key(worker, n)
        url = self.url + key if self.mode == "unique" else self.url
        body = self.body.replace("{n}", key) if self.mode == "vary" else self.body
        return url, body.encode()


@dataclass(frozen=True, slots=True)
class Measurement:
    requests: int  # responses received, whatever their status
    non2xx: int
    socket_errors: int  # connect, read, write errors and timeouts: no response at all
    seconds: float
    p50_ms: float | None  # None when no response came back
    p99_ms: float | None
    sample_status: int = 0  # the first non-2xx response, if any
    sample_body: str = ""
    out_of_proofs: bool = False  # the load stopped early: every proof had been sent

    @property
    def ok_per_second(self) -> float:
        """Successful (2xx) responses per second."""
        return (self.requests - self.non2xx) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors


def percentile_ms(ordered: list[float], q: float) -> float | None:
    """The q-quantile (0..1) of sorted seconds, in milliseconds; None for no values."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def generate(spec: LoadSpec) -> Measurement:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    counts = {"non2xx": 0, "socket_errors": 0}
    proofs = _proofs(spec.proofs)
    out_of_proofs = False
    sample: list[tuple[int, str]] = []
    deadline = loop.time() + spec.duration
    connector = aiohttp.TCPConnector(limit=spec.connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(worker: int) -> None:
            nonlocal out_of_proofs
            n = 0
            while loop.time() < deadline:
                n += 1
                url, body = spec.request(worker, n)
                headers = spec.headers
                if proofs is not None:
                    proof = next(proofs, None)
                    if proof is None:
                        out_of_proofs = True
                        return
                    headers = {**headers, "DPoP": proof}
                started = time.perf_counter()
                try:
                    async with session.request(
                        spec.method, url, headers=headers, data=body or None
                    ) as response:
                        data = await response.read()
                except (aiohttp.ClientError, TimeoutError):
                    counts["socket_errors"] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if not 200 <= response.status < 300:
                    counts["non2xx"] += 1
                    if not sample:
                        sample.append((response.status, data.decode(errors="replace")))

        started = time.perf_counter()
        await asyncio.gather(*(worker(i + 1) for i in range(spec.connections)))
        seconds = time.perf_counter() - started
    latencies.sort()
    status, body = sample[0] if sample else (0, "")
    return Measurement(
        requests=len(latencies),
        non2xx=counts["non2xx"],
        socket_errors=counts["socket_errors"],
        seconds=seconds,
        p50_ms=percentile_ms(latencies, 0.50),
        p99_ms=percentile_ms(latencies, 0.99),
        sample_status=status,
        sample_body=body,
        out_of_proofs=out_of_proofs,
    )


def _proofs(file: str) -> Iterator[str] | None:
    """The proofs in `file`, one a line, in order; None without a file."""
    if not file:
        return None
    return iter(Path(file).read_text(encoding="ascii").splitlines())


def main() -> None:
    spec = LoadSpec(**json.loads(Path(sys.argv[1]).read_text()))
    result = asyncio.run(generate(spec))
    print(json.dumps(dataclasses.asdict(result)))


if __name__ == "__main__":
    main()
