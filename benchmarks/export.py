"""The memory an export takes (issue 15 §3: a 1 GB pod of 10,000 files exports with the
server's RSS growing by less than 50 MB).

`python -m benchmarks.export [--files 10000] [--size 100000] [--json]`:

1. starts `kluis serve` (file storage, a fresh data directory), makes an account with the pod
   `bench` through the account API, and stops it;
2. writes `--files` incompressible files of `--size` bytes into the pod's `files/` container,
   as the file backend lays them out (as `benchmarks.growth.write_children` does), which is far
   faster than PUTting them;
3. starts the server again, logs in, reads its VmRSS, writes `5` to `/proc/<pid>/clear_refs`
   (which resets VmHWM, the peak, to the current RSS: proc(5)), downloads the export through
   the API to nowhere, and reads VmHWM again.

The figure is VmHWM minus VmRSS before: how far the export lifted the server's peak. Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import aiohttp

TARGET_MB: Final = 50.0
POD: Final = "bench"
PASSWORD: Final = "a long benchmark password"
_FILE_MODE: Final = 0o600
_DIR_MODE: Final = 0o700
_ROOT: Final = Path(__file__).parents[1]


@dataclass(frozen=True, slots=True)
class Result:
    files: int
    file_bytes: int
    rss_before_mb: float
    peak_mb: float
    growth_mb: float
    seconds: float
    archive_bytes: int

    @property
    def meets_target(self) -> bool:
        return self.growth_mb < TARGET_MB


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status_kb(pid: int, field: str) -> int:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def _serve(port: int, data: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "pod", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data), "--access-log", "false", "--password-cost", "10",
        ],
        cwd=_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def _wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(400):
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}")
            try:
                async with session.get(base + ".account/login") as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the server did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def write_files(folder: Path, files: int, size: int) -> None:
    """`files` files of `size` random (incompressible) bytes in `folder`."""
    folder.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    for i in range(files):
        fd = os.open(folder / f"file-{i:05d}.bin", os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        try:
            os.write(fd, os.urandom(size))
        finally:
            os.close(fd)


async def measure(files: int, size: int, *, workdir: Path | None = None) -> Result:
    """Export a pod of `files` files of `size` bytes from a fresh server; see the docstring."""
    with tempfile.TemporaryDirectory(prefix="kluis-export-bench-", dir=workdir) as tmp:
        data = Path(tmp) / "data"
        port = _free_port()
        base = f"http://127.0.0.1:{port}/"
        proc = _serve(port, data)
        try:
            await _wait_up(base, proc)
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    base + ".account/api/accounts",
                    json={"email": "bench@example.org", "password": PASSWORD, "pod": POD},
                ) as r,
            ):
                if r.status != 201:
                    raise RuntimeError(f"account creation answered {r.status}: {await r.text()}")
        finally:
            _stop(proc)
        write_files(data / POD / "files", files, size)
        proc = _serve(port, data)
        try:
            await _wait_up(base, proc)
            async with aiohttp.ClientSession() as session:
                async with session.post(
                    base + ".account/api/login",
                    json={"email": "bench@example.org", "password": PASSWORD},
                ) as r:
                    token = str((await r.json())["token"])
                rss = _status_kb(proc.pid, "VmRSS")
                # proc(5): writing 5 to clear_refs resets the peak (VmHWM) to the RSS now.
                await asyncio.to_thread(Path(f"/proc/{proc.pid}/clear_refs").write_text, "5")
                started = time.perf_counter()
                received = 0
                async with session.get(
                    base + f".account/api/pods/{POD}/export",
                    headers={"Authorization": f"Bearer {token}"},
                ) as r:
                    if r.status != 200:
                        raise RuntimeError(f"the export answered {r.status}: {await r.text()}")
                    async for chunk in r.content.iter_chunked(1024 * 1024):
                        received += len(chunk)
                seconds = time.perf_counter() - started
                peak = _status_kb(proc.pid, "VmHWM")
        finally:
            _stop(proc)
    return Result(
        files=files,
        file_bytes=size,
        rss_before_mb=rss / 1024,
        peak_mb=peak / 1024,
        growth_mb=(peak - rss) / 1024,
        seconds=seconds,
        archive_bytes=received,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export", description=__doc__)
    parser.add_argument("--files", type=int, default=10_000, help="files in the pod")
    parser.add_argument("--size", type=int, default=100_000, help="bytes per file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.files, args.size))
    if args.json:
        print(json.dumps({**asdict(result), "meetsTarget": result.meets_target}, indent=2))
        return 0
    total = result.files * result.file_bytes / 1e9
    print(
        f"export of {result.files:,} files ({total:.2f} GB): RSS {result.rss_before_mb:.1f} MB "
        f"before, peak {result.peak_mb:.1f} MB, growth {result.growth_mb:.1f} MB "
        f"(target < {TARGET_MB:.0f} MB: {'met' if result.meets_target else 'NOT met'}), "
        f"{result.seconds:.1f} s, archive {result.archive_bytes / 1e9:.2f} GB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
