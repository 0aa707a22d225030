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


def _idle(policy: GcPolicy) -> None:
    policy.last_input = time.monotonic() - gc_policy.IDLE_S - 1


def test_the_first_idle_pass_does_not_wait_for_young_passes():
    policy = GcPolicy()
    app = _App()
    policy.start(app)
    try:
        _idle(policy)
        full_before = gc.get_stats()[2]["collections"]
        assert policy.when_idle(app), "the first idle moment: a full pass"
        assert gc.get_stats()[2]["collections"] == full_before + 1
        assert not policy.when_idle(app), "then only once enough was collected young"
    finally:
        policy.stop()


def test_what_survives_a_pass_at_rest_is_frozen_until_the_app_ends():
    policy = GcPolicy()
    app = _App()
    app.screen_stack = ["the section's screen"]  # nothing open over it
    policy.start(app)
    try:
        _idle(policy)
        kept = [object() for _ in range(10)]  # lives on, as a section's rows do
        assert policy.when_idle(app)
        assert gc.get_freeze_count() > 0 and policy.last_pass_ms > 0
        frozen = gc.get_freeze_count()
        _due(policy)
        _idle(policy)
        app.screen_stack = ["the section's screen", "a company"]  # a screen open: not at rest
        assert policy.when_idle(app)
        assert gc.get_freeze_count() <= frozen, "a screen open then is not frozen"
    finally:
        policy.stop()
    assert gc.get_freeze_count() == 0, "the app's objects are collected as usual after it ends"
    assert kept


class _WorkerApp(_App):
    """Runs a worker's function at once (as if its thread had finished)."""

    def __init__(self) -> None:
        super().__init__()
        self.screen_stack = ["the section's screen"]
        self.started: list[str] = []

    def run_worker(self, work, *, thread: bool, exit_on_error: bool, group: str, description: str) -> None:
        assert thread, "the imports run in a thread, never on the event loop"
        self.started.append(description)
        work()


def test_after_the_first_pass_at_rest_the_preload_runs_in_a_thread_and_is_frozen():
    loaded: list[bool] = []
    policy = GcPolicy(preload=lambda: loaded.append(True))
    app = _WorkerApp()
    policy.start(app)
    try:
        _idle(policy)
        assert policy.when_idle(app)
        assert app.started == ["preload"] and loaded == [True]
        frozen = gc.get_freeze_count()
        made = [[] for _ in range(100)]  # what the imports made
        policy.when_idle(app)  # the policy's next look, on the event loop
        assert policy.preloaded and gc.get_freeze_count() >= frozen + 100
        _due(policy)
        _idle(policy)
        assert policy.when_idle(app)
        assert app.started == ["preload"], "once"
    finally:
        policy.stop()
    assert made


def test_a_key_pressed_while_the_preload_ran_leaves_it_to_the_next_pass_at_rest():
    policy = GcPolicy(preload=lambda: None)
    app = _WorkerApp()
    policy.start(app)
    try:
        _idle(policy)
        assert policy.when_idle(app)
        frozen = gc.get_freeze_count()
        policy.input()  # someone typed meanwhile: what was made may be their screen's
        made = [[] for _ in range(100)]
        policy.when_idle(app)
        assert policy.preloaded and gc.get_freeze_count() < frozen + 100
    finally:
        policy.stop()
    assert made


def test_no_preload_while_a_screen_is_open():
    policy = GcPolicy(preload=lambda: None)
    app = _WorkerApp()
    app.screen_stack = ["the section's screen", "a company"]
    policy.start(app)
    try:
        _idle(policy)
        assert policy.when_idle(app)
        assert app.started == []
        app.screen_stack = ["the section's screen"]
        _due(policy)
        _idle(policy)
        assert policy.when_idle(app)
        assert app.started == ["preload"]
    finally:
        policy.stop()
