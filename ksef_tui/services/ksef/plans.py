"""What a bulk KSeF operation will do to each chosen row, told before it runs.

The dashboard's confirmation lists it (how many rows each road takes, how many are skipped and
why) and the run's results say the same afterwards: the rules here are the ones the operations
apply (:mod:`.certificate_move`, :mod:`.bulk`), so the preview cannot promise what the run then
does not do. No KSeF call: only the saved credentials are read.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.i18n import _
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.bulk import Target
from ksef_tui.services.ksef.offline import AUTHENTICATION, DEAD_STATUSES, OFFLINE
from ksef_tui.store.engine import Database
from ksef_tui.store.models import KsefCertificate, KsefCredential

#: a certificate login expiring later than this is "already moved" (nothing to enroll)
RENEW_WITHIN_DAYS = 60

TEST, ENROLL, REVOKE, REFRESH, PERMISSIONS = "test", "enroll", "revoke", "refresh", "permissions"
#: the office grants its employees indirectly (its plan: :func:`~.permission_check.plan_grant`)
GRANT = "grant"
# what a row will have done to it
RUN = "run"  # the operation runs for the row
DIRECT = "direct"  # enrollment opened with the row's certificate
PROFIL_ZAUFANY = "pz"  # enrollment through a Profil Zaufany file to sign
SKIP = "skip"  # nothing to do (the reason says why)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def needed_types(row: KsefCredential | None, offline: KsefCertificate | None, now: dt.datetime,
                 types: Sequence[str] = (AUTHENTICATION,)) -> tuple[str, ...]:
    """The requested certificate types a row still needs: a login (Authentication) certificate unless it
    already logs in with one valid beyond :data:`RENEW_WITHIN_DAYS`; an Offline one unless it holds a live
    one (``offline``) valid beyond that too."""
    horizon = now + dt.timedelta(days=RENEW_WITHIN_DAYS)
    out = []
    for kind in types:
        if kind == AUTHENTICATION:
            valid_to = _aware(row.cert_valid_to) if row is not None else None
            if (row is not None and row.method == AuthMethod.CERTIFICATE.value and valid_to is not None
                    and valid_to > horizon):
                continue
        else:
            valid_to = _aware(offline.valid_to) if offline is not None else None
            if (offline is not None and offline.status not in DEAD_STATUSES and valid_to is not None
                    and valid_to > horizon):
                continue
        out.append(kind)
    return tuple(out)


def _why_nothing(row: KsefCredential | None, offline: KsefCertificate | None, types: Sequence[str]) -> str:
    parts = []
    valid_to = _aware(row.cert_valid_to) if row is not None else None
    if AUTHENTICATION in types and valid_to is not None:
        parts.append(_("Already logs in with a certificate valid until {when}.").format(
            when=valid_to.strftime("%Y-%m-%d")))
    offline_to = _aware(offline.valid_to) if offline is not None else None
    if OFFLINE in types and offline_to is not None:
        parts.append(_("Already holds an Offline certificate valid until {when}.").format(
            when=offline_to.strftime("%Y-%m-%d")))
    return " ".join(parts) or _("Nothing to enroll.")


def enrollment_road(row: KsefCredential | None, now: dt.datetime, types: Sequence[str] = (AUTHENTICATION,),
                    offline: KsefCertificate | None = None) -> tuple[str, str]:
    """(DIRECT | PROFIL_ZAUFANY | SKIP, the reason to skip) for a certificate enrollment of ``row`` asking
    for ``types`` (``offline``: the Offline certificate the row already holds, if any)."""
    if not needed_types(row, offline, now, types):
        return SKIP, _why_nothing(row, offline, types)
    valid_to = _aware(row.cert_valid_to) if row is not None else None
    if (row is not None and row.cert_blob is not None and row.cert_type != OFFLINE
            and (valid_to is None or valid_to > now)):
        return DIRECT, ""  # a session opened with the certificate it holds (only while that still works)
    return PROFIL_ZAUFANY, ""


def revocation_check(row: KsefCredential | None) -> str:
    """Why the token of ``row`` is not revoked ("" when it is: the row logs in with a certificate)."""
    if row is None or row.method != AuthMethod.CERTIFICATE.value:
        return _("Still logs in with the token; move it to a certificate first.")
    if row.token_blob is None:
        return _("No KSeF token is kept for this row.")
    return ""


@dataclass(frozen=True)
class RowPlan:
    target: Target
    action: str  # RUN | DIRECT | PROFIL_ZAUFANY | SKIP
    reason: str = ""


@dataclass(frozen=True)
class OperationPlan:
    operation: str
    rows: tuple[RowPlan, ...]

    def count(self, *actions: str) -> int:
        return sum(1 for r in self.rows if r.action in actions)

    @property
    def to_run(self) -> list[Target]:
        return [r.target for r in self.rows if r.action != SKIP]

    def skipped(self) -> list[tuple[str, int]]:
        """Each reason to skip with how many rows it covers, the most common first."""
        return Counter(r.reason for r in self.rows if r.action == SKIP).most_common()


def plan_operation(db: Database, actor: Actor, operation: str, targets: Sequence[Target],
                   now: dt.datetime, types: Sequence[str] = (AUTHENTICATION,)) -> OperationPlan:
    """What ``operation`` (TEST, ENROLL, REVOKE, REFRESH, PERMISSIONS) would do to each of ``targets`` now
    (TEST, REFRESH and PERMISSIONS: every row with a saved credential runs, as the run skips the others;
    an enrollment asks for the certificate ``types``)."""
    require_admin(actor)
    rows: dict[tuple, KsefCredential] = {}
    offline: dict[tuple, KsefCertificate] = {}
    users = sorted({t.user_id for t in targets})
    with db.session() as s:
        for start in range(0, len(users), 500):
            chunk = users[start:start + 500]
            for cred in s.scalars(select(KsefCredential).where(KsefCredential.user_id.in_(chunk))):
                rows[(cred.user_id, cred.company_id, cred.environment)] = cred
            if operation == ENROLL and OFFLINE in types:
                for cert in s.scalars(select(KsefCertificate).where(
                        KsefCertificate.user_id.in_(chunk), KsefCertificate.certificate_type == OFFLINE)):
                    offline[(cert.user_id, cert.company_id, cert.environment)] = cert
        plans = []
        for t in targets:
            row = rows.get((t.user_id, t.company_id, t.environment.value))
            if operation == ENROLL:
                key = (t.user_id, t.company_id, t.environment.value)
                action, reason = enrollment_road(row, now, types, offline.get(key))
            elif operation == REVOKE:
                reason = revocation_check(row)
                action = SKIP if reason else RUN
            elif row is None:
                action, reason = SKIP, _("Nothing is configured for this row.")
            else:
                action, reason = RUN, ""
            plans.append(RowPlan(t, action, reason))
    return OperationPlan(operation, tuple(plans))
