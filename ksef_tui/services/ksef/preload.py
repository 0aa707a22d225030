"""The KSeF libraries loaded ahead of their first use (the panel does it in a thread when nobody
types: ``ui/common/gc_policy.py``). Nothing is imported at this module's import."""

from __future__ import annotations


def load_ksef_libraries() -> None:
    """Import what the first KSeF call would (about half a second: call it in a thread)."""
    from ksef_tui.ksef.preload import import_all

    import_all()
