"""Property tests for Link header parsing (`pod.http.headers`, RFC 8288).

A client's Link header decides whether POST makes a container, so the parser sees hostile input:
it must never raise, stay bounded, and read well-formed headers exactly.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pod.http.headers import MAX_LINKS, link, link_types, parse_link_header

PROPERTY = settings(max_examples=200, deadline=None, database=None)
LISTS = settings(max_examples=100, deadline=None, database=None)  # list-heavy strategies

BASIC_CONTAINER = "http://www.w3.org/ns/ldp#BasicContainer"

garbage = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "<",
                ">",
                ",",
                ";",
                "=",
                '"',
                "\\",
                " ",
                "\t",
                "rel",
                "type",
                "REL",
                "<a>",
                "x",
                BASIC_CONTAINER,
                '"type"',
                "anchor",
            ]
        ),
        max_size=80,
    ).map("".join),
)
# A URI reference as it may appear between < and >: anything but '>'.
targets = st.text(st.characters(exclude_characters=">", codec="utf-8"), max_size=40)
# The contents of a quoted-string that needs no escaping.
plain_values = st.text(st.characters(exclude_characters='"\\', codec="utf-8"), max_size=20)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@PROPERTY
@given(garbage)
@example("<")
@example('<a>; rel="unterminated')
@example('<a>; rel="x\\')
@example("<a>, " * 5000)
@example(";;;,,,")
def test_parse_link_header_never_raises_and_is_bounded(value: str) -> None:
    parsed = parse_link_header(value)
    assert len(parsed) <= MAX_LINKS
    for target, params in parsed:
        assert ">" not in target
        for key in params:
            assert key == key.lower()
            assert key
    assert isinstance(link_types(value), set)


@LISTS
@given(st.lists(st.tuples(targets, plain_values), max_size=MAX_LINKS))
def test_well_formed_links_round_trip(links: list[tuple[str, str]]) -> None:
    header = ", ".join(f'<{target}>; rel="{rel}"' for target, rel in links)
    assert parse_link_header(header) == [(target, {"rel": rel}) for target, rel in links]


@LISTS
@given(st.lists(st.tuples(targets, plain_values), max_size=MAX_LINKS))
def test_links_built_by_link_round_trip(links: list[tuple[str, str]]) -> None:
    header = ", ".join(link(target, rel) for target, rel in links)
    assert parse_link_header(header) == [(target, {"rel": rel}) for target, rel in links]


@LISTS
@given(st.lists(st.tuples(targets, st.text(max_size=20)), min_size=1, max_size=MAX_LINKS))
def test_escaped_quoted_strings_round_trip(links: list[tuple[str, str]]) -> None:
    header = ",".join(f"<{target}>;rel={_quote(rel)}" for target, rel in links)
    assert parse_link_header(header) == [(target, {"rel": rel}) for target, rel in links]


keys = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-._"), min_size=1, max_size=12
)


@LISTS
@given(
    st.lists(
        st.tuples(
            targets,
            st.dictionaries(keys, plain_values, max_size=4),
            st.sampled_from(["; ", ";", " ;  "]),
        ),
        max_size=8,
    )
)
def test_several_parameters_round_trip(links: list[tuple[str, dict[str, str], str]]) -> None:
    header = " , ".join(
        f"<{target}>" + "".join(f'{sep}{key}="{value}"' for key, value in params.items())
        for target, params, sep in links
    )
    expected: list[tuple[str, dict[str, str]]] = []
    for target, params, _ in links:
        want: dict[str, str] = {}
        for key, value in params.items():
            want.setdefault(key.lower(), value)  # keys are case-insensitive; the first one wins
        expected.append((target, want))
    assert parse_link_header(header) == expected


@LISTS
@given(st.lists(st.tuples(targets, st.sampled_from(["type", "acl", "describedby"])), max_size=8))
def test_link_types_are_the_targets_with_rel_type(links: list[tuple[str, str]]) -> None:
    header = ", ".join(f"<{target}>; rel={rel}" for target, rel in links)
    assert link_types(header) == {target for target, rel in links if rel == "type"}


@pytest.mark.parametrize(
    "param", ['rel="type"', "rel=type", 'REL="type"', 'rel="type other"', "rel = type"]
)
def test_container_type_is_recognised_in_every_spelling(param: str) -> None:
    assert link_types(f"<{BASIC_CONTAINER}>; {param}") == {BASIC_CONTAINER}
