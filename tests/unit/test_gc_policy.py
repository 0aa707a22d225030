"""The panel's garbage-collection policy (ui/common/gc_policy.py): small young passes, no automatic
full pass, a full pass only when the panel is idle, the thresholds as they were when the app ends."""

import gc
import time
from types import SimpleNamespace

from ksef_tui.ui.common import gc_policy
from ksef_tui.ui.common.gc_policy import GcPolicy


class _App:
    def __init__(self) -> None:
        self.workers: list[SimpleNamespace] = []
        self.intervals: list[float] = []

    def set_interval(self, seconds: float, callback, name: str = "") -> None:
        self.intervals.append(seconds)


def test_started_then_stopped_restores_the_thresholds():
    before = gc.get_threshold()
    policy = GcPolicy()
    app = _App()
    policy.start(app)
    try:
        assert gc.get_threshold() == (gc_policy.YOUNG, gc_policy.MIDDLE, gc_policy.NEVER)
        assert app.intervals == [gc_policy.CHECK_S]
    finally:
        policy.stop()
    assert gc.get_threshold() == before


def _due(policy: GcPolicy) -> None:
    """As if the middle generation had been collected often enough since the last full pass."""
    policy._at_full = gc.get_stats()[1]["collections"] - gc_policy.FULL_AFTER


def test_a_full_pass_only_when_idle_and_no_worker_runs():
    policy = GcPolicy()
    app = _App()
    policy.start(app)
    try:
        _due(policy)
        policy.input()  # someone just pressed a key
        assert not policy.when_idle(app)
        policy.last_input = time.monotonic() - gc_policy.IDLE_S - 1
        app.workers = [SimpleNamespace(is_running=True)]
        assert not policy.when_idle(app)
        app.workers = [SimpleNamespace(is_running=False)]
        full_before = gc.get_stats()[2]["collections"]
        assert policy.when_idle(app)
        assert gc.get_stats()[2]["collections"] == full_before + 1
        assert not policy.when_idle(app)  # nothing collected young since: not worth another
    finally:
        policy.stop()
