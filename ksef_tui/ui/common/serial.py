"""Serial operations on the selected rows of a list (Operacje seryjne), shared by the lists.

A list screen that offers them says what its two operations are (the ``serial_*`` hooks);
this class runs the rest as in the panel: a menu enabled only with a selection, a
confirmation naming the count, a thread worker with a progress dialog (Esc cancels),
and a result summary, or "Nothing was changed: …".
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Button
from textual.worker import get_current_worker

from ksef_tui.errors import OperationCancelled, ServiceError
from ksef_tui.files import problem_text
from ksef_tui.i18n import _, ngettext
from ksef_tui.services.results import SerialPreview
from ksef_tui.ui.common.base import DialogScreen
from ksef_tui.ui.common.dialogs import MessageDialog, PlanDialog, ProgressDialog, SerialResultDialog, hidden_line
from ksef_tui.ui.common.list_screen import ListScreen, RowT
from ksef_tui.ui.messages import SerialFinished, SerialProgress

log = logging.getLogger(__name__)


class SerialListScreen(ListScreen[RowT], Generic[RowT]):
    """A list with a "Serial operations ▾" button and `o`/F6 (bindings defined by the subclass)."""

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self._progress: ProgressDialog | None = None
        #: how many of the rows the last operation acted on were hidden by the filter (the result says so)
        self.acted_hidden = 0
        #: an operation is asked about or running: the list is read again when it ends, not each time
        #: a dialog of it closes (at 1,000,000 rows that reading is a count and a million ids, and
        #: running beside the operation it slowed it by seconds)
        self._serial_underway = False
        self._reload_due = False

    # ---- what the subclass says ---------------------------------------------------
    def serial_menu(self, selected: int) -> DialogScreen[bool | None]:
        raise NotImplementedError

    def serial_question(self, flag: bool, n: int) -> str:
        raise NotImplementedError

    def serial_yes(self, flag: bool) -> str:
        raise NotImplementedError

    def serial_preview(self, ids: frozenset[int], flag: bool, hidden: frozenset[int]) -> SerialPreview:
        """What the operation would do now (the service's preview; called in a thread)."""
        raise NotImplementedError

    def serial_lines(self, flag: bool, preview: SerialPreview) -> list[str]:
        """What will happen to the chosen rows, and what is skipped and why (besides the hidden ones)."""
        raise NotImplementedError

    def serial_only_shown(self, n: int) -> str:
        return ngettext("Only the {n} shown", "Only the {n} shown", n).format(n=n)

    def serial_progress_title(self, flag: bool) -> str:
        raise NotImplementedError

    def serial_tooltip(self, has_selection: bool) -> str:
        raise NotImplementedError

    def serial_run(self, ids: list[int], flag: bool, progress: Callable[[int, int], None],
                   should_cancel: Callable[[], bool], seen: dict[int, int]) -> Any:
        """The service call (in a thread); ``seen`` holds the versions of the rows the user saw."""
        raise NotImplementedError

    def serial_result_dialog(self, flag: bool, result: Any) -> DialogScreen[None]:
        raise NotImplementedError

    # ---- the mechanism ------------------------------------------------------------
    def reload_rows(self) -> None:
        if self._serial_underway:  # e.g. back from the plan: the operation's end reads the list again
            self._reload_due = True
            return
        super().reload_rows()

    def _serial_over(self, *, reload: bool) -> None:
        """The operation was declined or has ended: the list is read again (``reload``, or when a
        reading was put off while the question was open)."""
        due, self._serial_underway, self._reload_due = self._reload_due, False, False
        if reload or due:
            self.reload_rows()

    def compose_toolbar_start(self) -> ComposeResult:
        yield Button(_("Serial operations ▾"), id="serial", compact=True, disabled=True,
                     tooltip=self.serial_tooltip(False))

    def selection_changed(self) -> None:
        super().selection_changed()
        button = self.query_one("#serial", Button)
        if button.disabled == bool(self.selection):
            button.disabled = not self.selection
            button.tooltip = self.serial_tooltip(bool(self.selection))

    @on(Button.Pressed, "#serial")
    def _serial_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_serial_menu()

    def action_serial_menu(self) -> None:
        self.run_serial_operation(None)

    @work(exclusive=True, group="serial-dialogs", description="run_serial_operation")
    async def run_serial_operation(self, flag: bool | None) -> None:
        """Menu (unless ``flag`` is given), confirmation, then the thread worker."""
        if not self.selection:
            self.notify(self.serial_tooltip(False) + ".", severity="warning")
            return
        # the snapshot is copied in a thread: a million ids copied on the event loop held it ~60 ms
        ids = await asyncio.to_thread(frozenset, self.selection)
        if flag is None:
            flag = await self.app.push_screen_wait(self.serial_menu(len(ids)))
            if flag is None:
                return
        # what it will do, told before it runs: changes, nothing to do, gone, hidden by the filter (named)
        hidden = frozenset(self.hidden_selected & ids)
        try:
            preview = await asyncio.to_thread(self.serial_preview, ids, flag, hidden)
        except ServiceError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        lines = self.serial_lines(flag, preview)
        if preview.hidden:
            lines.append(hidden_line(preview.hidden, preview.hidden_names))
        self._serial_underway = True
        try:
            answer = await self.app.push_screen_wait(PlanDialog(
                _("Serial operations"), self.serial_question(flag, len(ids)), lines, yes=self.serial_yes(flag),
                shown=self.serial_only_shown(preview.visible) if preview.hidden and preview.visible else None))
            if answer is None:
                self._serial_over(reload=False)
                return
            if answer == "shown":
                ids = await asyncio.to_thread(ids.difference, hidden)
            self.acted_hidden = len(hidden & ids)
            self._cancel = threading.Event()
            # the versions the user saw: a row another administrator changed since is skipped
            seen = {row.id: row.version for row in self.table.loaded_rows()
                    if row.id in ids and hasattr(row, "version")}
            # the work starts at once; the progress dialog mounts meanwhile (its updates wait for it)
            self._serial_worker(ids, flag, self._cancel, seen)
        except BaseException:  # not started: the list is read again on return, as before
            self._serial_over(reload=False)
            raise
        self._progress = ProgressDialog(self.serial_progress_title(flag), len(ids), self._cancel)
        self.app.push_screen(self._progress)

    @work(thread=True, exclusive=True, group="serial", exit_on_error=False, description="_serial_worker")
    def _serial_worker(self, chosen: frozenset[int], flag: bool, cancel: threading.Event,
                       seen: dict[int, int]) -> None:
        worker = get_current_worker()
        ids = sorted(chosen)  # here, not on the event loop

        def progress(done: int, total: int) -> None:
            self.post_message(SerialProgress(done, total))

        def should_cancel() -> bool:
            return cancel.is_set() or worker.is_cancelled

        try:
            result = self.serial_run(ids, flag, progress, should_cancel, seen)
        except OperationCancelled as exc:
            self.post_message(SerialFinished(flag, error=str(exc), cancelled=True))
        except ServiceError as exc:
            self.post_message(SerialFinished(flag, error=str(exc)))
        except Exception as exc:  # a sentence and a log entry, never the exception's text
            self.post_message(SerialFinished(flag, error=problem_text(exc, "serial operation failed")))
        else:
            self.post_message(SerialFinished(flag, result=result))

    def on_serial_progress(self, message: SerialProgress) -> None:
        if self._progress is not None and self._progress.is_attached:
            self._progress.advance(message.done, message.total)

    def on_serial_finished(self, message: SerialFinished) -> None:
        if self._progress is not None:
            if self.app.screen is self._progress:
                self._progress.dismiss(None)
            self._progress = None
        # the list is read again once the summary is drawn: read meanwhile (a count and, with a selection,
        # a million ids at 1,000,000 rows), it held the interpreter the summary's first frame waited for
        self.call_after_refresh(self._serial_over, reload=True)
        self.update_status()
        if message.result is not None:
            dialog = self.serial_result_dialog(message.enabled, message.result)
            if isinstance(dialog, SerialResultDialog):
                dialog.hidden = self.acted_hidden
            self.app.push_screen(dialog)
        elif message.cancelled:
            self.app.push_screen(MessageDialog(_("Cancelled"), _("Cancelled; nothing was changed.")))
        else:
            self.app.push_screen(MessageDialog(
                _("Serial operation failed"),
                _("Nothing was changed: {reason}").format(reason=message.error),
                error=True,
            ))
