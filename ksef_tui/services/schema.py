"""The database schema as an administrator sees it: which revision it is at, and going back."""

from __future__ import annotations

from ksef_tui.services.actor import Actor, require_admin


def schema_version(database_url: str | None) -> tuple[str | None, str]:
    """(the database's revision or None, the newest this ksef-tui knows)."""
    from ksef_tui.store.engine import open_database
    from ksef_tui.store.migrate import HEAD, current_revision

    db = open_database(database_url, migrate=False, create=False)
    try:
        return current_revision(db), HEAD
    finally:
        db.dispose()


def downgrade_schema(actor: Actor, database_url: str | None, revision: str) -> str | None:
    """Take the schema back to ``revision``; refused (and nothing changed) when data would be lost."""
    from ksef_tui.store.engine import open_database
    from ksef_tui.store.migrate import downgrade

    require_admin(actor)
    db = open_database(database_url, migrate=False, create=False)
    try:
        return downgrade(db, revision)
    finally:
        db.dispose()
