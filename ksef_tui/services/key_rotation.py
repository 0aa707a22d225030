"""Master key rotation: every sealed secret re-wrapped under a new key, in one transaction."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from ksef_tui.errors import ConflictError
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.store.engine import Database
from ksef_tui.store.models import KsefCertificate, KsefCredential, OfficeCredential, VaultCheck

_BLOBS = ("token_blob", "cert_blob", "key_blob")


@dataclass(frozen=True)
class RotationResult:
    secrets: int
    old_key_id: str
    new_key_id: str
    key_written_to: Path


def rotate_master_key(db: Database, actor: Actor, *, key_path: Path | None = None, out: Path | None = None) -> RotationResult:
    """Re-wrap all secrets under a new master key.

    With a key file, the new key replaces it (written first as ``<file>.new``, so a crash
    between the commit and the rename is finished at the next start). With
    ``KSEF_TUI_MASTER_KEY``, the new key is written to ``out`` (0600) and the caller
    must update the variable.
    """
    from ksef_tui.services.ksef.vault_access import VaultAccess
    from ksef_tui.vault.envelope import MASTER_KEY_ENV, MasterKey, Vault, VaultError, key_file_path, write_key_file

    require_admin(actor)
    from_env = bool(os.environ.get(MASTER_KEY_ENV))
    key_path = key_path or key_file_path()
    if from_env and out is None:
        raise VaultError(f"The master key comes from {MASTER_KEY_ENV}: give --out FILE for the new key.")
    staged = Path(out) if out is not None else key_path.with_name(key_path.name + ".new")
    with rotation_lock(key_path):  # one rotation at a time: the staged file and the key file are shared
        old = VaultAccess(db, key_path).vault()
        new = Vault(MasterKey.generate(str(out or key_path)))
        write_key_file(staged, new.key)
        count = 0
        try:
            with db.session() as s:
                # first, the check row: still the old key (no rotation came first, from any machine), and
                # the write lock taken, so no save seals with the old key while the rows are re-wrapped
                held = s.execute(update(VaultCheck).where(VaultCheck.id == 1, VaultCheck.key_id == old.key.key_id_hex)
                                 .values(key_id=VaultCheck.key_id))
                if held.rowcount != 1:
                    raise ConflictError(_("The master key was changed meanwhile by another rotation: nothing was "
                                          "changed."))
                for row in [*s.scalars(select(KsefCredential)), *s.scalars(select(OfficeCredential)),
                            *s.scalars(select(KsefCertificate))]:
                    for field in _BLOBS:
                        blob = getattr(row, field, None)
                        if blob is not None:
                            setattr(row, field, old.rewrap(blob, new))
                            count += 1
                check = s.get(VaultCheck, 1)
                check.key_id = new.key.key_id_hex
                check.check = new.make_check()
                audit.record(s, [audit.audit_values(actor, "keys.rotate", "vault", None, "master key",
                                                    {"key_id": old.key.key_id_hex},
                                                    {"key_id": new.key.key_id_hex, "rewrapped": count})])
        except ConflictError:
            staged.unlink(missing_ok=True)  # a key that opens nothing
            raise
        if out is None:
            try:
                os.replace(staged, key_path)
            except FileNotFoundError:
                # a process that read the check row after our commit renamed it first (it finishes an
                # interrupted rotation: vault.rotation); then the key file is already the new key
                from ksef_tui.vault.envelope import read_key_file

                if read_key_file(key_path).key_id != new.key.key_id:
                    raise
    return RotationResult(count, old.key.key_id_hex, new.key.key_id_hex, Path(out) if out else key_path)


@contextlib.contextmanager
def rotation_lock(key_path: Path) -> Iterator[None]:
    """An exclusive lock on ``<key file>.lock`` (0600, beside the key) for the whole rotation; a second
    rotation meanwhile is refused at once (nothing changed), never run alongside."""
    import fcntl

    key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(key_path.with_name(key_path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError(_("Another master key rotation (ksef-tui keys rotate) is running: nothing was "
                                  "changed. Wait for it to end and try again.")) from None
        yield
    finally:
        os.close(fd)  # the lock goes with the descriptor
