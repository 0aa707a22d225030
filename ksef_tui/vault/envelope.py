"""Envelope encryption of secrets at rest.

Each secret gets its own data key (AES-256-GCM); the data key is wrapped by the
master key (AES-256-GCM). The record's context (user, company, environment,
field) is the data's associated data, so a blob cannot be moved to another
record or environment: a DEMO token copied into a PRODUCTION row does not open.
Rotating the master key re-wraps only the data keys.

The master key lives in a 0600 file in the platformdirs config folder, or comes
from ``KSEF_TUI_MASTER_KEY`` (URL-safe Base64 of 32 bytes). A world- or
group-readable key file, a missing key or a wrong key is a :class:`VaultError`
with a clear message, never a silent "no credentials".
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

MASTER_KEY_ENV = "KSEF_TUI_MASTER_KEY"
MAGIC = b"KV1"
_KEY_ID_LEN = 8
_NONCE = 12


class VaultError(Exception):
    """The secrets cannot be opened; the message says what to do."""


def key_file_path() -> Path:
    """The master key file the settings name (default: ``master.key`` in the config folder)."""
    from ksef_tui.settings import get_settings

    return get_settings().master_key.file


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"ksef-tui master key id" + key).digest()[:_KEY_ID_LEN]


def _decode_key(text: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii") + b"==")
    except Exception:
        raw = b""
    if len(raw) != 32:
        raise VaultError(f"The master key in {where} is not valid (expected 32 bytes in URL-safe Base64).")
    return raw


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")


class MasterKey:
    __slots__ = ("_key", "key_id", "source")

    def __init__(self, key: bytes, source: str) -> None:
        if len(key) != 32:
            raise VaultError("A master key must be 32 bytes.")
        self._key = key
        self.key_id = _key_id(key)
        self.source = source

    @classmethod
    def generate(cls, source: str = "new") -> MasterKey:
        return cls(os.urandom(32), source)

    def raw(self) -> bytes:
        return self._key

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()

    def __repr__(self) -> str:
        return f"MasterKey(id={self.key_id_hex}, source={self.source!r})"


def write_key_file(path: Path, key: MasterKey) -> None:
    """Write the key with mode 0600 atomically (never readable by others, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(encode_key(key.raw()) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_key_file(path: Path) -> MasterKey:
    st = path.stat()
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise VaultError(
            f"The key file {path} can be read by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run: chmod 600 {path}"
        )
    return MasterKey(_decode_key(path.read_text(encoding="ascii", errors="replace"), str(path)), str(path))


def load_master_key(*, create: bool, path: Path | None = None, environ: dict | None = None) -> MasterKey:
    env = os.environ if environ is None else environ
    if env.get(MASTER_KEY_ENV):
        return MasterKey(_decode_key(env[MASTER_KEY_ENV], MASTER_KEY_ENV), MASTER_KEY_ENV)
    path = path or key_file_path()
    if path.exists():
        return read_key_file(path)
    if not create:
        raise VaultError(
            f"The master key is missing: no {path} and no {MASTER_KEY_ENV}. "
            "Restore the key file from your backup; without it the stored KSeF secrets cannot be read."
        )
    key = MasterKey.generate(str(path))
    write_key_file(path, key)
    return key


class Vault:
    """Seal and open secrets under one master key."""

    def __init__(self, key: MasterKey) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.key = key
        self._kek = AESGCM(key.raw())

    def seal(self, plaintext: bytes, context: str) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        dek = AESGCM.generate_key(bit_length=256)
        wn, dn = os.urandom(_NONCE), os.urandom(_NONCE)
        wrapped = self._kek.encrypt(wn, dek, MAGIC + self.key.key_id)
        ct = AESGCM(dek).encrypt(dn, plaintext, context.encode("utf-8"))
        return MAGIC + self.key.key_id + wn + wrapped + dn + ct

    def _split(self, blob: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        if not blob.startswith(MAGIC) or len(blob) < 3 + 8 + 12 + 48 + 12 + 16:
            raise VaultError("A stored secret is damaged (unknown format).")
        i = len(MAGIC)
        kid = blob[i : i + _KEY_ID_LEN]
        i += _KEY_ID_LEN
        wn, wrapped = blob[i : i + _NONCE], blob[i + _NONCE : i + _NONCE + 48]
        i += _NONCE + 48
        return kid, wn, wrapped, blob[i : i + _NONCE], blob[i + _NONCE :]

    def _unwrap(self, kid: bytes, wn: bytes, wrapped: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        if kid != self.key.key_id:
            raise VaultError(
                f"The master key ({self.key.key_id_hex}, from {self.key.source}) is not the key these secrets "
                f"were stored with ({kid.hex()}). Use the right key file or {MASTER_KEY_ENV}."
            )
        try:
            return self._kek.decrypt(wn, wrapped, MAGIC + kid)
        except InvalidTag:
            raise VaultError("A stored secret does not open with the master key (damaged or tampered).") from None

    def open(self, blob: bytes, context: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kid, wn, wrapped, dn, ct = self._split(blob)
        dek = self._unwrap(kid, wn, wrapped)
        try:
            return AESGCM(dek).decrypt(dn, ct, context.encode("utf-8"))
        except InvalidTag:
            raise VaultError("A stored secret does not belong to this record (moved or tampered).") from None

    def rewrap(self, blob: bytes, new: Vault) -> bytes:
        """The same secret under ``new``'s master key; the data ciphertext is kept."""
        kid, wn, wrapped, dn, ct = self._split(blob)
        dek = self._unwrap(kid, wn, wrapped)
        nwn = os.urandom(_NONCE)
        return MAGIC + new.key.key_id + nwn + new._kek.encrypt(nwn, dek, MAGIC + new.key.key_id) + dn + ct

    # A known value sealed in the database tells a wrong key at start.
    CHECK_CONTEXT = "vault-check"
    CHECK_VALUE = b"ksef-tui vault check v1"

    def make_check(self) -> bytes:
        return self.seal(self.CHECK_VALUE, self.CHECK_CONTEXT)

    def verify_check(self, blob: bytes) -> None:
        if self.open(blob, self.CHECK_CONTEXT) != self.CHECK_VALUE:
            raise VaultError("The master key does not match this database.")
