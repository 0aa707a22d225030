"""KSeF certificates by type: Authentication (logs in) and Offline (signs QR code II of offline invoices;
can never log in). PROTOCOL.md §6.

The login certificate lives in the credential (``ksef_credential``, with ``cert_type``); every other
KSeF certificate the office holds for a user × company × environment is a :class:`KsefCertificate`
row with its type, sealed like a credential (bound to user, company, environment and type).

A company is **offline-ready** in an environment when some user who belongs to it holds an Offline
certificate there that is active (not revoked or blocked in KSeF) and not expired: one SQL condition
(:func:`offline_ready_condition`) used by the Companies list and the dashboard alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, or_, select

# the types and dead statuses are the domain's (the start-up's quick read uses them too); named here as ever
from ksef_tui.domain.certificate_types import AUTHENTICATION as AUTHENTICATION
from ksef_tui.domain.certificate_types import CERTIFICATE_TYPES as CERTIFICATE_TYPES
from ksef_tui.domain.certificate_types import DEAD_STATUSES as DEAD_STATUSES
from ksef_tui.domain.certificate_types import OFFLINE as OFFLINE
from ksef_tui.domain.environments import Environment
from ksef_tui.errors import ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor
from ksef_tui.services.company_list import offline_by_company
from ksef_tui.services.ksef.access import load_subject
from ksef_tui.services.ksef.vault_access import credential_context
from ksef_tui.store.models import KsefCertificate, Membership

if TYPE_CHECKING:
    from ksef_tui.ksef.certificates import Credential
    from ksef_tui.vault.envelope import Vault


def certificate_types(values: Iterable[str]) -> tuple[str, ...]:
    """The requested types, checked and in KSeF's order (at least one)."""
    chosen = {v for v in values}
    unknown = chosen - set(CERTIFICATE_TYPES)
    if unknown or not chosen:
        raise ValidationFailed({"certificate_type": _(
            "Choose the KSeF certificate type: Authentication (to log in), Offline (for offline invoices) or both.")})
    return tuple(t for t in CERTIFICATE_TYPES if t in chosen)


def type_label(certificate_type: str) -> str:
    return {AUTHENTICATION: _("Authentication"), OFFLINE: _("Offline")}.get(certificate_type, certificate_type)


@dataclass(frozen=True)
class KsefCertificateView:
    """A KSeF certificate of a user × company × environment (no key, no certificate bytes)."""

    user_id: int
    company_id: int
    environment: Environment
    certificate_type: str
    serial: str
    valid_to: dt.datetime | None
    status: str | None

    def usable(self, now: dt.datetime) -> bool:
        valid_to = self.valid_to if self.valid_to is None or self.valid_to.tzinfo else self.valid_to.replace(tzinfo=dt.UTC)
        return self.status not in DEAD_STATUSES and (valid_to is None or valid_to > now)


def _view(row: KsefCertificate) -> KsefCertificateView:
    valid_to = row.valid_to
    if valid_to is not None and valid_to.tzinfo is None:
        valid_to = valid_to.replace(tzinfo=dt.UTC)
    return KsefCertificateView(row.user_id, row.company_id, Environment(row.environment), row.certificate_type,
                               row.serial, valid_to, row.status)


def usable_offline(now: dt.datetime) -> Any:
    """SQL on :class:`KsefCertificate`: an Offline certificate that is active and not expired at ``now``."""
    k = KsefCertificate
    return and_(k.certificate_type == OFFLINE, or_(k.status.is_(None), k.status.not_in(DEAD_STATUSES)),
                or_(k.valid_to.is_(None), k.valid_to > now))


def offline_ready_condition(company_id: Any, environment: Any, now: dt.datetime) -> Any:
    """SQL: some member of the company holds an active, unexpired Offline certificate in ``environment``."""
    k = KsefCertificate
    return exists().where(
        k.company_id == company_id, k.environment == environment, usable_offline(now),
        exists().where(Membership.user_id == k.user_id, Membership.company_id == k.company_id))


def offline_ready(conn: Any, company_ids: Iterable[int], now: dt.datetime) -> dict[int, tuple[Environment, ...]]:
    """For each of ``company_ids`` that is offline-ready somewhere, the environments (in panel order)."""
    ids = list(company_ids)
    if not ids:
        return {}
    k = KsefCertificate
    stmt = (select(k.company_id, k.environment).distinct()
            .join(Membership, and_(Membership.user_id == k.user_id, Membership.company_id == k.company_id))
            .where(k.company_id.in_(ids), usable_offline(now)))
    return offline_by_company(conn.execute(stmt))


def certificate_of(s: Any, user_id: int, company_id: int, env: Environment,
                   certificate_type: str) -> KsefCertificate | None:
    k = KsefCertificate
    return s.scalars(select(k).where(k.user_id == user_id, k.company_id == company_id, k.environment == env.value,
                                     k.certificate_type == certificate_type)).first()


def store_typed_certificate(s: Any, vault: Vault, actor: Actor, user_id: int, company_id: int, env: Environment,
                            credential: Credential, certificate_type: str, *, name: str | None, now: dt.datetime,
                            road: str = "") -> KsefCertificateView:
    """Seal a KSeF certificate of ``certificate_type`` (not the login one) for the row, replacing the
    previous one of that type; audited. Runs in the caller's session ``s``."""
    _user, company = load_subject(s, actor, user_id, company_id, write=True)
    facts = credential.facts
    if not facts.key_matches:
        raise ValidationFailed({"key": _("The private key does not belong to the certificate.")})
    row = certificate_of(s, user_id, company_id, env, certificate_type)
    before = None if row is None else {"serial": row.serial, "valid_to": row.valid_to.isoformat() if row.valid_to else None}
    if row is None:
        row = KsefCertificate(user_id=user_id, company_id=company_id, environment=env.value,
                              certificate_type=certificate_type, serial=facts.serial_number, cert_blob=b"",
                              key_blob=b"", created_at=now)
        s.add(row)
    else:
        row.version += 1
    field = certificate_type.lower()
    row.cert_blob = vault.seal(credential.certificate_pem, credential_context(user_id, company_id, env.value, f"{field}-certificate"))
    row.key_blob = vault.seal(credential.private_key_pem.reveal(), credential_context(user_id, company_id, env.value, f"{field}-key"))
    row.serial = facts.serial_number
    row.name = (name or "")[:100] or None
    row.subject = facts.subject[:500]
    row.valid_from, row.valid_to = facts.valid_from, facts.valid_to
    row.status = "Active"
    row.updated_at = now
    s.flush()
    after = {"type": certificate_type, "serial": row.serial, "valid_to": facts.valid_to.isoformat(), "road": road or None}
    audit.record(s, [audit.audit_values(actor, "credential.ksef_certificate_stored", "credential", row.id,
                                        f"{company.nip}/{env.value}/user {user_id}", before, after, at=now)])
    return _view(row)


def certificates_of_user(s: Any, user_id: int) -> dict[tuple[int, str, str], KsefCertificateView]:
    """Every typed KSeF certificate of a user, by (company id, environment, type)."""
    k = KsefCertificate
    return {(r.company_id, r.environment, r.certificate_type): _view(r)
            for r in s.scalars(select(k).where(k.user_id == user_id))}


def open_typed_certificate(vault: Vault, row: KsefCertificate) -> Credential:
    """The sealed certificate and key of a typed row (for export to the invoicing software)."""
    from ksef_tui.ksef.certificates import load_credential

    field = row.certificate_type.lower()
    cert = vault.open(row.cert_blob, credential_context(row.user_id, row.company_id, row.environment, f"{field}-certificate"))
    key = vault.open(row.key_blob, credential_context(row.user_id, row.company_id, row.environment, f"{field}-key"))
    return load_credential(cert_data=cert, key_data=key, strict=False)
