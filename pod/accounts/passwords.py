"""Password hashing with scrypt (from `cryptography`), constant-time checks, and the strength a
new password needs.

A stored hash names its parameters (`scrypt$<log2 n>$<r>$<p>$<salt>$<key>`), so the cost can be
raised later without invalidating existing passwords. Hashing runs in a thread: it is slow on
purpose, and must not stall the event loop.

Strength is estimated by zxcvbn (Dropbox's estimator; its lists of common passwords, words and
names are bundled): NIST SP 800-63B §5.1.1.2 asks to refuse passwords found in lists of commonly
used or compromised ones, and composition rules do not make passwords stronger.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Iterable
from typing import Final

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from pod.errors import BadRequest

_R, _P, _LENGTH = 8, 1, 32
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# zxcvbn scores 0-4; 2 is "somewhat guessable": about 10^8 guesses, beyond an online attacker.
MIN_SCORE: Final = 2
# zxcvbn's matching is super-linear; characters past these add strength and need no scoring.
_SCORED_LENGTH: Final = 72


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password_sync(password: str, *, cost: int) -> str:
    salt = os.urandom(16)
    key = Scrypt(salt=salt, length=_LENGTH, n=2**cost, r=_R, p=_P).derive(password.encode())
    return f"scrypt${cost}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password_sync(password: str, stored: str) -> bool:
    try:
        scheme, cost, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        kdf = Scrypt(salt=_unb64(salt), length=_LENGTH, n=2 ** int(cost), r=int(r), p=int(p))
        kdf.verify(password.encode(), _unb64(key))  # constant-time comparison inside
    except (InvalidKey, ValueError):
        return False
    return True


def check_new_password(password: str, *, context: Iterable[str] = ()) -> None:
    """Raise BadRequest, saying why, unless `password` may be chosen as a new password.

    `context`: words the account is known by (its e-mail address, pod name), which make a
    password easier to guess.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    words = [w for w in context if w]
    # Imported at the first new password, not with the server: zxcvbn's word lists hold about
    # 12 MB, which a server where no one signs up or changes a password never needs.
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:_SCORED_LENGTH], user_inputs=words, max_length=_SCORED_LENGTH)
    if result["score"] >= MIN_SCORE:
        return
    feedback = result["feedback"]
    reasons = [str(feedback.get("warning") or "")] + [
        str(s) for s in feedback.get("suggestions", [])
    ]
    detail = " ".join(r.rstrip(".") + "." for r in reasons if r)
    raise BadRequest(f"this password is too easy to guess. {detail}".strip())


async def hash_password(password: str, *, cost: int) -> str:
    return await asyncio.to_thread(hash_password_sync, password, cost=cost)


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, stored)
