"""Serving the simulator: ``serve_in_thread`` for tests/demo, ``run`` for ``ksef-tui simulator``."""

from __future__ import annotations

import argparse
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .simulator import Simulator


@dataclass
class RunningServer:
    """A uvicorn server serving the simulator in a daemon thread."""

    host: str
    port: int
    app: Starlette
    _server: Any
    _thread: threading.Thread

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v2``: give this to any KSeF client as its base URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v2"

    @property
    def sim(self) -> Simulator:
        return self.app.state.sim  # type: ignore[no-any-return]

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


def start_in_thread(app: Starlette, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0) -> RunningServer:
    """Start uvicorn in a daemon thread and return once it accepts connections."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="critical", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ksef-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the KSeF simulator failed to start")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError("the KSeF simulator did not start in time")
        time.sleep(0.005)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(host=host, port=bound_port, app=app, _server=server, _thread=thread)


@contextmanager
def serve_in_thread(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningServer]:
    """``with serve_in_thread(app) as server: server.base_url`` — ready on entry, stopped on exit."""
    running = start_in_thread(app, host, port)
    try:
        yield running
    finally:
        running.stop()


def run(
    host: str = "127.0.0.1",
    port: int = 0,
    mode: str = "test",
    state_file: str | None = None,
    rate_limits: bool = False,
    trusted_ca_pems: list[bytes] | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM; print the base URL as the first stdout line once ready."""
    from .app import create_app
    from .config import SimulatorConfig

    app = create_app(
        SimulatorConfig(
            mode=mode,  # type: ignore[arg-type]
            state_file=state_file,
            rate_limits=rate_limits,
            trusted_ca_pems=list(trusted_ca_pems or []),
        )
    )
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        running = start_in_thread(app, host, port)
        try:
            print(running.base_url, flush=True)
            while not stop.wait(0.5):
                if not running._thread.is_alive():
                    return 1
        finally:
            running.stop()
            app.state.sim.save()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--mode", choices=("test", "strict"), default="test",
                        help="test: self-signed certificates accepted (like KSeF TEST); strict: like DEMO/PRD")
    parser.add_argument("--state", dest="state_file", default=None, metavar="FILE",
                        help="keep the simulator state in this JSON file")
    parser.add_argument("--rate-limits", action="store_true", help="enforce the production request limits")
    parser.add_argument("--trust-ca", dest="trusted_ca_pems", action="append", type=read_ca_file, default=[],
                        metavar="FILE", help="also trust this CA certificate (PEM, may hold several) for XAdES "
                        "logins, e.g. in strict mode; repeatable")


def read_ca_file(path: str) -> bytes:
    """``--trust-ca FILE``: a regular file of at most 1 MiB holding PEM certificates."""
    from cryptography import x509

    max_bytes = 1024 * 1024
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise argparse.ArgumentTypeError(f"{path}: not a regular file")
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise argparse.ArgumentTypeError(f"{path}: larger than 1 MiB, not a CA certificate file")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{path}: no PEM certificate could be read ({exc})") from exc
    if not certificates:
        raise argparse.ArgumentTypeError(f"{path}: no PEM certificate found")
    return data


def main(args: argparse.Namespace | None = None) -> int:
    if args is None:
        parser = argparse.ArgumentParser(prog="ksef-tui simulator", description="Local KSeF API 2.0 simulator")
        add_arguments(parser)
        args = parser.parse_args()
    return run(
        host=args.host,
        port=args.port,
        mode=args.mode,
        state_file=args.state_file,
        rate_limits=getattr(args, "rate_limits", False),
        trusted_ca_pems=getattr(args, "trusted_ca_pems", None),
    )


if __name__ == "__main__":
    sys.exit(main())
