"""The export memory benchmark (benchmarks/export.py), as a smoke run of 200 small files: the
figures are not judged here (the machine is shared), only that they are measured."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks import export


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_the_benchmark_measures_an_export(tmp_path: Path) -> None:
    result = await export.measure(200, 10_000, workdir=tmp_path)
    assert result.files == 200
    assert result.archive_bytes > 200 * 10_000  # random bytes do not compress
    assert result.peak_mb >= result.rss_before_mb > 10
    assert result.growth_mb == pytest.approx(result.peak_mb - result.rss_before_mb)
    assert result.seconds > 0


def test_write_files_writes_incompressible_files(tmp_path: Path) -> None:
    export.write_files(tmp_path / "f", 3, 1000)
    written = sorted((tmp_path / "f").iterdir())
    assert [p.name for p in written] == ["file-00000.bin", "file-00001.bin", "file-00002.bin"]
    assert len({p.read_bytes() for p in written}) == 3
    assert all(p.stat().st_size == 1000 and p.stat().st_mode & 0o777 == 0o600 for p in written)
