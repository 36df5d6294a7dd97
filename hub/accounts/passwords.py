"""Password hashes: argon2id (argon2-cffi's defaults, RFC 9106's second recommended set)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# verified against when the account does not exist, so a wrong name costs what a wrong
# password costs (no telling names apart by timing)
_DUMMY = _hasher.hash("not a password of anyone's")
MIN_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
