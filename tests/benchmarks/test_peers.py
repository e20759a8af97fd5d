"""The peer logic of the benchmark: choosing, starting, checking answers, reporting."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

from benchmarks import peers
from benchmarks.scenarios import BIG, CHILDREN, DOC, DOCUMENT, PATCHED, PUBLIC_ACL

BASE = "http://127.0.0.1:1/bench/doc"


def _serialized(fmt: ox.RdfFormat) -> bytes:
    data = ox.serialize(ox.parse(DOCUMENT, ox.RdfFormat.TURTLE, base_iri=BASE), format=fmt)
    assert data is not None
    return data


def _listing(children: int) -> bytes:
    lines = [
        f"<{BIG}> <http://www.w3.org/ns/ldp#contains> <{BIG}item-{i}>." for i in range(children)
    ]
    return "\n".join(lines).encode()


def test_choose_expands_jss_to_both_runs_and_none_to_nothing() -> None:
    assert peers.choose("jss") == (peers.JSS, peers.JSS_NO_QUOTA)
    assert peers.choose("jss, jss") == (peers.JSS, peers.JSS_NO_QUOTA)
    assert peers.choose("none") == ()
    with pytest.raises(ValueError, match="unknown peer 'css'"):
        peers.choose("css")


def test_quota_off_runs_only_the_put_scenario() -> None:
    assert [k for k in "abcde" if peers.JSS_NO_QUOTA.runs(k)] == ["d"]
    assert all(peers.JSS.runs(k) for k in "abcde")
    assert not peers.JSS_NO_QUOTA.runs_any(["a", "e"])
    assert peers.JSS_NO_QUOTA.runs_any({"a": 1, "d": 2})


def test_document_triples_counts_the_source_document() -> None:
    assert peers.document_triples() == 20


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [("text/turtle", ox.RdfFormat.TURTLE), ("application/ld+json", ox.RdfFormat.JSON_LD)],
)
def test_an_answer_of_the_asked_type_with_every_triple_serves(
    accept: str, fmt: ox.RdfFormat
) -> None:
    body = _serialized(fmt)
    found = peers.mismatch(
        accept=accept, content_type=f"{accept}; charset=utf-8", body=body, base=BASE, triples=20
    )
    assert found is None


def test_turtle_for_a_json_ld_request_does_not_serve() -> None:
    found = peers.mismatch(
        accept="application/ld+json",
        content_type="text/turtle",
        body=_serialized(ox.RdfFormat.TURTLE),
        base=BASE,
        triples=20,
    )
    assert found == "answers text/turtle to Accept: application/ld+json"


def test_stored_bytes_as_octet_stream_do_not_serve() -> None:
    found = peers.mismatch(
        accept="text/turtle", content_type="application/octet-stream", body=b"{}", base=BASE
    )
    assert found == "answers application/octet-stream to Accept: text/turtle"


def test_a_document_missing_triples_does_not_serve() -> None:
    found = peers.mismatch(
        accept="text/turtle",
        content_type="text/turtle",
        body=b"<a> <b> <c>.",
        base=BASE,
        triples=20,
    )
    assert found == "answers 1 triples where the document has 20"


def test_an_answer_that_does_not_parse_does_not_serve() -> None:
    found = peers.mismatch(
        accept="text/turtle", content_type="text/turtle", body=b"<a> <b>", base=BASE
    )
    assert found is not None
    assert found.startswith("answers text/turtle that does not parse")


def test_a_listing_must_name_every_child() -> None:
    def check(children: int) -> str | None:
        return peers.mismatch(
            accept="text/turtle",
            content_type="text/turtle",
            body=_listing(children),
            base="http://127.0.0.1:1" + BIG,
            children=CHILDREN,
        )

    assert check(CHILDREN) is None
    assert check(CHILDREN - 1) == f"lists {CHILDREN - 1} children of {CHILDREN}"


def test_negotiated_documents_get_an_extension_on_jss_and_nothing_else_changes() -> None:
    assert peers.path_on(DOC) == DOC + ".jsonld"
    assert peers.path_on(PATCHED) == PATCHED + ".jsonld"
    assert peers.path_on(BIG) == BIG


def test_prepare_opens_the_bench_container_to_the_public(tmp_path: Path) -> None:
    peers.prepare(tmp_path)
    assert (tmp_path / "bench" / ".acl").read_text() == PUBLIC_ACL


def test_commands_start_jss_as_it_comes_or_with_the_quota_off(tmp_path: Path) -> None:
    package = tmp_path / "jss"
    plain = peers.command(peers.JSS, port=8123, data=tmp_path, package=package)
    assert plain[1:] == [
        str(package / "bin" / "jss.js"), "start", "--host", "127.0.0.1", "--port", "8123",
        "--root", str(tmp_path), "--conneg", "--quiet",
    ]  # fmt: skip
    off = peers.command(peers.JSS_NO_QUOTA, port=8123, data=tmp_path, package=package)
    assert off[1:3] == ["--input-type=module", "-e"]
    assert off[-2:] == [str(tmp_path), "8123"]
    assert "defaultQuota: 0" in off[3]
    assert (package / "src" / "server.js").as_uri() in off[3]


def test_installed_version_reads_package_json(tmp_path: Path) -> None:
    assert peers.installed_version(tmp_path) is None
    (tmp_path / "package.json").write_text('{"version": "0.0.81"}')
    assert peers.installed_version(tmp_path) == "0.0.81"
    (tmp_path / "package.json").write_text("[]")
    assert peers.installed_version(tmp_path) is None


def _measured(ok: int, non2xx: int, status: int = 0, socket_errors: int = 0) -> dict[str, Any]:
    return {
        "requests": ok + non2xx,
        "non2xx": non2xx,
        "socket_errors": socket_errors,
        "ok_per_second": ok / 10,
        "sample_status": status,
        "sample_body": "",
        "other_cores": 0.0,
    }


def test_error_share_counts_non_2xx_and_names_the_first_status() -> None:
    assert peers.error_share(_measured(100, 0)) == "0"
    assert peers.error_share(_measured(66, 34, 500)) == "34% 500"
    assert peers.error_share(_measured(10_000, 1, 409)) == "<1% 409"
    assert peers.error_share(_measured(90, 0, socket_errors=10)) == "10% socket errors"


def test_report_cells_show_ratio_error_share_and_na() -> None:
    described = [peers.describe(peers.JSS), peers.describe(peers.JSS_NO_QUOTA)]
    kluis = _measured(8_000, 0)
    jss = peers.figures(peers.Plan("/bench/put/"), _measured(6_000, 4_000, 500))
    row = {"kluis": kluis, "jss": jss, "peer_ratios": {"jss": peers.ratio(kluis, jss)}}
    assert peers.cells(row, described) == ["600 (40% 500)", "1.33x", "", ""]
    na = {"kluis": kluis, "jss": peers.figures(peers.Plan(None, "no JSON-LD"), None)}
    assert peers.cells(na, described) == ["n/a", "", "", ""]
    assert peers.ratio(kluis, _measured(0, 10, 500)) is None
    header, align = peers.header(described)
    assert header.count("|") == 4
    assert align == "---:|---:|" * 2


def test_notes_give_reasons_caveats_errors_and_noise() -> None:
    described = [peers.describe(peers.JSS)]
    busy = {
        **_measured(5_000, 5_000, 409),
        "other_cores": 0.5,
        "note": "answers 204 without applying the insert",
    }
    report = {
        "peers": described,
        "scenarios": {
            "b": {"jss": peers.figures(peers.Plan(None, "no JSON-LD"), None)},
            "e": {"jss": busy},
        },
        "notes": {"peers_peak_rss_mb": {"jss": 150.0}},
    }
    lines = peers.notes(report, noise=0.1)
    assert "- (b) JSS: n/a, no JSON-LD." in lines
    assert "- (e) JSS: answers 204 without applying the insert." in lines
    assert any(
        line.startswith("- (e) JSS: 5,000 of 10,000 answered non-2xx; first 409") for line in lines
    )
    assert "- Other processes competed for the CPU in: (e) JSS: 0.50 cores." in lines
    assert peers.notes({"notes": {"peers_skipped": "no npm"}}, noise=0.1) == [
        "",
        "Peers: none (no npm).",
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.skipif(
    peers.installed_version(peers.PACKAGE) != peers.JSS_VERSION or shutil.which("node") is None,
    reason="JSS is not installed: `make bench` installs it into .peers/",
)
@pytest.mark.parametrize("peer", [peers.JSS, peers.JSS_NO_QUOTA], ids=["jss", "quota-off"])
def test_setup_on_a_running_jss_plans_every_scenario(tmp_path: Path, peer: peers.Peer) -> None:
    peers.prepare(tmp_path)
    port = _free_port()
    process = subprocess.Popen(
        peers.command(peer, port=port, data=tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "JSS did not listen"
                time.sleep(0.1)
        plans = asyncio.run(peers.setup(f"http://127.0.0.1:{port}/", {"a", "b", "d", "e", "f"}))
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert plans["a"] == peers.Plan(DOC + ".jsonld")
    assert plans["b"] == peers.Plan(DOC + ".jsonld")
    assert plans["d"] == peers.Plan("/bench/put/")
    # JSS 0.0.81 answers 204 to the scenario's N3 Patch and leaves the document as it was.
    assert plans["e"] == peers.Plan(PATCHED + ".jsonld", "answers 204 without applying the insert")
    assert plans["f"].path is None
    assert (tmp_path / "bench" / "put" / "probe").exists()
