"""The growth scenarios: how the cost of a PUT, an N3 Patch and a listing grows with size.

Issue 13 asks for d, e and c at three sizes, Kluis only (the bare server does the same work at
every size, so it says nothing here):

- c10, c1k, c10k: GET a container of 10 / 1,000 / 10,000 children;
- d10, d1k, d10k: PUT a new 1 KB document into a container already holding 10 / 1,000 / 10,000;
- e20, e1k, e10k: N3 Patch inserting one fixed triple into a document of 20 / 1,000 / 10,000
  triples;
- q10, q10k: PUT a new 1 KB document into a pod (a storage root) already holding 10 / 10,000,
  with a quota (`--pod-quota-bytes`, too high to refuse anything): every write is counted
  against the pod's quota, and issue 15 asks that this never walks the pod per write.

The children of the c, d and q containers are written into the data directory before Kluis starts
(as the file backend lays them out: one plain Turtle file each, files 0600 and directories 0700),
which takes well under a second where 22,000 PUTs would take a minute. The e documents are PUT
once Kluis runs, so they are stored as Kluis stores any document.

A d run keeps adding documents (one per successful PUT, warm-up included), so its container
ends larger than it started: the report gives both sizes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pyoxigraph as ox

from benchmarks.scenarios import BENCH, CHILD, DOCUMENT, PATCH, PUBLIC_ACL, TURTLE, Scenario

Family = Literal["c", "d", "e", "q"]
# What the issue sets, each a ratio of the largest size's figure to the smallest's.
PUT_P50_GROWTH_TARGET = 1.10  # d: PUT p50 at 10,000 documents within 10% of at 10
PATCH_RATE_GROWTH_TARGET = 0.25  # e: rate on 10,000 triples >= 25% of on 20
QUOTA_PUT_P50_GROWTH_TARGET = 1.10  # q: PUT p50 into a pod of 10,000 within 10% of into one of 10
POD_QUOTA_BYTES = 10**12  # the q scenarios' quota: counted, never reached
DOCUMENT_TRIPLES = 20  # in DOCUMENT
_FILE_MODE = 0o600  # as pod.storage.claim: the owner's data only
_DIR_MODE = 0o700


@dataclass(frozen=True, slots=True)
class Case:
    """One growth scenario: `family` (c, d or e) at `size` children, documents or triples."""

    scenario: Scenario
    family: Family
    size: int


def _label(size: int) -> str:
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def _case(family: Family, size: int) -> Case:
    key = family + _label(size)
    if family == "c":
        scenario = Scenario(
            key, f"GET container, {size:,} children", "GET", f"{BENCH}list-{key}/", "", TURTLE
        )
    elif family == "d":
        scenario = Scenario(
            key, f"PUT new 1 KB document, container of {size:,}", "PUT", f"{BENCH}grow-{key}/",
            "", {"Content-Type": "text/turtle"}, DOCUMENT, "unique",
        )  # fmt: skip
    elif family == "q":
        # A pod of its own (a storage root at the top, as every pod is), with a quota.
        scenario = Scenario(
            key, f"PUT new 1 KB document, pod of {size:,}, with a quota", "PUT", f"/quota-{key}/",
            "", {"Content-Type": "text/turtle"}, DOCUMENT, "unique",
        )  # fmt: skip
    else:
        scenario = Scenario(
            key, f"PATCH (N3) one fixed triple, {size:,}-triple document", "PATCH",
            f"{BENCH}triples-{key}", "", {"Content-Type": "text/n3"}, PATCH,
        )  # fmt: skip
    return Case(scenario, family, size)


CASES = {
    c.scenario.key: c
    for c in (
        *(_case("c", n) for n in (10, 1_000, 10_000)),
        *(_case("d", n) for n in (10, 1_000, 10_000)),
        *(_case("e", n) for n in (DOCUMENT_TRIPLES, 1_000, 10_000)),
        *(_case("q", n) for n in (10, 10_000)),
    )
}


def server_options(cases: Iterable[Case]) -> list[str]:
    """What `kluis serve` needs beside its usual options to run `cases`."""
    if any(case.family == "q" for case in cases):
        return ["--pod-quota-bytes", str(POD_QUOTA_BYTES)]
    return []


def document(triples: int) -> str:
    """Turtle of exactly `triples` triples: DOCUMENT and then items of one triple each."""
    if triples < DOCUMENT_TRIPLES:
        raise ValueError(f"a document here has at least {DOCUMENT_TRIPLES} triples")
    items = (f'<#item{i}> schema:name "Item {i}".\n' for i in range(triples - DOCUMENT_TRIPLES))
    return DOCUMENT + "".join(items)


def write_children(data_dir: Path, cases: Iterable[Case]) -> None:
    """Write the children of the c, d and q containers into a data directory Kluis will serve;
    a q container is made a storage (a pod) anyone may read and write, as the file backend
    keeps its marker and its ACL."""
    for case in cases:
        if case.family == "e":
            continue
        folder = data_dir / case.scenario.path.strip("/")
        folder.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        if case.family == "q":
            _write_new(folder / ".kluis~self.json", json.dumps({"storage": "true"}).encode())
            _write_new(folder / ".acl", PUBLIC_ACL.encode())
        body = CHILD.encode()
        for i in range(case.size):
            fd = os.open(folder / f"item-{i:05d}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
            try:
                os.write(fd, body)
            finally:
                os.close(fd)


async def setup(base: str, cases: Iterable[Case]) -> None:
    """PUT the e documents through Kluis at `base` (which ends with "/")."""
    async with aiohttp.ClientSession() as session:
        for case in cases:
            if case.family != "e":
                continue
            url = base + case.scenario.path[1:]
            body = document(case.size)
            headers = {"Content-Type": "text/turtle"}
            async with session.put(url, data=body, headers=headers) as response:
                if response.status not in (201, 204):
                    raise RuntimeError(
                        f"setup PUT {url}: {response.status} {await response.text()}"
                    )


async def size_now(case: Case, base: str, data_dir: Path) -> int:
    """The children in a c or d container, or the triples in an e document, as they are now."""
    if case.family != "e":
        folder = data_dir / case.scenario.path.strip("/")
        return sum(1 for name in os.listdir(folder) if not name.startswith("."))
    url = base + case.scenario.path[1:]
    async with aiohttp.ClientSession() as session, session.get(url, headers=TURTLE) as response:
        response.raise_for_status()
        data = await response.read()
    return len(list(ox.parse(data, ox.RdfFormat.TURTLE, base_iri=url)))


def run_cases(
    cases: Iterable[Case],
    measure: Callable[[Scenario], dict[str, Any]],
    size_after: Callable[[Case], int],
) -> dict[str, Any]:
    """Measure each case on Kluis; its row (title, family, sizes, Kluis's figures) by key."""
    rows: dict[str, Any] = {}
    for case in cases:
        figures = measure(case.scenario)
        rows[case.scenario.key] = {
            "title": case.scenario.title,
            "family": case.family,
            "size": case.size,
            "size_after": size_after(case),
            "kluis": figures,
        }
    return rows


# --- the ratios and the report ------------------------------------------------------------


def _ends(rows: dict[str, Any], family: Family) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The rows of `family` at its smallest and largest size, if two sizes were measured."""
    found = sorted((r for r in rows.values() if r["family"] == family), key=lambda r: r["size"])
    return (found[0], found[-1]) if len(found) >= 2 else None


def _quotient(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def vs_smallest(rows: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """For each row, its req/s and p50 as fractions of its family's smallest size."""
    out: dict[str, dict[str, float | None]] = {}
    for key, row in rows.items():
        smallest = min(
            (r for r in rows.values() if r["family"] == row["family"]), key=lambda r: r["size"]
        )
        out[key] = {
            "rate": _quotient(row["kluis"]["ok_per_second"], smallest["kluis"]["ok_per_second"]),
            "p50": _quotient(row["kluis"]["p50_ms"], smallest["kluis"]["p50_ms"]),
        }
    return out


def targets(rows: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's two growth targets, where both their sizes were measured; c for reference."""
    found: list[dict[str, Any]] = []
    ends = _ends(rows, "d")
    if ends and (ends[0]["size"], ends[1]["size"]) == (10, 10_000):
        small, large = (r["kluis"]["p50_ms"] for r in ends)
        ratio = _quotient(large, small)
        found.append(
            {
                "target": "PUT p50 into a container of 10,000 documents within "
                f"{PUT_P50_GROWTH_TARGET - 1:.0%} of into one of 10",
                "measured": "n/a"
                if ratio is None
                else f"{ratio:.0%} ({_number(large)} ms against {_number(small)})",
                "met": ratio is not None and ratio <= PUT_P50_GROWTH_TARGET,
            }
        )
    ends = _ends(rows, "e")
    if ends and (ends[0]["size"], ends[1]["size"]) == (DOCUMENT_TRIPLES, 10_000):
        small, large = (r["kluis"]["ok_per_second"] for r in ends)
        ratio = _quotient(large, small)
        found.append(
            {
                "target": "N3 Patch on a 10,000-triple document >= "
                f"{PATCH_RATE_GROWTH_TARGET:.0%} of the rate on a {DOCUMENT_TRIPLES}-triple one",
                "measured": "n/a"
                if ratio is None
                else f"{ratio:.0%} ({large:,.0f} of {small:,.0f} req/s)",
                "met": ratio is not None and ratio >= PATCH_RATE_GROWTH_TARGET,
            }
        )
    ends = _ends(rows, "q")
    if ends and (ends[0]["size"], ends[1]["size"]) == (10, 10_000):
        small, large = (r["kluis"]["p50_ms"] for r in ends)
        ratio = _quotient(large, small)
        found.append(
            {
                "target": "PUT p50 into a pod of 10,000 documents with a quota within "
                f"{QUOTA_PUT_P50_GROWTH_TARGET - 1:.0%} of into one of 10",
                "measured": "n/a"
                if ratio is None
                else f"{ratio:.0%} ({_number(large)} ms against {_number(small)})",
                "met": ratio is not None and ratio <= QUOTA_PUT_P50_GROWTH_TARGET,
            }
        )
    return found


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _size(row: dict[str, Any]) -> str:
    if row["size_after"] == row["size"]:
        return f"{row['size']:,}"
    return f"{row['size']:,} → {row['size_after']:,}"


def markdown(rows: dict[str, Any]) -> list[str]:
    """The growth table and the errors of its runs, as Markdown lines ([] without rows)."""
    if not rows:
        return []
    ratios = vs_smallest(rows)
    lines = [
        "",
        "How the cost grows (Kluis only; size at the start → at the end of the run; "
        "req/s and p50 against the same operation at its smallest size; Kluis's peak RSS "
        "so far after the run):",
        "",
        "| scenario | size | req/s | p50 ms | p99 ms | errors | req/s vs smallest "
        "| p50 vs smallest | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    errors: list[str] = []
    for key, row in rows.items():
        m = row["kluis"]
        failed = m["non2xx"] + m["socket_errors"]
        lines.append(
            f"| ({key}) {row['title']} | {_size(row)} | {m['ok_per_second']:,.0f} "
            f"| {_number(m['p50_ms'])} | {_number(m['p99_ms'])} | {failed} "
            f"| {_percent(ratios[key]['rate'])} | {_percent(ratios[key]['p50'])} "
            f"| {_whole(m.get('peak_rss_mb'))} |"
        )
        if failed:
            first = f"; first {m['sample_status']}: {m['sample_body'][:300]!r}"
            errors.append(
                f"- ({key}): {m['non2xx']} non-2xx, {m['socket_errors']} socket errors"
                + (first if m["sample_status"] else "")
            )
    return [*lines, "", "Errors:" if errors else "Errors: none.", *errors]


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def _whole(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.0%}"
