"""One simulated KSeF environment: the core plus one object per API area.

The Starlette layer (``app.py``) parses requests and calls the areas (``sim.auth``,
``sim.sessions``, ``sim.tokens``, ``sim.certificates``, ``sim.limits``, ``sim.testdata``); they
return the JSON bodies of the spec or raise :mod:`errors`. Areas are objects holding a reference
to the core rather than mixins: each names what it depends on (``AuthArea(core, permissions)``),
private helpers of one area cannot collide with another's, and an area can be read on its own.

The methods below are for seeding from Python (tests, the offline demo), outside the API.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import pki
from .auth import AuthArea
from .certificates import CertificatesArea
from .config import SimulatorConfig
from .core import Caller, SimulatorCore
from .grants import GrantsArea
from .identity import personal_name
from .limits import LimitsArea
from .permission_queries import PermissionQueriesArea
from .permissions import PermissionsArea
from .sessions import SessionsArea
from .testdata import TestdataArea
from .tokens import TokensArea

__all__ = ["Caller", "Simulator"]


class Simulator(SimulatorCore):
    """State and rules of one simulated KSeF environment."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        super().__init__(config)
        self.permissions = PermissionsArea(self)
        self.auth = AuthArea(self, self.permissions)
        self.sessions = SessionsArea(self, self.permissions)
        self.tokens = TokensArea(self)
        self.limits = LimitsArea(self, self.sessions)
        self.certificates = CertificatesArea(self, self.limits)
        self.testdata = TestdataArea(self, self.permissions)
        self.grants = GrantsArea(self, self.permissions)
        self.permission_queries = PermissionQueriesArea(self, self.permissions)
        self._trusted_profile_signers: dict[str, pki.KeyAndCert] = {}
        self.save()

    # -- seeding helpers (offline demo, tests) -------------------------------------------------
    def issue_ksef_token(
        self,
        context_nip: str,
        permissions: list[str] | tuple[str, ...] = ("InvoiceRead", "InvoiceWrite"),
        description: str = "Token wygenerowany przez symulator",
        *,
        context_type: str = "Nip",
        author_nip: str | None = None,
        issued_at: datetime | None = None,
    ) -> str:
        """Create an already ``Active`` KSeF token bound to ``context_nip``; returns the secret token.
        ``issued_at``: a token issued earlier (its reference number carries that day), e.g. before 2027."""
        value = self.tokens.issue(
            context_nip, permissions, description, context_type=context_type, author_nip=author_nip,
            issued_at=issued_at,
        )
        self.save()
        return value

    def revoke_ksef_token(self, reference_number: str) -> bool:
        """Revoke a KSeF token at once, outside the API (as if its owner had); whether it existed."""
        with self.lock:
            token = self.state.ksef_tokens.get(reference_number)
            if token is not None:
                token.revoked = True
        self.save()
        return token is not None

    def issued_challenge(self, challenge: str) -> bool:
        """Whether this environment gave out ``challenge`` (an AuthTokenRequest to sign is for it)."""
        with self.lock:
            return challenge in self.state.challenges

    def issue_ksef_certificate(
        self,
        *,
        nip: str | None = None,
        pesel: str | None = None,
        given_name: str | None = None,
        surname: str | None = None,
        common_name: str | None = None,
        organization_name: str | None = None,
        key: pki.KeyKind = "ec",
        certificate_type: str = "Authentication",
        name: str = "Certyfikat symulatora",
        valid_from: datetime | None = None,
    ) -> tuple[str, str]:
        """Issue a KSeF certificate from the simulator's KSeF CA; returns ``(cert_pem, key_pem)``.

        With ``given_name``/``surname`` a personal certificate (``TINPL-<nip>`` or ``PNOPL-<pesel>``),
        otherwise (``nip`` only) a company certificate with ``VATPL-<nip>``.
        """
        pair = self.certificates.issue(
            nip=nip,
            pesel=pesel,
            given_name=given_name,
            surname=surname,
            common_name=common_name,
            organization_name=organization_name,
            key=key,
            certificate_type=certificate_type,
            name=name,
            valid_from=valid_from,
        )
        self.save()
        return pair

    def testdata_person(self, body: Any) -> None:
        """``POST /testdata/person`` from Python (link a PESEL to a NIP as its owner)."""
        self.testdata.person(body)
        self.save()

    def grant_permissions(
        self,
        context_nip: str,
        subject: tuple[str, str],
        permissions: list[str] | tuple[str, ...] = ("InvoiceRead",),
        *,
        kind: str = "person",
        can_delegate: bool = False,
        client_nip: str | None = None,
        description: str = "Uprawnienie nadane przez symulator",
    ) -> list[str]:
        """Grant at once, outside the API (works in strict mode too); returns the permission ids.

        ``kind="person"``: ``subject`` (``("Pesel", …)``, ``("Nip", …)``, ``("Fingerprint", …)``) may work in
        ``context_nip``. ``kind="entity"``: ``context_nip`` (the client) grants the entity ``("Nip", office)``,
        delegable with ``can_delegate``. ``kind="indirect"``: the intermediary ``context_nip`` (the office)
        grants ``subject`` for ``client_nip``, or for all its clients when ``client_nip`` is ``None``.
        """
        with self.lock:
            granted = self.permissions.seed(kind, context_nip, subject, permissions, description,
                                            can_delegate=can_delegate, target_nip=client_nip)
        self.save()
        return granted

    def revoke_permission(self, permission_id: str) -> bool:
        """Withdraw a grant at once, outside the API; whether it existed."""
        with self.lock:
            found = self.permissions.withdraw(permission_id)
        self.save()
        return found

    def effective_permissions(
        self, subject: tuple[str, str], context_nip: str, *, context_type: str = "Nip"
    ) -> list[str]:
        """What ``subject`` may do in the context now (what an authentication there would get)."""
        with self.lock:
            return self.permissions.permissions_for(subject, context_type, context_nip)

    def trusted_profile_signer(self, pesel: str, given_name: str, surname: str) -> pki.KeyAndCert:
        """The (cached) signing certificate of a person at the simulated Profil Zaufany service."""
        with self.lock:
            cached = self._trusted_profile_signers.get(pesel)
            if cached and cached.cert.not_valid_after_utc > self.now():
                return cached
            key = pki.new_key("ec")
            cert = pki.issue_certificate(
                subject=personal_name(given_name, surname, f"PNOPL-{pesel}", None),
                public_key=key.public_key(),
                issuer_cert=self.pki.trusted_profile_ca.cert,
                issuer_key=self.pki.trusted_profile_ca.key,
                not_before=self.now() - timedelta(minutes=5),
                not_after=self.now() + timedelta(days=1),
            )
            signer = pki.KeyAndCert(key, cert)
            self._trusted_profile_signers[pesel] = signer
            return signer

    def sign_as_trusted_profile(self, unsigned_xml: bytes, *, pesel: str, given_name: str, surname: str) -> bytes:
        """Sign like gov.pl Profil Zaufany would (XAdES enveloped, ECDSA P-256); outside the app.

        Strict mode trusts the issuing CA, so the result authenticates as ``TrustedProfile``.
        """
        from .signing import sign_enveloped

        signer = self.trusted_profile_signer(pesel, given_name, surname)
        return sign_enveloped(unsigned_xml, signer.key, signer.cert)
