"""Phone and ID numbers at rest: AES-256-GCM, each value bound to its member and field (a
ciphertext moved to another row does not open), plus a keyed blind index (HMAC-SHA256) so a
profile can be found by phone without the database ever holding the number.

The master key comes from STOREGW_MEMBER_KEY (base64 of 32 bytes) or is generated once into
`<data dir>/member-key` (0600) — never into the repo. Two subkeys are derived from it with
HKDF, so the index key and the encryption key are never the same bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

ENV = "STOREGW_MEMBER_KEY"
KEY_FILE = "member-key"
_VERSION = b"\x01"  # first byte of every sealed value: lets a later key rotation coexist


class VaultError(ValueError):
    pass


def _subkey(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class Vault:
    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise VaultError("the member key must be 32 bytes")
        self._aead = AESGCM(_subkey(master, b"storegw member fields v1"))
        self._index_key = _subkey(master, b"storegw member blind index v1")
        self._push_key = _subkey(master, b"storegw member push v1")

    @classmethod
    def load(cls, data_dir: Path) -> Vault:
        text = os.environ.get(ENV)
        if text:
            try:
                return cls(base64.b64decode(text, validate=True))
            except (ValueError, VaultError) as err:
                raise VaultError(f"{ENV} must be base64 of 32 bytes: {err}") from None
        path = data_dir / KEY_FILE
        if path.exists():
            return cls(base64.b64decode(path.read_text().strip()))
        master = secrets.token_bytes(32)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(master).decode() + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        log.warning("generated a new member key in %s: back it up, members' data needs it", path)
        return cls(master)

    def seal(self, field: str, member_id: str, value: str) -> bytes:
        nonce = secrets.token_bytes(12)
        aad = f"{field}:{member_id}".encode()
        return _VERSION + nonce + self._aead.encrypt(nonce, value.encode(), aad)

    def open(self, field: str, member_id: str, blob: bytes) -> str:
        if not blob or blob[:1] != _VERSION:
            raise VaultError("sealed value of an unknown version")
        aad = f"{field}:{member_id}".encode()
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], aad).decode()
        except InvalidTag:
            raise VaultError(f"{field} of member {member_id} does not open with this key") from None

    def index(self, field: str, normalized: str) -> str:
        """The blind index of a normalised value: equal values, equal index; nothing else."""
        msg = f"{field}:{normalized}".encode()
        return hmac.new(self._index_key, msg, hashlib.sha256).hexdigest()

    def store_key(self, store: str) -> bytes:
        """The key of a store's pushed members' hashes (hub/members/push.py): one per store,
        so one store's gateway cannot test phones against another store's cache."""
        return hmac.new(self._push_key, f"store:{store}".encode(), hashlib.sha256).digest()
