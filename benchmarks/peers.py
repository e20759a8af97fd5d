"""Other Solid servers run beside Kluis in the same benchmark: install, start, set up, report.

JavaScriptSolidServer (JSS, npm `javascript-solid-server`, pinned) is installed with npm into
`.peers/` at the top of the checkout (git-ignored), and runs twice: as it comes (`jss start`),
and with its storage quota off for the PUT scenario. `benchmarks.run` starts each peer with the
same pinning and loader as Kluis and the bare server; this module knows how to install it, how
to start it, how to set up the scenarios' data on it and how to report its figures.

Where a peer cannot serve a scenario (a check in the set-up finds its answer is not what the
scenario asks for), the scenario is reported "n/a" with the reason; where it answers 2xx but
does not do the work (an N3 Patch it does not apply), it is measured and the report says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pyoxigraph as ox

from benchmarks.scenarios import (
    AUTHENTICATED,
    BENCH,
    BIG,
    CHILD,
    CHILDREN,
    DOC,
    DOCUMENT,
    PATCHED,
    PUBLIC_ACL,
    SCENARIOS,
    TURTLE,
)

JSS_PACKAGE = "javascript-solid-server"
JSS_VERSION = "0.0.81"
HOME = Path(__file__).resolve().parent.parent / ".peers"  # git-ignored, beside .venv
PACKAGE = HOME / "node_modules" / JSS_PACKAGE
LDP_CONTAINS = ox.NamedNode("http://www.w3.org/ns/ldp#contains")
_FORMATS = {"text/turtle": ox.RdfFormat.TURTLE, "application/ld+json": ox.RdfFormat.JSON_LD}

# JSS picks a document's media type by its file name's extension: one without an extension is
# served as application/octet-stream, byte for byte, whatever the Accept header. Named
# `.jsonld` (its storage format), a document is negotiated: Turtle when asked, else JSON-LD.
# Kluis ignores extensions, so only the peer's names change.
JSS_NAMES = {DOC: DOC + ".jsonld", PATCHED: PATCHED + ".jsonld"}

# `jss start` passes no quota to the server it creates (bin/jss.js in 0.0.81 drops the
# `defaultQuota` it reads from JSS_DEFAULT_QUOTA or a config file), so a pod gets the built-in
# 50 MB and every PUT reads and rewrites the pod's `.quota.json`. Turning the quota off takes
# `createServer({defaultQuota: 0})` (src/server.js: "0 = unlimited"), with the options the
# command line would give otherwise. argv: data directory, port.
_NO_QUOTA = """\
import {{ createServer }} from {server};
const [root, port] = process.argv.slice(1);
process.env.DATA_ROOT = root;
const server = createServer({{ root, conneg: true, logger: false, defaultQuota: 0 }});
await server.listen({{ port: Number(port), host: "127.0.0.1" }});
const stop = async () => {{ await server.close(); process.exit(0); }};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
"""


class PeerUnavailable(Exception):
    """A peer could not be installed here (no node or npm, no registry)."""


@dataclass(frozen=True, slots=True)
class Peer:
    name: str  # the key of its figures in the JSON
    label: str  # its name in the report
    quota: bool  # JSS's per-pod storage quota on (as it comes) or off
    only: frozenset[str] | None = None  # the scenarios it runs; None: every one

    def runs(self, key: str) -> bool:
        return self.only is None or key in self.only

    def runs_any(self, keys: Iterable[str]) -> bool:
        return any(self.runs(key) for key in keys)


JSS = Peer("jss", "JSS", quota=True)
JSS_NO_QUOTA = Peer("jss_noquota", "JSS, quota off", quota=False, only=frozenset({"d"}))
PEERS: dict[str, tuple[Peer, ...]] = {"jss": (JSS, JSS_NO_QUOTA), "none": ()}


@dataclass(frozen=True, slots=True)
class Plan:
    """How a peer takes part in one scenario."""

    path: str | None  # where the load goes; None: the peer cannot serve the scenario
    note: str = ""  # why not (no path), or what its 2xx answers leave undone


def choose(names: str) -> tuple[Peer, ...]:
    """The peers named in a comma-separated list (`jss`, `none`); ValueError for others."""
    chosen: list[Peer] = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in PEERS:
            raise ValueError(f"unknown peer {name!r}; choose from {', '.join(PEERS)}")
        chosen += [p for p in PEERS[name] if p not in chosen]
    return tuple(chosen)


# --- install and start -------------------------------------------------------------------------


def install(home: Path = HOME) -> Path:
    """Install JSS at JSS_VERSION under `home` unless it is there; its package directory.

    Raises PeerUnavailable when node or npm is missing or npm fails.
    """
    package = home / PACKAGE.relative_to(HOME)
    if installed_version(package) == JSS_VERSION:
        return package
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise PeerUnavailable("node and npm are needed to run JSS")
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            npm, "install", "--prefix", str(home), "--save-exact", "--omit=dev", "--no-audit",
            "--no-fund", "--loglevel=error", f"{JSS_PACKAGE}@{JSS_VERSION}",
        ],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if done.returncode != 0 or installed_version(package) != JSS_VERSION:
        raise PeerUnavailable(f"npm install {JSS_PACKAGE}@{JSS_VERSION}: {done.stderr[-1000:]}")
    return package


def installed_version(package: Path) -> str | None:
    try:
        found = json.loads((package / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = found.get("version") if isinstance(found, dict) else None
    return version if isinstance(version, str) else None


def command(peer: Peer, *, port: int, data: Path, package: Path = PACKAGE) -> list[str]:
    """The command that serves `data` on 127.0.0.1:`port` as `peer`.

    `--conneg` lets JSS take and give Turtle (without it, only JSON-LD); `--quiet` turns off its
    per-request log, as Kluis runs with its access log off.
    """
    node = shutil.which("node") or "node"
    if peer.quota:
        return [
            node, str(package / "bin" / "jss.js"), "start", "--host", "127.0.0.1",
            "--port", str(port), "--root", str(data), "--conneg", "--quiet",
        ]  # fmt: skip
    server = json.dumps((package / "src" / "server.js").as_uri())
    script = _NO_QUOTA.format(server=server)
    return [node, "--input-type=module", "-e", script, str(data), str(port)]


def prepare(data: Path) -> None:
    """Open `/bench/` to the public, as for Kluis: JSS reads the same Turtle ACL from disk.

    JSS denies everything where no ACL applies, and only Control may PUT an ACL, so it is
    written before the server starts.
    """
    acl = data / BENCH.strip("/") / ".acl"
    acl.parent.mkdir(parents=True, exist_ok=True)
    acl.write_text(PUBLIC_ACL)


def path_on(path: str) -> str:
    """A scenario's path on JSS: Kluis's path, with an extension for a negotiated document."""
    return JSS_NAMES.get(path, path)


# --- set-up over HTTP ------------------------------------------------------------------------


def document_triples() -> int:
    """The triples of DOCUMENT, which every server should give back, in any syntax."""
    return len(list(ox.parse(DOCUMENT, ox.RdfFormat.TURTLE, base_iri="http://example.org/doc")))


def mismatch(
    *,
    accept: str,
    content_type: str,
    body: bytes,
    base: str,
    triples: int | None = None,
    children: int | None = None,
) -> str | None:
    """Why an answer to a GET with `accept` does not serve the scenario; None if it does.

    It must be of the asked type, parse, and hold `triples` triples or `children` ldp:contains.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media != accept:
        return f"answers {media or 'no Content-Type'} to Accept: {accept}"
    try:
        found = list(ox.parse(body, _FORMATS[media], base_iri=base))
    except (KeyError, SyntaxError, ValueError) as exc:
        return f"answers {media} that does not parse: {exc}"
    if triples is not None and len(found) != triples:
        return f"answers {len(found)} triples where the document has {triples}"
    if children is not None:
        listed = sum(1 for t in found if t.predicate == LDP_CONTAINS)
        if listed != children:
            return f"lists {listed} children of {children}"
    return None


async def setup(base: str, keys: set[str]) -> dict[str, Plan]:
    """Create the scenarios' data on JSS at `base` and check it serves each; a Plan per key."""
    plans: dict[str, Plan] = {}
    async with aiohttp.ClientSession() as session:

        async def send(method: str, path: str, body: str, content_type: str) -> int:
            headers = {"Content-Type": content_type}
            async with session.request(method, base + path[1:], data=body, headers=headers) as r:
                await r.read()
                return r.status

        async def put(path: str, body: str) -> None:
            status = await send("PUT", path, body, "text/turtle")
            if not 200 <= status < 300:
                raise RuntimeError(f"setup PUT {path} on JSS: {status}")

        async def get(path: str, accept: str) -> tuple[str, bytes]:
            async with session.get(base + path[1:], headers={"Accept": accept}) as response:
                return response.headers.get("Content-Type", ""), await response.read()

        if keys & {"a", "b"}:
            await put(path_on(DOC), DOCUMENT)
        if keys & {"c", "c1"}:
            # One at a time: concurrent PUTs into one JSS pod race on its quota file.
            for i in range(CHILDREN):
                await put(f"{BIG}item-{i:04d}", CHILD)
        for key in sorted(keys):
            scenario = SCENARIOS[key]
            path = path_on(scenario.path)
            if key in AUTHENTICATED:
                plans[key] = Plan(None, "signs in with Kluis's own accounts and tokens")
            elif key in ("a", "b", "c", "c1"):
                accept = scenario.headers["Accept"]
                content_type, body = await get(path, accept)
                why = mismatch(
                    accept=accept,
                    content_type=content_type,
                    body=body,
                    base=base + path[1:],
                    triples=document_triples() if path == path_on(DOC) else None,
                    children=CHILDREN if path == BIG else None,
                )
                plans[key] = Plan(None if why else path, why or "")
            elif key == "d":
                status = await send("PUT", path + "probe", scenario.body, "text/turtle")
                ok = 200 <= status < 300
                plans[key] = Plan(path if ok else None, "" if ok else f"PUT answers {status}")
            elif key == "e":
                # One PATCH with the scenario's body: measured if 2xx, with a note if the
                # insert does not show in the document; then the document is put back.
                await put(path, DOCUMENT)
                patch = scenario.body.replace("{n}", "setup-probe")
                status = await send("PATCH", path, patch, "text/n3")
                _, after = await get(path, TURTLE["Accept"])
                await put(path, DOCUMENT)
                if not 200 <= status < 300:
                    plans[key] = Plan(None, f"N3 Patch answers {status}")
                elif b"vsetup-probe" not in after:
                    plans[key] = Plan(path, f"answers {status} without applying the insert")
                else:
                    plans[key] = Plan(path)
            else:
                plans[key] = Plan(None, "not set up on peers")
    return plans


# --- reporting -------------------------------------------------------------------------------


def figures(plan: Plan, measured: dict[str, Any] | None) -> dict[str, Any]:
    """A peer's entry in a scenario's row of the JSON: its figures, or why there are none."""
    if plan.path is None or measured is None:
        return {"n/a": plan.note}
    return {**measured, "path": plan.path, **({"note": plan.note} if plan.note else {})}


def ratio(kluis: dict[str, Any], peer: dict[str, Any]) -> float | None:
    """Kluis's successful requests per second over the peer's (None if it has none)."""
    theirs: float = peer.get("ok_per_second", 0.0)
    if not theirs:
        return None
    ours: float = kluis["ok_per_second"]
    return round(ours / theirs, 2)


def error_share(m: dict[str, Any]) -> str:
    """The share of answers that were not 2xx, with the first such status ("34% 500")."""
    answered = m["requests"] + m["socket_errors"]
    failed = m["non2xx"] + m["socket_errors"]
    if not failed:
        return "0"
    share = f"{failed / answered:.0%}" if failed / answered >= 0.005 else "<1%"
    return f"{share} {m['sample_status'] or 'socket errors'}"


def header(peers: list[dict[str, str]]) -> tuple[str, str]:
    """Extra header and alignment cells of the results table, two per peer."""
    names = "".join(f" {p['label']} req/s (errors) | Kluis/{p['label']} |" for p in peers)
    return names, "---:|---:|" * len(peers)


def cells(row: dict[str, Any], peers: list[dict[str, str]]) -> list[str]:
    """A scenario's cells for each peer: req/s with its error share, and Kluis over the peer."""
    out: list[str] = []
    for peer in peers:
        entry = row.get(peer["name"])
        if entry is None:
            out += ["", ""]
        elif "n/a" in entry:
            out += ["n/a", ""]
        else:
            shown = f"{entry['ok_per_second']:,.0f}"
            errors = error_share(entry)
            shown += f" ({errors})" if errors != "0" else ""
            found = row.get("peer_ratios", {}).get(peer["name"])
            out += [shown, "n/a" if found is None else f"{found:.2f}x"]
    return out


def notes(report: dict[str, Any], *, noise: float) -> list[str]:
    """Lines under the table: what each peer is, its n/a reasons, caveats and errors.

    A run in which other processes used more than `noise` cores is named as skewed.
    """
    peers: list[dict[str, str]] = report.get("peers", [])
    if not peers:
        skipped = report["notes"].get("peers_skipped")
        return ["", f"Peers: none ({skipped})."] if skipped else []
    lines = ["", "Peers (same pinning and loader; successful, 2xx, requests only):"]
    for peer in peers:
        rss = report["notes"].get("peers_peak_rss_mb", {}).get(peer["name"])
        lines.append(f"- {peer['label']}: {peer['what']}; peak RSS {rss} MB.")
    for key, row in report["scenarios"].items():
        for peer in peers:
            entry = row.get(peer["name"])
            if entry is None:
                continue
            if "n/a" in entry:
                lines.append(f"- ({key}) {peer['label']}: n/a, {entry['n/a']}.")
                continue
            if entry.get("note"):
                lines.append(f"- ({key}) {peer['label']}: {entry['note']}.")
            if entry["sample_status"]:
                lines.append(
                    f"- ({key}) {peer['label']}: {entry['non2xx']:,} of {entry['requests']:,} "
                    f"answered non-2xx; first {entry['sample_status']}: "
                    f"{entry['sample_body'][:200]!r}"
                )
    noisy = [
        f"({key}) {peer['label']}: {entry['other_cores']:.2f} cores"
        for key, row in report["scenarios"].items()
        for peer in peers
        if (entry := row.get(peer["name"])) and entry.get("other_cores", 0.0) > noise
    ]
    if noisy:
        lines.append("- Other processes competed for the CPU in: " + "; ".join(noisy) + ".")
    patched = report["notes"].get("peers_patched_document", {})
    for peer in peers:
        if peer["name"] in patched:
            doc = patched[peer["name"]]
            lines.append(
                f"- {peer['label']}'s PATCH target after the run: {doc['triples']:,} triples, "
                f"{doc['bytes']:,} bytes."
            )
    return lines


def describe(peer: Peer) -> dict[str, str]:
    """What the report says about a peer: its key, label and how it ran."""
    how = f"{JSS_PACKAGE} {JSS_VERSION} (Node {_node_version()}), "
    how += "`jss start --conneg --quiet`" if peer.quota else "createServer with defaultQuota 0"
    return {"name": peer.name, "label": peer.label, "what": how}


def _node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "?"
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().lstrip("v") or "?"
