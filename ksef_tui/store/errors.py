"""The store's own errors: the database cannot be used. The message is one clear line for the user."""

from __future__ import annotations


class StoreError(Exception):
    """The database cannot be used (locked, damaged, not ours, unreachable); the message says so plainly."""
