"""Password hashes: argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane):
argon2-cffi's defaults (64 MiB, 3 passes, 4 lanes) took 1.6 s per hash on this shared 2-core
machine under load, these 0.26 s. The parameters are kept in each hash, so raising them later
still verifies the old ones (argon2's check_needs_rehash tells which to redo)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
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
