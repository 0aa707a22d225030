"""Versioned schema with Alembic. Start-up takes a fast path when already at head."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from ksef_tui.store.engine import Database
from ksef_tui.store.errors import StoreError
from ksef_tui.store.revision import HEAD as HEAD  # the newest revision (a test checks it is Alembic's head)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _config(db: Database):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database"] = db
    return cfg


def known_revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return [r.revision for r in script.walk_revisions()]


def upgrade_if_needed(db: Database) -> None:
    rev = current_revision(db)
    if rev == HEAD:
        return
    if rev is not None and rev not in known_revisions():
        raise StoreError(
            f"The database {db.display_name} was made by a newer ksef-tui (schema {rev}); "
            "upgrade ksef-tui to open it."
        )
    from alembic import command

    command.upgrade(_config(db), "head")


def upgrade_to(db: Database, revision: str = "head") -> None:
    """Upgrade to a given revision (tests build old schemas with it; start-up uses upgrade_if_needed)."""
    from alembic import command

    command.upgrade(_config(db), revision)


def downgrade(db: Database, revision: str) -> str | None:
    """Take the schema back to ``revision`` (a known revision, or "base" for none at all).

    A step that would lose data refuses (the migration raises); then nothing changes and
    :class:`StoreError` says why. Returns the revision the database is at afterwards.
    """
    from alembic import command

    known = list(reversed(known_revisions()))  # oldest first
    current = current_revision(db)
    if revision not in known and revision != "base":
        raise StoreError(
            f"Unknown schema version {revision!r}; the versions are: {', '.join(known)} (or base)."
        )
    if current is None:
        raise StoreError(f"The database {db.display_name} has no ksef-tui schema to downgrade.")
    if current not in known:
        raise StoreError(
            f"The database {db.display_name} was made by a newer ksef-tui (schema {current}); "
            "downgrade it with that version."
        )
    target = -1 if revision == "base" else known.index(revision)
    if target > known.index(current):
        raise StoreError(
            f"The database {db.display_name} is at schema {current}, older than {revision}: "
            "that is an upgrade (it happens on start)."
        )
    if target == known.index(current):
        return current
    try:
        command.downgrade(_config(db), revision)
    except RuntimeError as exc:
        raise StoreError(f"Downgrade of {db.display_name} to {revision} refused: {exc}") from None
    return current_revision(db)
