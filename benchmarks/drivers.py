"""Run one LoadSpec in a separate process: wrk when installed, else `benchmarks.load`.

wrk gets a generated Lua script that builds unique URLs or bodies (or adds the next DPoP proof
from a file), counts non-2xx responses, keeps the first one's body and prints the figures as one
JSON line after `BENCH `.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from string import Template
from typing import Literal
from urllib.parse import urlsplit

from benchmarks.load import LoadSpec, Measurement

Loader = Literal["wrk", "python"]
_ROOT = Path(__file__).resolve().parent.parent  # where `python -m benchmarks.load` imports from
NICE = -15 if os.geteuid() == 0 else 0  # the niceness of servers and load generator
THREADS = 1  # wrk threads: one core drives the load
_PLAIN = frozenset(map(chr, range(0x20, 0x7F))) - {'"', "\\"}  # printable ASCII but " and \

_LUA = Template(r"""
wrk.method = $method
wrk.body = $body
$headers
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

out_of_proofs = 0
local n = 0
local function key()
  n = n + 1
  return $tag .. "-" .. id .. "-" .. n
end
$request

non2xx, sample_status, sample = 0, 0, ""
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if sample_status == 0 then sample_status, sample = status, (body or ""):sub(1, 2000) end
  end
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function done(summary, latency, requests)
  local bad, status, body, exhausted = 0, 0, "", "false"
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    if t:get("out_of_proofs") == 1 then exhausted = "true" end
    if status == 0 and t:get("sample_status") ~= 0 then
      status, body = t:get("sample_status"), t:get("sample")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "non2xx": %d, "socket_errors": %d, "seconds": %.6f, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f, "sample_status": %d, "sample_hex": "%s", ' ..
    '"out_of_proofs": %s}\n',
    summary.requests, bad, e.connect + e.read + e.write + e.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, status, hex(body), exhausted))
end
""")

_REQUEST = {
    "fixed": "",  # no request(): wrk then sends one pre-built request, its fastest path
    "unique": "function request() return wrk.format(nil, $path .. key()) end",
    "vary": """function request()
  return wrk.format(nil, nil, nil, (wrk.body:gsub("{n}", key())))
end""",
}

# The fixed request plus the next DPoP proof from a file, read as needed. Thread `id` of
# $threads takes every $threads-th line, so no proof goes out twice. When none are left the
# thread stops; its last request() returns "", which sends nothing (a reused proof would be
# refused, and a request without one would be a different request).
_PROOF_REQUEST = """local proofs = assert(io.open($file, "r"))
function request()
  local proof
  for i = 1, $threads do
    local line = proofs:read("*l")
    if i == id then proof = line end
  end
  if not proof then
    out_of_proofs = 1
    wrk.thread:stop()
    return ""
  end
  wrk.headers["DPoP"] = proof
  return wrk.format()
end"""


def launcher(cpu: int | None) -> list[str]:
    """The command prefix that pins a process to `cpu` and, as root, raises its priority.

    The priority keeps the figures steady when other work shares the machine; on a quiet
    machine it changes nothing.
    """
    prefix = [] if cpu is None else ["taskset", "-c", str(cpu)]
    return ["nice", "-n", str(NICE), *prefix] if NICE else prefix


def find_loader(choice: str) -> Loader:
    """`wrk` if asked for or found (auto), else the Python generator."""
    if choice == "python" or (choice == "auto" and shutil.which("wrk") is None):
        return "python"
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk, or use --loader python")
    return "wrk"


def wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).split(" [", 1)[0].strip()


def run_load(spec: LoadSpec, *, loader: Loader, cpu: int | None, workdir: Path) -> Measurement:
    """Run `spec` from a separate process, pinned to `cpu` if given; its Measurement."""
    if loader == "wrk":
        script = workdir / f"load-{spec.tag}.lua"
        script.write_text(lua_script(spec))
        command = [
            "wrk", f"-t{THREADS}", f"-c{spec.connections}", f"-d{spec.duration}s",
            "--timeout", "60s", "-s", str(script), spec.url,
        ]  # fmt: skip
    else:
        spec_file = workdir / f"load-{spec.tag}.json"
        spec_file.write_text(json.dumps(dataclasses.asdict(spec)))
        command = [sys.executable, "-m", "benchmarks.load", str(spec_file)]
    done = subprocess.run(
        launcher(cpu) + command, capture_output=True, text=True, check=False, cwd=_ROOT
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    if loader == "python":
        return Measurement(**json.loads(lines[-1]))
    figures = json.loads(next(line for line in lines if line.startswith("BENCH "))[6:])
    sample = bytes.fromhex(figures.pop("sample_hex")).decode(errors="replace")
    if not figures["requests"]:  # wrk reports 0 for the percentiles of nothing
        figures["p50_ms"] = figures["p99_ms"] = None
    return Measurement(**figures, sample_body=sample)


def lua_script(spec: LoadSpec) -> str:
    headers = "\n".join(f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in spec.headers.items())
    if spec.proofs:
        if spec.mode != "fixed":
            raise ValueError("DPoP proofs go with mode 'fixed' only")
        request = Template(_PROOF_REQUEST).substitute(file=_lua(spec.proofs), threads=THREADS)
    else:
        request = Template(_REQUEST[spec.mode]).substitute(path=_lua(urlsplit(spec.url).path))
    return _LUA.substitute(
        method=_lua(spec.method),
        body=_lua(spec.body) if spec.body else "nil",
        headers=headers,
        tag=_lua(spec.tag),
        request=request,
    )


def _lua(text: str) -> str:
    """A Lua string literal: every byte but printable ASCII escaped as \\ddd."""
    return '"' + "".join(chr(b) if chr(b) in _PLAIN else f"\\{b:03d}" for b in text.encode()) + '"'
