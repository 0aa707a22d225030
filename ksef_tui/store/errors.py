"""The store's own errors: the database cannot be used. The message is one clear line for the user."""

from __future__ import annotations

from ksef_tui.errors import ServiceError


class StoreError(ServiceError):
    """The database cannot be used (locked, damaged, full, not ours, unreachable); the message says so
    plainly, in the user's language, without SQL, driver text or a password."""
