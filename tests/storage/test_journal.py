"""Journals (pod.storage.journal): the framing keeps only whole records, a writer cuts off a torn
tail, segments are dropped whole. Unit tests, and the file and memory journals side by side."""

from __future__ import annotations

import resource
import signal
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pod.storage.journal import (
    FileJournal,
    Journal,
    MemoryJournal,
    frame,
    good_end,
    records,
    verified,
)

KEY = "0123456789abcdef0123456789abcdef"
DAY = "2026-12-07"

# Payloads as the access log writes them: JSON-ish text, never a tab, a newline or a NUL.
payloads = st.lists(
    st.text(
        alphabet=st.characters(exclude_characters="\t\n\0", exclude_categories=["Cs"]),
        min_size=1,
        max_size=60,
    ).map(str.encode),
    max_size=12,
)


@given(payloads)
def test_framed_records_read_back(items: list[bytes]) -> None:
    assert records(b"".join(frame(p) for p in items)) == items


@given(payloads, st.data())
def test_a_torn_tail_loses_only_the_record_it_cuts(items: list[bytes], data: st.DataObject) -> None:
    whole = b"".join(frame(p) for p in items)
    cut = data.draw(st.integers(min_value=0, max_value=len(whole)))
    found = records(whole[:cut])
    # Exactly the records that end before the cut: never a part of one, never one torn off.
    ends = [len(b"".join(frame(p) for p in items[: i + 1])) for i in range(len(items))]
    assert found == [p for p, end in zip(items, ends, strict=True) if end <= cut]
    # And a writer reopening the segment keeps exactly those bytes.
    assert good_end(whole[:cut], 0) == max([e for e in ends if e <= cut], default=0)


@given(payloads.filter(bool), st.data())
def test_bytes_a_crash_left_zero_lose_exactly_the_records_they_touch(
    items: list[bytes], data: st.DataObject
) -> None:
    """Records are written into zeros, so what a crash tears (a copy cut short, pages that
    never reached the disk) reads as NUL bytes: any run of them, anywhere."""
    framed = [frame(p) for p in items]
    whole = bytearray(b"".join(framed))
    start = data.draw(st.integers(min_value=0, max_value=len(whole) - 1))
    stop = data.draw(st.integers(min_value=start + 1, max_value=len(whole)))
    whole[start:stop] = bytes(stop - start)
    kept = []
    begin = 0
    for payload, line in zip(items, framed, strict=True):
        end = begin + len(line)
        # Lost when a zero lands in its line, or on the newline before it (the two run on).
        touched = start < end and stop > max(begin - 1, 0)
        if not touched:
            kept.append(payload)
        begin = end
    assert records(bytes(whole)) == kept


@given(payloads.filter(bool), st.data())
def test_a_line_of_the_older_framing_with_a_bad_crc_is_skipped_and_no_other(
    items: list[bytes], data: st.DataObject
) -> None:
    framed = [b"%s\t%08x\n" % (p, zlib.crc32(p)) for p in items]
    which = data.draw(st.integers(min_value=0, max_value=len(items) - 1))
    line = bytearray(framed[which])
    at = data.draw(st.integers(min_value=0, max_value=len(line) - 2))  # not its newline
    old = line[at]
    # Any other byte but a newline (which would make two lines of one) or a tab before the
    # CRC (which would make it a line of the newer framing).
    tab = len(line) - 10
    line[at] = data.draw(
        st.integers(min_value=0, max_value=255).filter(
            lambda b: b not in (old, 10) and not (at == tab and b != 9)
        )
    )
    framed[which] = bytes(line)
    assert records(b"".join(framed)) == items[:which] + items[which + 1 :]


def test_framing_refuses_a_payload_holding_a_tab_newline_or_nul() -> None:
    for bad in (b"a\tb", b"a\nb", b"a\0b", b""):
        with pytest.raises(ValueError, match="not empty"):
            frame(bad)


def test_verified_keeps_a_line_without_nul_and_checks_an_older_lines_crc() -> None:
    assert verified(b"abc") == b"abc"
    assert verified(b"ab\0c") is None
    assert verified(b"") is None
    assert verified(b"abc\t%08x" % zlib.crc32(b"abc")) == b"abc"
    assert verified(b"abd\t%08x" % zlib.crc32(b"abc")) is None
    assert verified(b"abc\tzzzzzzzz") is None
    assert verified(b"abc\t1") is None


def test_records_of_both_framings_read_in_one_segment() -> None:
    older = b"one\t%08x\n" % zlib.crc32(b"one")
    assert records(older + frame(b"two") + older) == [b"one", b"two", b"one"]


@pytest.fixture(params=["memory", "file"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Journal:
    if request.param == "memory":
        return MemoryJournal()
    return FileJournal(tmp_path / "journal", fsync=True)


def test_segments_are_per_day_and_dropped_whole(journal: Journal) -> None:
    for day in ("2026-11-01", "2026-11-30", DAY):
        journal.append(KEY, day, b'{"d":"' + day.encode() + b'"}')
        journal.append(KEY, day, b"second")
    assert journal.all_keys() == [KEY]
    assert journal.days(KEY) == ["2026-11-01", "2026-11-30", DAY]
    assert list(journal.read(KEY, DAY)) == [b'{"d":"2026-12-07"}', b"second"]
    assert journal.drop_before(KEY, "2026-11-30") == 1
    assert journal.days(KEY) == ["2026-11-30", DAY]
    journal.append(KEY, DAY, b"third")  # a segment still open keeps being appended to
    assert list(journal.read(KEY, DAY))[-1] == b"third"
    journal.put_meta(KEY, b'{"days":7}')
    assert journal.get_meta(KEY) == b'{"days":7}'
    journal.drop(KEY)
    assert journal.days(KEY) == []
    assert journal.get_meta(KEY) is None
    journal.close()


def test_a_writer_reopening_a_segment_cuts_off_its_torn_tail(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    first = FileJournal(directory, fsync=False)
    first.append(KEY, DAY, b"one")
    first.append(KEY, DAY, b"two")
    first.close()
    segment = directory / KEY / f"{DAY}.jsonl"
    whole = segment.read_bytes()
    torn = frame(b"three")[:-4]
    segment.write_bytes(whole + torn)  # as a machine crash can leave it
    assert list(FileJournal(directory).read(KEY, DAY)) == [b"one", b"two"]
    second = FileJournal(directory, fsync=False)
    second.append(KEY, DAY, b"four")
    second.close()
    assert segment.read_bytes() == whole + frame(b"four")  # the torn bytes are gone
    assert list(FileJournal(directory).read(KEY, DAY)) == [b"one", b"two", b"four"]


def test_a_segment_left_by_a_killed_writer_reads_and_is_cut_back_on_reopening(
    tmp_path: Path,
) -> None:
    """A writer killed with its window mapped leaves zeros past its records, and maybe part of
    the record it was copying: readers skip both, the next writer cuts them off."""
    directory = tmp_path / "journal"
    first = FileJournal(directory, fsync=False)
    for n in range(3000):  # past one window, so the window moved
        first.append(KEY, DAY, b"record %d" % n)
    segment = directory / KEY / f"{DAY}.jsonl"
    whole = segment.read_bytes().rstrip(b"\0")
    left = segment.stat().st_size
    assert left > len(whole)  # the window's zeros, there while it is open (as at a kill)
    torn = frame(b"in flight")[:5]
    with segment.open("r+b") as f:  # the start of a record being copied when the kill came
        f.seek(len(whole))
        f.write(torn)
    assert segment.stat().st_size == left
    expected = [b"record %d" % n for n in range(3000)]
    assert list(FileJournal(directory).read(KEY, DAY)) == expected
    second = FileJournal(directory, fsync=False)
    second.append(KEY, DAY, b"after")
    second.close()
    assert segment.read_bytes() == whole + frame(b"after")
    assert list(second.read(KEY, DAY)) == [*expected, b"after"]


def test_a_bad_record_inside_a_segment_is_kept_but_never_read(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    first = FileJournal(directory, fsync=False)
    first.append(KEY, DAY, b"one")
    first.close()
    segment = directory / KEY / f"{DAY}.jsonl"
    segment.write_bytes(segment.read_bytes() + b"bad\t00000000\n" + frame(b"two"))
    second = FileJournal(directory, fsync=False)
    second.append(KEY, DAY, b"three")
    second.close()
    assert list(second.read(KEY, DAY)) == [b"one", b"two", b"three"]


def test_files_are_the_owners_only(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    journal = FileJournal(directory)
    journal.append(KEY, DAY, b"x")
    journal.close()
    assert (directory / KEY).stat().st_mode & 0o777 == 0o700
    assert (directory / KEY / f"{DAY}.jsonl").stat().st_mode & 0o777 == 0o600


def test_keys_and_days_that_could_name_other_files_are_refused(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "journal")
    for key, day in (("../x", DAY), (KEY, "../../etc"), ("ABC", DAY)):
        with pytest.raises(ValueError, match="journal key"):
            journal.append(key, day, b"x")


def test_segments_closed_to_bound_open_files_are_synced_and_appended_to_again(
    tmp_path: Path,
) -> None:
    journal = FileJournal(tmp_path / "journal", fsync=True)
    keys = [f"{i:032x}" for i in range(140)]  # more than it keeps open (128)
    for key in keys:
        journal.append(key, DAY, b"first")
    journal.sync()  # the closed ones are opened again to be synced
    for key in keys:
        journal.append(key, DAY, b"second")
    journal.close()
    assert all(list(journal.read(key, DAY)) == [b"first", b"second"] for key in keys)


def test_a_window_that_cannot_be_allocated_fails_that_append_and_loses_no_record(
    tmp_path: Path,
) -> None:
    """A full disk, as the file-size limit makes one: posix_fallocate fails (EFBIG, with
    SIGXFSZ ignored), the append raises OSError, and the segment goes on from its records."""
    journal = FileJournal(tmp_path / "journal", fsync=False)
    record = b"x" * 200
    written = 0
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20 * 1024, hard))  # the first window, 16 KiB
    try:
        for _ in range(16 * 1024 // len(frame(record))):  # what the first window holds
            journal.append(KEY, DAY, record)
            written += 1
        for _ in range(2):  # and again: nothing was left half done
            with pytest.raises(OSError, match="too large"):
                journal.append(KEY, DAY, record)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    journal.append(KEY, DAY, b"after")
    journal.close()
    assert list(journal.read(KEY, DAY)) == [record] * written + [b"after"]
