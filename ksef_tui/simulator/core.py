"""The simulator's core: state, clock, lock, configuration, key material and JWTs.

Each API area (``auth``, ``sessions``, ``tokens``, ``certificates``, ``limits``, ``testdata``,
``permissions``) is an object holding a reference to the core (see :class:`Area`); the
:class:`~ksef_tui.simulator.simulator.Simulator` builds them. All state changes happen under the
core's one re-entrant lock, so tests may seed data from their own thread while uvicorn serves in
another.
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from cryptography import x509

from . import ids, pki
from .clock import Clock, SystemClock
from .config import SimulatorConfig
from .faults import FaultInjector
from .ratelimit import SlidingWindowLimiter
from .state import AuthOperation, State

P = ParamSpec("P")
R = TypeVar("R")


class _HasLock(Protocol):
    @property
    def lock(self) -> threading.RLock: ...


S = TypeVar("S", bound=_HasLock)


def locked(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Run a method of the core or of an area under the core's lock."""

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass
class Caller:
    """An authenticated API caller (access token, or refresh token where the spec allows it)."""

    operation: AuthOperation
    client_ip: str
    #: the access token's permission set (a refresh computes the current one); default: the authentication's
    granted: list[str] | None = None

    @property
    def context(self) -> tuple[str, str]:
        return self.operation.context_type, self.operation.context_value

    @property
    def permissions(self) -> list[str]:
        return self.operation.permissions if self.granted is None else self.granted

    @property
    def category(self) -> str:
        return self.operation.method_category

    @property
    def subject(self) -> tuple[str, str] | None:
        if self.operation.subject_type and self.operation.subject_value:
            return self.operation.subject_type, self.operation.subject_value
        return None


def context_key(context_type: str, context_value: str) -> str:
    """The key of a context in state maps (blocked contexts, rate-limit overrides)."""
    return f"{context_type}:{context_value}"


class SimulatorCore:
    """State, clock, lock, configuration, key material and JWT signing of one simulated KSeF."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.clock: Clock = self.config.clock or SystemClock()
        self.faults = FaultInjector()
        self.limiter = SlidingWindowLimiter()
        self.rate_limits_enabled = self.config.rate_limits
        self.lock = threading.RLock()
        self._state_file = Path(self.config.state_file) if self.config.state_file else None
        if self._state_file and self._state_file.exists():
            self.state = State.load(self._state_file)
        else:
            self.state = State()
        if self.state.pki is None:
            created = pki.Pki.create(self.now(), reuse_process_keys=self.config.reuse_process_keys)
            self.state.pki = created.to_json()
            self.pki = created
        else:
            self.pki = pki.Pki.from_json(self.state.pki)
        if not self.state.jwt_secret:
            self.state.jwt_secret = secrets.token_hex(32)
        #: outside CAs trusted for XAdES logins (``--trust-ca``); a PEM may hold several certificates
        self.trusted_extra = [c for pem in self.config.trusted_ca_pems for c in x509.load_pem_x509_certificates(pem)]

    def now(self) -> datetime:
        return self.clock.now()

    def ts(self, moment: datetime) -> str:
        return ids.ksef_timestamp(moment)

    @locked
    def save(self) -> None:
        """Write the state file (if configured)."""
        if self._state_file:
            self.state.save(self._state_file)

    @property
    def ca_certificate_pem(self) -> str:
        """PEM of the simulator's KSeF CA (issuer of KSeF certificates)."""
        return pki.cert_to_pem(self.pki.ksef_ca.cert)

    @property
    def trusted_profile_ca_pem(self) -> str:
        """PEM of the CA standing for the Profil Zaufany signing service."""
        return pki.cert_to_pem(self.pki.trusted_profile_ca.cert)

    @property
    def ksef_token_encryption_certificate_pem(self) -> str:
        return pki.cert_to_pem(self.pki.key_for_usage(pki.KSEF_TOKEN_ENCRYPTION).material.cert)

    def jwt(self, kind: str, op: AuthOperation, valid_until: datetime) -> str:
        claims: dict[str, object] = {
            "typ": kind,
            "arn": op.reference_number,
            "context-identifier-type": op.context_type,
            "context-identifier-value": op.context_value,
            "authentication-method": op.method,
            "iat": int(self.now().timestamp()),
            "exp": int(valid_until.timestamp()),
            "iss": "ksef-api-simulator",
            "aud": "ksef-api-simulator",
        }
        return ids.opaque_jwt(claims, self.state.jwt_secret.encode())


class Area:
    """One API area of the simulator: its rules, reading and changing the core's state."""

    def __init__(self, core: SimulatorCore) -> None:
        self.core = core

    @property
    def lock(self) -> threading.RLock:
        return self.core.lock

    @property
    def state(self) -> State:
        return self.core.state

    @property
    def config(self) -> SimulatorConfig:
        return self.core.config

    def now(self) -> datetime:
        return self.core.now()

    def ts(self, moment: datetime) -> str:
        return self.core.ts(moment)


__all__ = ["Area", "Caller", "SimulatorCore", "context_key", "locked"]
