"""Versioned schema with Alembic. Start-up takes a fast path when already at head."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from ksef_tui.store.engine import Database, StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest revision; a test checks it equals Alembic's head.
HEAD = "0002"


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


def downgrade(db: Database, revision: str) -> None:
    from alembic import command

    command.downgrade(_config(db), revision)
