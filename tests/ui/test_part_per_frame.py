"""A form too large for one turn of the loop comes a part per frame (ui/common/frames.py): each part
is laid out and drawn before the next is mounted, the callbacks waiting for the whole form run once
it is there, and a form removed meanwhile mounts nothing more."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ksef_tui.ui.common.frames import PartPerFrame, mounting
from tests.pilot import wait_until


class _Form(Vertical):
    def __init__(self) -> None:
        super().__init__(id="form")
        self.parts = PartPerFrame(self)
        self.seen: list[tuple[str, int]] = []  # each part: its name and the previous part's height on screen

    def part(self, name: str):
        def mount():
            previous = self.children[-1] if self.children else None
            self.seen.append((name, previous.region.height if previous is not None else -1))
            return self.mount(Static(f"row {name}\nsecond line", id=f"part-{name}"))

        return mount


class _App(App[None]):
    def compose(self) -> ComposeResult:
        yield _Form()


async def test_each_part_comes_after_the_one_before_is_on_screen():
    app = _App()
    async with app.run_test(size=(40, 20)) as pilot:
        form = app.query_one(_Form)
        done: list[int] = []
        form.parts.add(form.part("a"), form.part("b"))
        form.parts.add(form.part("c"))  # added while the others are coming: after them
        form.parts.when_done(lambda: done.append(len(form.children)))
        assert not form.parts.done and mounting(app)
        await wait_until(pilot, lambda: form.parts.done, "every part")
        assert [name for name, _ in form.seen] == ["a", "b", "c"]
        # when b and c were mounted, the part before them had been laid out (two lines on screen)
        assert [height for _, height in form.seen] == [-1, 2, 2]
        assert done == [3], "the waiting callback ran once, with every part there"
        assert not mounting(app)
        late: list[bool] = []
        form.parts.when_done(lambda: late.append(True))
        assert late == [True], "with nothing coming, a callback runs at once"


async def test_a_form_removed_while_its_parts_come_mounts_nothing_more():
    import asyncio

    app = _App()
    async with app.run_test(size=(40, 20)) as pilot:
        form = app.query_one(_Form)
        done: list[bool] = []
        gate = asyncio.Event()
        # the second part is still mounting when the form is removed (as the user's KSeF screen drops
        # a row's form when the cursor moves on): the third never comes, nothing waiting runs
        form.parts.add(form.part("a"), gate.wait, form.part("c"))
        form.parts.when_done(lambda: done.append(True))
        await wait_until(pilot, lambda: bool(form.seen), "the first part")
        removal = form.remove()  # not awaited first: the form's own loop is busy with the second part
        gate.set()
        await removal
        for _ in range(10):
            await pilot.pause(0.02)
        assert [name for name, _ in form.seen] == ["a"] and not done
        assert not mounting(app), "a removed form is not waited for"
