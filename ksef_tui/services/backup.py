"""Backups of the whole database and restoring them (see ``ksef_tui.store.dump`` for formats).

A backup holds KSeF tokens and private keys sealed with the master key; without that key
(the key file in the config folder, or KSEF_TUI_MASTER_KEY) they cannot be read. The
messages say so each time, with the key's id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.store.engine import Database


def key_warning(key_id: str | None) -> str:
    from ksef_tui.vault.envelope import MASTER_KEY_ENV, key_file_path

    which = f" (key id {key_id})" if key_id else ""
    return (f"Warning: a backup without its key cannot be read. Stored KSeF tokens and certificate keys are "
            f"sealed with the master key{which}: keep a copy of {key_file_path()} (or the value of "
            f"{MASTER_KEY_ENV}) safely, apart from the backup.")


def current_key_id() -> str | None:
    """The id of the master key this program would use now (None when there is none)."""
    try:
        from ksef_tui.vault.envelope import load_master_key

        return load_master_key(create=False).key_id_hex
    except Exception:
        return None


@dataclass(frozen=True)
class BackupResult:
    path: Path
    format: str
    schema: str | None
    rows: dict[str, int]
    key_id: str | None
    replaced: dict[str, int]
    key_matches: bool | None  # restore: does the current master key open the restored secrets?

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def summary(self, verb: str) -> str:
        parts = ", ".join(f"{n} {t}" for t, n in self.rows.items() if n) or "no rows"
        return f"{verb} {self.path} ({self.format}, schema {self.schema}): {parts}."


def backup(db: Database, actor: Actor, path: str | os.PathLike, *, portable: bool | None = None) -> BackupResult:
    require_admin(actor)
    from ksef_tui.store.dump import backup as dump_backup

    info = dump_backup(db, path, portable=portable)
    return BackupResult(info.path, info.format, info.schema, info.rows, info.key_id, {}, None)


def restore(db: Database, actor: Actor, path: str | os.PathLike, *, force: bool = False) -> BackupResult:
    """Replace everything in ``db`` with the backup (one transaction); an audit entry says so."""
    require_admin(actor)
    from ksef_tui.store.dump import restore as dump_restore

    info = dump_restore(db, path, force=force)
    with db.session() as s:
        audit.record(s, [audit.audit_values(
            actor, "db.restore", "database", None, str(Path(path).name),
            {"rows": sum(info.replaced.values())} if info.replaced else None,
            {"rows": info.source.total, "schema": info.source.schema, "format": info.source.format})])
    src = info.source
    matches = None
    if src.key_id:
        matches = current_key_id() == src.key_id
    return BackupResult(src.path, src.format, src.schema, src.rows, src.key_id, info.replaced, matches)
