"""When the garbage collector runs: never a full pass while someone works in the panel.

A garbage collection holds every thread of the process, the event loop's too. CPython's full pass
walks every tracked object: with a few screens open (Textual keeps every drawn line with its
caches) and the KSeF libraries imported, 90,000-120,000 objects, 40-100 ms on a shared 2-core
machine, and it came in the middle of a certificate authorization, an export or a bulk test.
A young pass (a thousand new objects) takes well under a millisecond. So, while the panel runs:

- the objects of start-up (modules, classes, styles) are frozen out of every pass (``gc.freeze``,
  once per process, as Instagram does before forking): they live as long as the process;
- young passes stay small (:data:`YOUNG` new objects; the middle generation every
  :data:`MIDDLE` of them): short, and a worker's garbage does not pile up for one long pass;
- automatic full passes are off; a full pass runs only when the panel is idle (no key, mouse or
  paste for :data:`IDLE_S` seconds and no worker running): the first time it is, and then once the
  middle generation was collected :data:`FULL_AFTER` times since the last full pass, so cyclic
  garbage that outlived the young passes (closed screens, finished workers) is still freed;
- what survives a full pass with no screen open over the sections' own (:func:`at_rest`) lives as
  long as the panel (the sections' screens, their rows and drawn lines): it is frozen out of the
  later passes too, which then walk only what was made since. A full pass walked every object
  the panel had made since it started (140,000 after a dozen screens, 31,000 of them the small
  caches Textual makes for each drawn line) and held the loop 80-140 ms; frozen at rest, the next
  one walks what was made since (20-47 ms after two more screens). (An object frozen so and later
  thrown away in a cycle stays: the sections' screens live on, and a notification shown then is
  all that is lost: of a toast's 1,179 objects, 73 are thrown away in a cycle.)
- after the first pass at rest, the KSeF libraries are imported in a thread (``preload``, about
  half a second): the first "Test authorization" or certificate does not wait for them, and their
  37,000 objects, which live as long as the process, are frozen as soon as they are there if nobody
  typed meanwhile (otherwise by the next pass at rest), not walked by the next full pass (20-25 ms
  of it);
- before that, from the panel command's start to the app's mount, no pass at all (:func:`hold_until_start`);
- when the app ends, the collector's thresholds are as they were (a test process runs many apps).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

#: new objects between two young passes (CPython's default is 700)
YOUNG = 1_000
#: young passes between two passes of the middle generation (CPython's default)
MIDDLE = 10
#: no automatic full pass: the oldest generation's threshold is never reached
NEVER = 1 << 30
#: seconds without input before a full pass may run, and how often that is looked at
IDLE_S = 5.0
CHECK_S = 2.0
#: passes of the middle generation since the last full pass before a full pass is worth it
FULL_AFTER = 20

_frozen = False


def at_rest(app: Any) -> bool:
    """No screen is open over the sections' own screens, in any mode of the app."""
    stacks = getattr(app, "_screen_stacks", None)  # Textual's stack of every mode (no public way)
    if not isinstance(stacks, dict):
        return len(getattr(app, "screen_stack", ())) <= 1
    return all(len(stack) <= 1 for stack in stacks.values())


def hold_until_start() -> None:
    """At process start (the panel's command): no collection until :meth:`GcPolicy.start` (the app's
    mount) freezes what start-up made. Start-up only makes objects that live as long as the process
    (modules, classes, styles), yet CPython's default thresholds walked them in 10-20 passes, one of
    them full (25-30 ms), before the first frame."""
    gc.disable()


def _middle_passes() -> int:
    return int(gc.get_stats()[1]["collections"])


class GcPolicy:
    """``GcPolicy().start(app)`` on mount, :meth:`input` on every input event, :meth:`stop` at exit."""

    def __init__(self, preload: Callable[[], None] | None = None) -> None:
        self.preload = preload  # slow imports for a thread, once the panel is at rest
        self.preloaded = False  # the preload ran (or failed: it is not tried again)
        self._preload_started: float | None = None
        self._preload_done = False  # set by the preload's thread
        self.last_input = time.monotonic()
        self._saved: tuple[int, int, int] | None = None
        self._at_full = 0
        self._passes = 0  # full passes run
        self._froze = False  # something frozen at rest (thawed when the app ends)
        self.last_pass_ms = 0.0  # how long the last full pass held the loop

    def start(self, app: Any) -> None:
        global _frozen
        if not _frozen:  # what exists now lives as long as the process
            gc.freeze()
            _frozen = True
        self._saved = gc.get_threshold()
        gc.set_threshold(YOUNG, MIDDLE, NEVER)
        gc.enable()  # `ksef-tui` holds the collector off from its start until now (:func:`hold_until_start`)
        self._at_full = _middle_passes()
        app.set_interval(CHECK_S, lambda: self.when_idle(app), name="gc-when-idle")

    def stop(self) -> None:
        global _frozen
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
        if self._froze:  # a process running many apps (the tests) must not keep each one's objects
            gc.unfreeze()
            self._froze = _frozen = False

    def input(self) -> None:
        self.last_input = time.monotonic()

    def when_idle(self, app: Any) -> bool:
        """A full pass, if the panel is idle and (after the first) enough was collected young since
        the last one; what survives it at rest is frozen."""
        if self._preload_done:
            self._freeze_preloaded(app)
        if time.monotonic() - self.last_input < IDLE_S:
            return False
        if self._passes and _middle_passes() - self._at_full < FULL_AFTER:
            return False
        if any(worker.is_running for worker in app.workers):
            return False
        started = time.perf_counter()
        gc.collect()
        rest = at_rest(app)
        if rest:
            gc.freeze()
            self._froze = True
        self.last_pass_ms = (time.perf_counter() - started) * 1000
        self._passes += 1
        self._at_full = _middle_passes()
        if rest and self.preload is not None and self._preload_started is None:
            self._preload_started = time.monotonic()
            app.run_worker(self._preload, thread=True, exit_on_error=False, group="gc-preload",
                           description="preload")
        return True

    def _preload(self) -> None:
        """In a thread: the preload's imports (:meth:`when_idle` freezes them)."""
        assert self.preload is not None
        try:
            self.preload()
        finally:
            self._preload_done = True

    def _freeze_preloaded(self, app: Any) -> None:
        """What the preload imported lives as long as the process: frozen without a full pass (only the
        young generations collected: what was made and thrown away meanwhile), if nobody typed since
        it started and the panel is at rest; otherwise the next pass at rest freezes it."""
        self._preload_done = False
        self.preloaded = True
        if self._preload_started is not None and self.last_input < self._preload_started and at_rest(app):
            gc.collect(1)
            gc.freeze()
            self._froze = True
