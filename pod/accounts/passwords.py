"""Password hashing with scrypt (from `cryptography`) and constant-time checks.

A stored hash names its parameters (`scrypt$<log2 n>$<r>$<p>$<salt>$<key>`), so the cost can be
raised later without invalidating existing passwords. Hashing runs in a thread: it is slow on
purpose, and must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import os

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

_R, _P, _LENGTH = 8, 1, 32
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


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


async def hash_password(password: str, *, cost: int) -> str:
    return await asyncio.to_thread(hash_password_sync, password, cost=cost)


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, stored)
