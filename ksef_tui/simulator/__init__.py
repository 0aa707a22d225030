"""Local KSeF API 2.0 simulator (Starlette ASGI), an independent test double of KSeF (spec 2.9.0).

Layout: ``core`` (state, clock, lock, config, JWTs) and one area object per API area (``auth``,
``sessions``, ``tokens``, ``certificates``, ``limits``, ``testdata``, ``permissions``) built by
``simulator.Simulator``; ``routes`` and ``app`` are the HTTP side; ``xades``, ``bodies``,
``validation`` read untrusted input.

Public API (imports are lazy so that importing this package stays cheap)::

    from ksef_tui.simulator import SimulatorConfig, create_app, serve_in_thread
    app = create_app(SimulatorConfig(mode="test", rate_limits=False, status_delay_s=0.0))
    sim = app.state.sim
    with serve_in_thread(app) as server:
        server.base_url  # "http://127.0.0.1:<port>/v2"

Permissions (``/permissions/*``, PROTOCOL.md §17) can be seeded from Python, in either mode::

    sim.grant_permissions(client_nip, ("Pesel", pesel), ["InvoiceRead"])                 # model C
    sim.grant_permissions(client_nip, ("Nip", office_nip), ["InvoiceRead"], kind="entity",
                          can_delegate=True)                                             # model A/B
    sim.grant_permissions(office_nip, ("Pesel", pesel), ["InvoiceRead"], kind="indirect",
                          client_nip=client_nip)                                         # model B (None: all)
    sim.revoke_permission(permission_id); sim.effective_permissions(("Pesel", pesel), client_nip)

and strict-mode owners (NIP–PESEL links) come from ``SimulatorConfig(owners={nip: ["Pesel:…"]})``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import SimulatorConfig

if TYPE_CHECKING:
    from .app import create_app
    from .clock import ManualClock, SystemClock
    from .faults import FaultInjector, FaultRule
    from .server import RunningServer, serve_in_thread
    from .signing import self_signed_test_certificate, sign_enveloped
    from .simulator import Simulator

_LAZY = {
    "create_app": ".app",
    "serve_in_thread": ".server",
    "RunningServer": ".server",
    "Simulator": ".simulator",
    "ManualClock": ".clock",
    "SystemClock": ".clock",
    "FaultInjector": ".faults",
    "FaultRule": ".faults",
    "sign_enveloped": ".signing",
    "self_signed_test_certificate": ".signing",
}

__all__ = [
    "FaultInjector",
    "FaultRule",
    "ManualClock",
    "RunningServer",
    "Simulator",
    "SimulatorConfig",
    "SystemClock",
    "create_app",
    "self_signed_test_certificate",
    "serve_in_thread",
    "sign_enveloped",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    from importlib import import_module

    return getattr(import_module(module, __name__), name)
