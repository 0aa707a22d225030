"""`ksef-tui simulator`: the local KSeF API 2.0 simulator on loopback (for the demo, tests, and trying
an integration without KSeF). The simulator shares no code with the client side; this only wires it."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from ksef_tui.simulator.server import add_arguments

    sim = sub.add_parser(
        "simulator", help="run the local KSeF API 2.0 simulator on loopback",
        description="Serve a local KSeF API 2.0 simulator at http://HOST:PORT/v2; the base URL is the "
        "first line on stdout, printed when ready. Stops on Ctrl+C or SIGTERM.")
    add_arguments(sim)
    sim.set_defaults(handler=cmd_simulator)


def cmd_simulator(args: argparse.Namespace) -> int:
    from ksef_tui.simulator.server import main as simulator_main

    return simulator_main(args)
