"""The rules every KSeF credential operation shares: who may read or change a user's KSeF settings for
a company, the row being changed (with optimistic locking), what the audit log records of it, and how
a KSeF failure becomes an outcome or an error in the user's terms.

- an administrator may configure anyone; a client only themself, for their own companies, and only
  while "may configure KSeF themselves" is on;
- credentials exist only for companies with KSeF switched on and users who belong to them;
- every change is audited, never with a secret.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ksef_tui.domain.auth import ApiVersion, AuthMethod, RuleViolation, check_method_and_version
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.errors import ConflictError, NotFound, PermissionDenied, ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor
from ksef_tui.services.ksef.views import AuthOutcome, KsefOperationError
from ksef_tui.store.engine import Database
from ksef_tui.store.models import Company, KsefCredential, Membership, User

if TYPE_CHECKING:
    from ksef_tui.ksef.models import AuthSession


def load_subject(s: Any, actor: Actor, user_id: int, company_id: int, *, write: bool) -> tuple[User, Company]:
    user = s.get(User, user_id)
    if user is None:
        raise NotFound(_("The user no longer exists."))
    company = s.get(Company, company_id)
    if company is None:
        raise NotFound(_("The company no longer exists."))
    if not actor.is_admin:
        if actor.id != user_id:
            raise PermissionDenied(_("You may see and change only your own KSeF settings."))
        if write and not user.may_configure_ksef:
            raise PermissionDenied(
                _("Your administrator has not allowed you to configure KSeF yourself; ask them to do it or to allow it.")
            )
    member = s.get(Membership, (user_id, company_id))
    if member is None:
        raise (ServiceError if actor.is_admin else PermissionDenied)(
            _("{login} does not belong to the company {name} (NIP {nip}).").format(
                login=user.login, name=company.name, nip=format_nip(company.nip))
        )
    if write and not company.ksef_enabled:
        raise (ServiceError if actor.is_admin else PermissionDenied)(
            _("KSeF is switched off for {name} (NIP {nip}); switch it on in the company's Additional data first.").format(
                name=company.name, nip=format_nip(company.nip))
        )
    return user, company



def version_rule(method: AuthMethod, version: ApiVersion) -> None:
    try:
        check_method_and_version(method, version)
    except RuleViolation:
        raise ValidationFailed({"api_version": _(
            "KSeF API 1.0 was switched off on 26 Jan 2026; only API 2.0 can be used.")}) from None


def credential_row(s: Any, user_id: int, company_id: int, env: Environment) -> KsefCredential | None:
    return s.scalars(select(KsefCredential).where(
        KsefCredential.user_id == user_id, KsefCredential.company_id == company_id,
        KsefCredential.environment == env.value)).first()


def row_for_write(s: Any, user_id: int, company_id: int, env: Environment, method: AuthMethod,
                   expected_version: int | None, now: dt.datetime) -> tuple[KsefCredential, dict | None]:
    """The row to change (a new one if none), checked against the version the caller saw (0: the caller
    saw nothing saved, so a row saved meanwhile is a conflict; None: no check); with its audit facts
    before the change. The login method becomes ``method``."""
    row = credential_row(s, user_id, company_id, env)
    if row is not None and expected_version is not None and row.version != expected_version:
        raise ConflictError(_("Someone else changed this KSeF setting since you opened it; reload it."))
    before = audit_facts(row)
    if row is None:
        row = KsefCredential(user_id=user_id, company_id=company_id, environment=env.value,
                             method=method.value, created_at=now)
        s.add(row)
    else:
        row.version += 1
    row.method = method.value
    return row, before


def record_outcome(db: Database, actor: Actor, user_id: int, company_id: int, env: Environment, version: int,
                   outcome: AuthOutcome, now: dt.datetime) -> None:
    """Store the last authorization (made at ``now``); the material and the version stay as they were."""
    with db.session() as s:
        apply_outcome(s, actor, credential_row(s, user_id, company_id, env), version, outcome, now)


def credential_label(s: Any, user_id: int, company_id: int, env: str | Environment) -> str:
    """How the audit log names a KSeF credential: in people's terms, ``login · Company (NIP …) · DEMO``
    (the log is searched by the user's login, the company's name or NIP; ids say nothing to anyone)."""
    user, company = s.get(User, user_id), s.get(Company, company_id)
    env_text = env.value if isinstance(env, Environment) else str(env)
    who = user.login if user is not None else f"user {user_id}"
    where = f"{company.name} (NIP {format_nip(company.nip)})" if company is not None else f"company {company_id}"
    return f"{who} · {where} · {env_text}"


def apply_outcome(s: Any, actor: Actor, row: KsefCredential | None, version: int, outcome: AuthOutcome,
                  now: dt.datetime) -> bool:
    """:func:`record_outcome` inside the caller's transaction (at ``now``); False when the row changed meanwhile."""
    if row is None or row.version != version:
        return False  # changed meanwhile: the result belongs to material no longer there
    user_id, company_id, env = row.user_id, row.company_id, Environment(row.environment)
    row.last_auth_at = now
    row.last_auth_ok = outcome.ok
    row.last_auth_method = outcome.method
    row.last_auth_reference = outcome.reference_number
    row.last_auth_valid_until = outcome.valid_until
    row.last_auth_error = None if outcome.ok else (outcome.message[:500])
    audit.record(s, [audit.audit_values(
        actor, "credential.auth_ok" if outcome.ok else "credential.auth_failed", "credential", row.id,
        credential_label(s, user_id, company_id, row.environment), None,
        {"environment": env.value, "method": outcome.method, "code": outcome.code,
         "reference": outcome.reference_number}, at=now)])
    return True


def certificate_name(text: str) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]", " ", text)
    cleaned = " ".join(cleaned.split())[:100]
    return cleaned if len(cleaned) >= 5 else (cleaned + " ksef-tui")[:100]


def record_auth(row: KsefCredential, session: AuthSession | None, now: dt.datetime) -> None:
    if session is None:
        row.last_auth_at = row.last_auth_ok = row.last_auth_error = None
        row.last_auth_valid_until = row.last_auth_reference = row.last_auth_method = None
        return
    row.last_auth_at = now
    row.last_auth_ok = True
    row.last_auth_method = row.method
    row.last_auth_reference = session.reference_number
    row.last_auth_valid_until = session.refresh_valid_until
    row.last_auth_error = None


def failure(env: Environment, method: str, exc: Exception) -> AuthOutcome:
    hint = getattr(exc, "hint", "") or ""
    code = getattr(exc, "code", None)
    return AuthOutcome(False, env, method, str(exc), hint=hint, code=None if code is None else str(code))


def operation_error(exc: Exception) -> KsefOperationError:
    from ksef_tui.ksef.errors import KsefInputError

    code = getattr(exc, "code", None)
    return KsefOperationError(str(exc), getattr(exc, "hint", "") or "", None if code is None else str(code),
                              bad_input=isinstance(exc, KsefInputError))


def audit_facts(row: KsefCredential | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "environment": row.environment,
        "method": row.method,
        "api_version": row.api_version,
        "token_set": row.token_blob is not None,
        "token_reference": row.token_reference,
        "certificate_serial": row.cert_serial,
        "certificate_fingerprint": row.cert_fingerprint,
        "certificate_valid_to": row.cert_valid_to.isoformat() if row.cert_valid_to else None,
    }



@contextlib.contextmanager
def first_save_conflict() -> Iterator[None]:
    """Around a save's transaction: two first saves of the same credential at the same moment (the
    unique row) end as a conflict to reload, never a raw database error."""
    from sqlalchemy.exc import IntegrityError

    try:
        yield
    except IntegrityError:
        raise ConflictError(_("Someone else saved this KSeF setting at the same moment; reload it. Nothing was "
                              "saved.")) from None
