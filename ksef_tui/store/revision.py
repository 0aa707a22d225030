"""The schema's newest Alembic revision (a test checks it is Alembic's head). Kept apart from
:mod:`ksef_tui.store.migrate` so start-up compares it before SQLAlchemy or Alembic is loaded."""

from __future__ import annotations

HEAD = "0010"
