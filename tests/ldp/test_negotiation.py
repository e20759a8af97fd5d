"""Property tests for Accept parsing and content negotiation (`pod.ldp.negotiation`).

RFC 9110 §12.5.1: the most specific matching media range gives a type its q-value; q=0 means
"not acceptable". Parsing must never raise and must stay bounded whatever the header holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pod.ldp import rdf
from pod.ldp.negotiation import MAX_RANGES, choose, parse_accept

PROPERTY = settings(max_examples=200, deadline=None, database=None)

TYPES = [
    "text/turtle",
    "application/ld+json",
    "application/n-triples",
    "application/rdf+xml",
    "text/n3",
    "text/html",
    "text/plain",
    "image/png",
    "application/json",
]
available_lists = st.lists(st.sampled_from(TYPES), min_size=1, max_size=6, unique=True)
ranges = st.sampled_from([*TYPES, "*/*", "text/*", "application/*", "image/*"])
q_values = st.sampled_from([None, "0", "0.0", "0.001", "0.1", "0.5", "0.9", "1", "1.0", "1.000"])
# Free text mixed with the characters Accept headers are made of.
garbage = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.sampled_from(
            [
                ",",
                ";",
                "q=",
                "=",
                "/",
                "*",
                "text",
                "turtle",
                "0.5",
                "abc",
                "-1",
                "nan",
                "inf",
                " ",
                "\t",
                '"',
                "1e400",
                "Q=",
                "*/*",
                "text/turtle",
            ]
        ),
        max_size=60,
    ).map("".join),
)


@PROPERTY
@given(garbage)
@example("," * 10_000)
@example("text/turtle;q=abc")
@example("*/*;q=NaN")
@example("*/*;q=1e400")
@example("*/html")
@example("* /0")
def test_parse_accept_never_raises_and_is_bounded(header: str) -> None:
    parsed = parse_accept(header)
    assert len(parsed) <= MAX_RANGES
    for media_range in parsed:
        assert 0.0 <= media_range.q <= 1.0
        assert media_range.type
        assert media_range.subtype
        assert not (media_range.type == "*" and media_range.subtype != "*")


@PROPERTY
@given(garbage, available_lists)
@example("text/turtle;q=0", ["text/turtle"])
@example(";;;", ["text/turtle", "application/ld+json"])
def test_choose_never_raises_and_returns_an_available_type(
    header: str, available: list[str]
) -> None:
    chosen = choose(header, tuple(available))
    assert chosen is None or chosen in available


@PROPERTY
@given(available_lists, st.sampled_from([None, "", "   "]))
def test_no_accept_header_gets_the_first_type(available: list[str], header: str | None) -> None:
    assert choose(header, tuple(available)) == available[0]


def test_no_available_types_gives_none() -> None:
    assert choose("*/*", ()) is None


@PROPERTY
@given(available_lists, st.data())
def test_q_zero_excludes_a_type(available: list[str], data: st.DataObject) -> None:
    refused = data.draw(st.sampled_from(available))
    for header in (
        f"{refused};q=0",
        f"{refused};q=0, */*",
        f"*/*;q=1, {refused};q=0.0",
        f"{refused};q=0.000, {refused.split('/')[0]}/*;q=1",
    ):
        assert choose(header, tuple(available)) != refused, header


def _reference_quality(header: Sequence[tuple[str, float]], media_type: str) -> float:
    """RFC 9110's rule, written independently: the most specific matching range wins."""
    main, sub = media_type.split("/")
    best: tuple[int, float] | None = None
    for media_range, q in header:
        r_main, r_sub = media_range.split("/")
        if media_range == "*/*":
            specificity = 0
        elif r_main == main and r_sub == "*":
            specificity = 1
        elif r_main == main and r_sub == sub:
            specificity = 2
        else:
            continue
        if best is None or specificity > best[0] or (specificity == best[0] and q > best[1]):
            best = (specificity, q)
    return 0.0 if best is None else best[1]


@PROPERTY
@given(st.lists(st.tuples(ranges, q_values), min_size=1, max_size=8), available_lists)
def test_choose_picks_the_highest_quality_in_server_order(
    entries: list[tuple[str, str | None]], available: list[str]
) -> None:
    header = ", ".join(r if q is None else f"{r};q={q}" for r, q in entries)
    weighted = [(r, 1.0 if q is None else float(q)) for r, q in entries]
    qualities = [_reference_quality(weighted, t) for t in available]
    best = max(qualities)
    expected = None if best <= 0 else available[qualities.index(best)]
    assert choose(header, tuple(available)) == expected, header


@PROPERTY
@given(st.sampled_from(rdf.RDF_TYPES), st.sampled_from(["", " ", ";charset=utf-8", ";q=1"]))
def test_each_rdf_type_is_chosen_when_asked_for(media: str, suffix: str) -> None:
    header = f"{media.upper() if suffix == ' ' else media}{suffix}, */*;q=0.1"
    assert choose(header, rdf.RDF_TYPES) == media
