"""Configuration of the KSeF API 2.0 simulator (no heavy imports here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .clock import Clock

Mode = Literal["test", "strict"]


@dataclass
class SimulatorConfig:
    """Behaviour switches of the simulator.

    ``mode="test"`` behaves like KSeF TEST (self-signed certificates with the right subject
    attributes are accepted); ``mode="strict"`` behaves like DEMO/PRODUCTION (only certificates
    chaining to the simulator's own KSeF CA, its Profil Zaufany CA or ``trusted_ca_pems``).
    """

    mode: Mode = "test"
    #: Enforce the per-endpoint request limits of the spec (429 + Retry-After).
    rate_limits: bool = False
    #: With ``rate_limits``: also enforce the per-IP ``global`` group (75 req/s over every endpoint).
    #: Off by default: ksef_tui's client-side limiter does not count it yet (see ksef_tui.ksef.limits).
    global_rate_limit: bool = False
    #: How long an authentication stays at status 100 before its final status is visible.
    status_delay_s: float = 0.5
    #: How long a generated KSeF token stays ``Pending`` before it turns ``Active``.
    token_activation_delay_s: float = 0.5
    #: How long a certificate enrollment stays at status 100 before the certificate is issued.
    enrollment_delay_s: float = 0.5
    challenge_ttl_s: float = 600.0
    authentication_token_ttl_s: float = 45 * 60.0
    access_token_ttl_s: float = 15 * 60.0
    refresh_token_ttl_s: float = 7 * 24 * 3600.0
    #: ``GET /auth/{ref}`` answers 410 Gone after this (7 days in KSeF).
    auth_status_retention_s: float = 7 * 24 * 3600.0
    #: ``GET /certificates/enrollments/{ref}`` answers 410 Gone after this (30 days in KSeF).
    enrollment_retention_s: float = 30 * 24 * 3600.0
    #: Extra CA certificates (PEM, each may hold several) trusted in strict mode (or with
    #: ``verifyCertificateChain=true``): ``ksef-tui simulator --trust-ca FILE``.
    trusted_ca_pems: list[bytes] = field(default_factory=list)
    #: Persist the state to this JSON file after every change and load it on start.
    state_file: Path | str | None = None
    #: Upper bound for a signed AuthTokenRequest document.
    max_xml_bytes: int = 512 * 1024
    #: Upper bound for a JSON request body (the largest, an enrollment with its CSR, is ~2 KiB).
    max_json_bytes: int = 64 * 1024
    #: Injectable clock (``ManualClock`` in tests); ``None`` means the system clock.
    clock: Clock | None = None
    #: Reuse RSA/EC key material generated earlier in this process (fast tests). The CA and MF
    #: certificates are still created per simulator.
    reuse_process_keys: bool = True
    #: Certificate limits per subject identifier type: (enrollment requests, active certificates).
    certificate_limits: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {"Nip": (300, 100), "Pesel": (12, 6), "Fingerprint": (12, 6)}
    )
    #: How long a ``/permissions/*`` grant or withdrawal stays at status 100 before it takes effect.
    permission_operation_delay_s: float = 0.5
    #: ``GET /permissions/operations/{ref}`` answers 410 Gone after this (30 days in KSeF).
    permission_operation_retention_s: float = 30 * 24 * 3600.0
    #: Owners of a context besides the identity whose NIP is the context's (KSeF's own rule): NIP ->
    #: identifiers of persons linked to it, like a NIP–PESEL link, e.g. ``{"5265877635": ["Pesel:90010112345"]}``
    #: (a bare value is read as a PESEL if 11 digits, a NIP if 10, a certificate fingerprint if 64 hex).
    #: The way to make owners in strict mode, which has no ``/testdata/person``.
    owners: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("test", "strict"):
            raise ValueError(f"mode must be 'test' or 'strict', not {self.mode!r}")
