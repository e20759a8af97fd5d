"""pod.auth.dpop's own base64url decoding against joserfc's, which it stands in for."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st
from joserfc.util import urlsafe_b64decode

from pod.auth.dpop import b64url_decode

# The base64url alphabet, the characters of standard base64 and padding it must refuse, and a few
# others (whitespace, non-ASCII).
TEXT = st.text(alphabet="AQgwBZaz09-_+/= \n\u00e9", max_size=24)


def _ours(text: str) -> bytes | None:
    try:
        return b64url_decode(text)
    except ValueError:  # binascii.Error and UnicodeError are ValueErrors
        return None


def _joserfc(text: str) -> bytes | None:
    try:
        return urlsafe_b64decode(text.encode("ascii"))
    except ValueError:
        return None


@given(TEXT)
def test_decodes_and_refuses_what_joserfc_does(text: str) -> None:
    assert _ours(text) == _joserfc(text)


@given(st.binary(max_size=64))
def test_round_trips(data: bytes) -> None:
    encoded = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert b64url_decode(encoded) == data
