"""The growth scenarios' set-up (files Kluis serves, documents of a given size) and their ratios.

No load runs here: the set-up is checked against a Kluis app over HTTP, the ratios and targets
against measurements made up for the purpose.
"""

from __future__ import annotations

import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pyoxigraph as ox
import pytest
from aiohttp.test_utils import TestServer, unused_port
from aiohttp.web import Application

from benchmarks import growth
from benchmarks.growth import CASES, Case
from benchmarks.scenarios import BENCH, CHILD, PUBLIC_ACL, SCENARIOS, TURTLE, Scenario
from pod.app import create_app
from pod.config import Settings

ServerFactory = Callable[..., Awaitable[TestServer]]
CONTAINS = "http://www.w3.org/ns/ldp#contains"


def test_the_issue_s_sizes_are_all_there() -> None:
    sizes = {k: (c.family, c.size) for k, c in CASES.items()}
    assert sizes == {
        "c10": ("c", 10), "c1k": ("c", 1_000), "c10k": ("c", 10_000),
        "d10": ("d", 10), "d1k": ("d", 1_000), "d10k": ("d", 10_000),
        "e20": ("e", 20), "e1k": ("e", 1_000), "e10k": ("e", 10_000),
        "q10": ("q", 10), "q10k": ("q", 10_000),
    }  # fmt: skip
    paths = [c.scenario.path for c in CASES.values()]
    assert len(set(paths)) == len(paths)
    # Where the public ACL lets anyone write; a q container is a pod of its own, with that ACL.
    assert all(c.scenario.path.startswith(BENCH) for c in CASES.values() if c.family != "q")
    assert all(c.scenario.path.count("/") == 2 for c in CASES.values() if c.family == "q")
    assert growth.server_options(CASES.values()) == ["--pod-quota-bytes", str(10**12)]
    assert growth.server_options(c for c in CASES.values() if c.family != "q") == []


def test_each_put_goes_to_a_new_url_and_each_patch_inserts_the_same_triple() -> None:
    assert {c.scenario.mode for c in CASES.values() if c.family in "dq"} == {"unique"}
    for scenario in (*(c.scenario for c in CASES.values() if c.family == "e"), SCENARIOS["e"]):
        assert scenario.mode == "fixed"
        assert "{n}" not in scenario.body


@pytest.mark.parametrize("triples", [20, 21, 1_000, 10_000])
def test_document_has_exactly_the_triples_asked(triples: int) -> None:
    text = growth.document(triples)
    parsed = ox.parse(text.encode(), ox.RdfFormat.TURTLE, base_iri="http://pod.example/doc")
    assert len(set(parsed)) == triples


def test_document_cannot_be_smaller_than_the_profile() -> None:
    with pytest.raises(ValueError, match="at least 20"):
        growth.document(19)


async def _serve(aiohttp_server: ServerFactory, data_dir: Path, **options: Any) -> str:
    port = unused_port()
    base = f"http://127.0.0.1:{port}/"
    settings = Settings(base_url=base, data_dir=data_dir, access_log=False, fsync=False, **options)
    app: Application = create_app(settings)
    await aiohttp_server(app, port=port)
    return base


def _case(family: growth.Family, size: int) -> Case:
    path = f"{BENCH}t-{family}{size}" + ("" if family == "e" else "/")
    return Case(Scenario(f"{family}{size}", "test", "GET", path, ""), family, size)


async def test_written_children_are_listed_by_kluis(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "bench").mkdir(parents=True)
    (data / "bench" / ".acl").write_text(PUBLIC_ACL)
    listed, grown, patched = _case("c", 7), _case("d", 3), _case("e", 25)
    growth.write_children(data, [listed, grown, patched])
    folder = data / listed.scenario.path.strip("/")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in folder.iterdir()} == {0o600}
    assert not (data / patched.scenario.path.strip("/")).exists()  # e documents are PUT

    base = await _serve(aiohttp_server, data)
    async with aiohttp.ClientSession() as session:
        url = base + listed.scenario.path[1:]
        async with session.get(url, headers=TURTLE) as response:
            assert response.status == 200
            body = await response.read()
        async with session.get(url + "item-00006", headers=TURTLE) as response:
            assert response.status == 200
    children = [
        q
        for q in ox.parse(body, ox.RdfFormat.TURTLE, base_iri=url)
        if q.predicate.value == CONTAINS
    ]
    assert len(children) == 7
    assert await growth.size_now(listed, base, data) == 7
    assert await growth.size_now(grown, base, data) == 3

    await growth.setup(base, [listed, patched])
    assert await growth.size_now(patched, base, data) == 25


async def test_a_quota_pod_is_a_storage_anyone_may_write_with_its_quota_counting(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    pod = Case(Scenario("q4", "test", "PUT", "/t-q4/", ""), "q", 4)
    growth.write_children(data, [pod])
    assert {stat.S_IMODE(f.stat().st_mode) for f in (data / "t-q4").iterdir()} == {0o600}
    # Room for what is there (the children and the ACL) and 1,500 bytes more.
    quota = len(CHILD) * 4 + len(PUBLIC_ACL) + 1_500
    base = await _serve(aiohttp_server, data, pod_quota_bytes=quota)
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "t-q4/.well-known/solid") as response:
            assert response.status == 200  # a storage: it has a description
        body = b"x" * 1_000
        headers = {"Content-Type": "application/octet-stream"}
        async with session.put(base + "t-q4/new", data=body, headers=headers) as response:
            assert response.status == 201, await response.text()
        async with session.put(base + "t-q4/more", data=body, headers=headers) as response:
            assert response.status == 507, await response.text()
    assert await growth.size_now(pod, base, data) == 5


@pytest.mark.parametrize(("p50_at_10k", "met"), [(44.0, True), (45.0, False)])
def test_quota_target_is_put_p50_in_a_pod_of_10000_against_of_10(
    p50_at_10k: float, met: bool
) -> None:
    [target] = growth.targets(_rows(_row("q", 10, 700, 40.0), _row("q", 10_000, 650, p50_at_10k)))
    assert "pod of 10,000 documents with a quota" in target["target"]
    assert target["met"] is met


def _row(family: growth.Family, size: int, rate: float, p50: float | None) -> dict[str, Any]:
    figures = {
        "ok_per_second": rate,
        "p50_ms": p50,
        "p99_ms": None if p50 is None else 2 * p50,
        "non2xx": 0,
        "socket_errors": 0,
        "sample_status": 0,
        "sample_body": "",
        "peak_rss_mb": 100.0,
    }
    return {"title": f"{family} at {size}", "family": family, "size": size, "size_after": size,
            "kluis": figures}  # fmt: skip


def _rows(*rows: dict[str, Any]) -> dict[str, Any]:
    return {f"{r['family']}{r['size']}": r for r in rows}


@pytest.mark.parametrize(
    ("p50_at_10k", "measured", "met"),
    [(43.0, "108%", True), (44.0, "110%", True), (45.0, "112%", False), (None, "n/a", False)],
)
def test_put_target_is_p50_at_10000_against_at_10(
    p50_at_10k: float | None, measured: str, met: bool
) -> None:
    rows = _rows(_row("d", 10, 700, 40.0), _row("d", 1_000, 690, 41.0),
                 _row("d", 10_000, 650, p50_at_10k))  # fmt: skip
    [target] = growth.targets(rows)
    assert target["measured"].startswith(measured)
    assert target["met"] is met


@pytest.mark.parametrize(("rate_at_10k", "met"), [(60.0, True), (50.0, True), (49.0, False)])
def test_patch_target_is_rate_at_10000_triples_against_at_20(rate_at_10k: float, met: bool) -> None:
    rows = _rows(_row("e", 20, 200, 150.0), _row("e", 10_000, rate_at_10k, 900.0))
    [target] = growth.targets(rows)
    assert target["met"] is met
    assert f"({rate_at_10k:,.0f} of 200 req/s)" in target["measured"]


def test_no_target_without_both_ends_of_its_range() -> None:
    rows = _rows(_row("d", 1_000, 700, 40.0), _row("d", 10_000, 690, 41.0),
                 _row("e", 20, 200, 150.0), _row("c", 10, 3000, 10.0),
                 _row("c", 10_000, 150, 200.0))  # fmt: skip
    assert growth.targets(rows) == []


def test_each_size_is_compared_with_the_smallest_of_its_own_family() -> None:
    rows = _rows(_row("c", 10, 3000, 10.0), _row("c", 10_000, 150, 200.0),
                 _row("e", 20, 200, 150.0), _row("e", 1_000, 50, 600.0))  # fmt: skip
    ratios = growth.vs_smallest(rows)
    assert ratios["c10"] == {"rate": 1.0, "p50": 1.0}
    assert ratios["c10000"] == {"rate": 0.05, "p50": 20.0}
    assert ratios["e1000"] == {"rate": 0.25, "p50": 4.0}


def test_table_gives_sizes_before_and_after_and_the_errors() -> None:
    grown = _row("d", 10, 700, 40.0)
    grown["size_after"] = 2_345
    failing = _row("e", 20, 3, 900.0)
    failing["kluis"].update(non2xx=4, sample_status=409, sample_body="conflict")
    lines = growth.markdown(_rows(grown, failing))
    text = "\n".join(lines)
    assert "| (d10) d at 10 | 10 → 2,345 | 700 | 40.0 | 80.0 | 0 | 100% | 100% | 100 |" in lines
    assert "| (e20) e at 20 | 20 | 3 | 900.0 | 1,800.0 | 4 |" in text
    assert "- (e20): 4 non-2xx, 0 socket errors; first 409: 'conflict'" in lines
    assert growth.markdown({}) == []
