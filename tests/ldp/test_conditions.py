"""`pod.ldp.conditions`: RFC 9110 §13.2.2, the order preconditions are evaluated in, as a table.

The HTTP tests (tests/http/test_conditional.py) send the headers; these pin the rules themselves.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pod.errors import PreconditionFailed
from pod.ldp.conditions import Conditions, Outcome, evaluate

ETAG = "1700000000000000000"
T = 1_700_000_000.0  # the current version's modification time
PROCEED, NOT_MODIFIED, FAILS = Outcome.PROCEED, Outcome.NOT_MODIFIED, None

CASES = [
    # (conditions, resource exists, safe method, expected)
    (Conditions(), True, False, PROCEED),
    (Conditions(if_match=(ETAG,)), True, False, PROCEED),
    (Conditions(if_match=("other",)), True, False, FAILS),
    (Conditions(if_match=("*",)), True, False, PROCEED),
    (Conditions(if_match=("*",)), False, False, FAILS),  # §13.1.1: no current representation
    (Conditions(if_none_match=("*",)), False, False, PROCEED),  # create only if missing
    (Conditions(if_none_match=("*",)), True, False, FAILS),
    (Conditions(if_none_match=(ETAG,)), True, False, FAILS),
    (Conditions(if_none_match=(ETAG,)), True, True, NOT_MODIFIED),
    (Conditions(if_none_match=("other",)), True, True, PROCEED),
    (Conditions(if_unmodified_since=T - 10), True, False, FAILS),
    (Conditions(if_unmodified_since=T), True, False, PROCEED),
    (Conditions(if_unmodified_since=T - 10), False, False, PROCEED),
    # §13.2.2 step 2: If-Unmodified-Since only when there is no If-Match
    (Conditions(if_match=(ETAG,), if_unmodified_since=T - 10), True, False, PROCEED),
    (Conditions(if_modified_since=T), True, True, NOT_MODIFIED),
    (Conditions(if_modified_since=T - 10), True, True, PROCEED),
    (Conditions(if_modified_since=T), True, False, PROCEED),  # GET and HEAD only
    # §13.2.2 step 4: If-Modified-Since only when there is no If-None-Match
    (Conditions(if_none_match=("other",), if_modified_since=T), True, True, PROCEED),
    # If-Match is checked before If-None-Match
    (Conditions(if_match=("other",), if_none_match=(ETAG,)), True, True, FAILS),
]


@pytest.mark.parametrize(("conditions", "exists", "safe", "expected"), CASES)
def test_rfc_9110_evaluation_order(
    conditions: Conditions, exists: bool, safe: bool, expected: Outcome | None
) -> None:
    etag, modified = (ETAG, T) if exists else (None, None)
    if expected is FAILS:
        with pytest.raises(PreconditionFailed):
            evaluate(conditions, etag=etag, modified=modified, safe_method=safe)
    else:
        assert evaluate(conditions, etag=etag, modified=modified, safe_method=safe) is expected


def test_aliases_match_for_writes_only() -> None:
    # A client may write back with the ETag of the JSON-LD it read; a cache asking whether its
    # Turtle is fresh must not be told that JSON-LD is.
    aliases = (ETAG + "-jsonld",)
    assert (
        evaluate(
            Conditions(if_match=aliases), etag=ETAG, modified=T, safe_method=False, aliases=aliases
        )
        is PROCEED
    )
    assert (
        evaluate(
            Conditions(if_none_match=aliases),
            etag=ETAG,
            modified=T,
            safe_method=True,
            aliases=aliases,
        )
        is PROCEED
    )


@given(cut=st.integers(min_value=0, max_value=len(ETAG) - 1), prefix=st.booleans())
def test_part_of_an_etag_is_not_the_etag(cut: int, prefix: bool) -> None:
    part = ETAG[:cut] if prefix else ETAG[cut + 1 :]
    with pytest.raises(PreconditionFailed):
        evaluate(Conditions(if_match=(part,)), etag=ETAG, modified=T, safe_method=False)
