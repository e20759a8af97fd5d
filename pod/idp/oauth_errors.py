"""Text for OAuth error answers. Imports nothing of Kluis.

RFC 6749 §4.1.2.1 and §5.2 allow only printable ASCII without `"` and `\\` in error_description,
and authlib (1.6 and later) raises ValueError when an error is made with anything else: naming
a value a client sent (a redirect URI, a client id, a DPoP header's alg) would then turn a 400
into a 500.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

# %x20-21 / %x23-5B / %x5D-7E (https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
_ALLOWED: Final = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\')


def error_text(text: str) -> str:
    """`text` fit for an error_description: other characters percent-encoded as UTF-8."""
    return quote(text, safe=_ALLOWED)
