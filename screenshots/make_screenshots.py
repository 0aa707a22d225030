"""Write SVG screenshots of the main screens into screenshots/ (for the README).

    python screenshots/make_screenshots.py [--size 100x30]

Runs the app headless on a temporary database filled with the deterministic
demo data (``seed_demo``), in English, and saves one SVG per screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

HERE = Path(__file__).resolve().parent

Step = Callable[[Pilot], Awaitable[None]]


async def _settle(pilot: Pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def _no_blink(pilot: Pilot) -> None:
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False


async def companies(pilot: Pilot) -> None:
    await pilot.press("space", "space", "down", "space")


async def companies_filtered(pilot: Pilot) -> None:
    await pilot.press("k", "slash", *"łąka", "enter")
    await _settle(pilot)
    await pilot.press("a")
    await _settle(pilot)


async def serial_menu(pilot: Pilot) -> None:
    await companies(pilot)
    await pilot.press("o")


async def serial_confirm(pilot: Pilot) -> None:
    await serial_menu(pilot)
    await pilot.press("enter")


async def serial_result(pilot: Pilot) -> None:
    await serial_confirm(pilot)
    await pilot.press("enter")
    await _settle(pilot)


async def additional_data(pilot: Pilot) -> None:
    await pilot.press("enter")
    await pilot.pause()
    await _no_blink(pilot)
    nip = pilot.app.screen.query_one("#in-nip", Input)
    nip.focus()
    nip.value = "526-000-00-00"
    await pilot.press("tab")


async def users(pilot: Pilot) -> None:
    await pilot.press("f3")
    await pilot.pause()
    await pilot.press("down", "space")


async def ksef(pilot: Pilot) -> None:
    await pilot.press("f4")
    await _settle(pilot)


async def user_ksef(pilot: Pilot) -> None:
    await pilot.press("f3")
    await pilot.pause()
    await pilot.press("enter")
    await _settle(pilot)


async def help_screen(pilot: Pilot) -> None:
    await pilot.press("question_mark")


SHOTS: dict[str, Step] = {
    "companies": companies,
    "companies-filtered": companies_filtered,
    "serial-menu": serial_menu,
    "serial-confirm": serial_confirm,
    "serial-result": serial_result,
    "company-additional-data": additional_data,
    "users": users,
    "ksef": ksef,
    "user-ksef": user_ksef,
    "help": help_screen,
}


async def shoot(name: str, step: Step, size: tuple[int, int], out: Path, workdir: Path) -> Path:
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.demo.seed import seed_demo
    from ksef_tui.store.engine import open_database
    from ksef_tui.ui.app import KsefApp

    db = open_database(f"sqlite:///{workdir / (name + '.sqlite3')}")
    try:
        ctx = AppContext(db, Actor.local_admin("admin"))
        seed_demo(db, ctx.actor, companies=300, users=90, seed=7)
        _sample_credentials(ctx)
        app = KsefApp(ctx)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await step(pilot)  # each step waits for its own workers
            await pilot.pause()
            await pilot.wait_for_scheduled_animations()
            path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
    finally:
        db.dispose()
    return Path(path)


def _sample_credentials(ctx) -> None:
    """A few saved KSeF tokens (well-formed, not real) so the KSeF screens show something."""
    from ksef_tui.domain.environments import Environment
    from ksef_tui.services.users import UserFilter

    first = ctx.users.page(ctx.actor, UserFilter(), 0, 6)
    for n, user in enumerate(first):
        for cid, _name, nip, enabled in ctx.users.companies_of(ctx.actor, user.id):
            if not enabled:
                ctx.companies.set_ksef(ctx.actor, cid, True)
            token = f"20261124-EC-{n:010X}-{cid:010X}-{n:02X}|nip-{nip}|{n:064x}"
            ctx.credentials.save_token(ctx.actor, user.id, cid, Environment.DEMO, token)


async def main(size: tuple[int, int], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, step in SHOTS.items():
            print(await shoot(name, step, size, out, Path(tmp)))


def _setup_environment() -> None:
    os.environ.pop("NO_COLOR", None)
    from ksef_tui.vault.envelope import MASTER_KEY_ENV, MasterKey, encode_key

    os.environ[MASTER_KEY_ENV] = encode_key(MasterKey.generate().raw())  # never the user's key
    from ksef_tui import i18n

    i18n.set_language("en")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100x30", help="terminal size COLSxROWS")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the SVGs")
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.size.lower().split("x"))
    _setup_environment()
    asyncio.run(main((cols, rows), args.out))
