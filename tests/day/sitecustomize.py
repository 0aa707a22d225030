"""The test suite on another day, in every Python process it starts (``KSEF_TUI_TEST_DAY``).

tests/conftest.py, when ``KSEF_TUI_TEST_DAY=YYYY-MM-DD`` is set, puts the shift in
``KSEF_TUI_TEST_SHIFT_S`` and this folder on ``PYTHONPATH``; Python imports ``sitecustomize`` at
start-up, so a ``ksef-tui`` or a simulator that a test starts as a process of its own runs on the
same day as the tests. Without the variable nothing here does anything, and the app never sets it.
"""

from __future__ import annotations

import os


def apply(seconds: float) -> None:
    """Move the app's one clock and the simulators' system clock by ``seconds``."""
    import datetime as dt

    from ksef_tui.domain import clock
    from ksef_tui.simulator import clock as simulator_clock

    shift = dt.timedelta(seconds=seconds)
    clock.shift = shift
    system = simulator_clock.SystemClock
    if not getattr(system, "shifted", False):
        real_now = system.now
        system.now = lambda self: real_now(self) + shift  # type: ignore[method-assign]
        system.shifted = True  # type: ignore[attr-defined]


if os.environ.get("KSEF_TUI_TEST_SHIFT_S"):
    try:
        apply(float(os.environ["KSEF_TUI_TEST_SHIFT_S"]))
    except ImportError:  # a Python without ksef_tui (pip, a tool): nothing to move
        pass
