"""The office's own KSeF identity (issue 15 item 2): the office's NIP and name, and per environment the
credential of the person (or seal) who administers the office's own KSeF context.

With it the office reads which clients granted it what (``entities/grants`` in its own context), which
employees it authorized indirectly (``persons/grants``), and grants or withdraws those indirect rights.
Where a client granted the office's administrator ``CredentialsManage``, the same credential works in
that client's context too (certificates only: a token is bound to the context it was made in).

Rules: only an administrator reads or changes it; the material is sealed by the vault, bound to the
office NIP and the environment; a token must be made for the office's NIP; a certificate must open,
match its key and be valid now; every change is audited without a secret; changing the office NIP
while credentials of the old one exist is refused (remove them first): nothing is half-saved.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import InvalidNip, format_nip, normalize_nip
from ksef_tui.errors import ConflictError, ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.credentials import CredentialService
from ksef_tui.services.ksef.vault_access import open_office, seal_office
from ksef_tui.services.ksef.views import PANEL_ENVIRONMENTS, AuthOutcome, CertificateFiles, aware
from ksef_tui.store.models import OfficeCredential, Setting, utcnow

if TYPE_CHECKING:
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.models import AuthSession
    from ksef_tui.ksef.permissions import Identifier

NIP_KEY, NAME_KEY = "office.nip", "office.name"


@dataclass(frozen=True)
class OfficeCredentialView:
    """The office's credential in one environment (no secrets)."""

    environment: Environment
    configured: bool
    nip: str | None = None
    method: str | None = None
    token_last4: str | None = None
    cert_subject: str | None = None
    cert_identifier: str | None = None
    cert_serial: str | None = None
    cert_valid_to: dt.datetime | None = None
    cert_fingerprint: str | None = None
    last_auth_at: dt.datetime | None = None
    last_auth_ok: bool | None = None
    last_auth_error: str | None = None
    permissions_read_at: dt.datetime | None = None
    version: int = 0

    @property
    def token_masked(self) -> str:
        return f"••••••••{self.token_last4}" if self.token_last4 else ""


@dataclass(frozen=True)
class OfficeView:
    nip: str | None
    name: str | None
    credentials: tuple[OfficeCredentialView, ...]

    def credential(self, env: Environment) -> OfficeCredentialView | None:
        return next((c for c in self.credentials if c.environment is env and c.configured), None)


def _view(env: Environment, row: OfficeCredential | None) -> OfficeCredentialView:
    if row is None:
        return OfficeCredentialView(env, False)
    return OfficeCredentialView(
        environment=env, configured=True, nip=row.nip, method=row.method, token_last4=row.token_last4,
        cert_subject=row.cert_subject, cert_identifier=row.cert_identifier, cert_serial=row.cert_serial,
        cert_valid_to=aware(row.cert_valid_to), cert_fingerprint=row.cert_fingerprint,
        last_auth_at=aware(row.last_auth_at), last_auth_ok=row.last_auth_ok, last_auth_error=row.last_auth_error,
        permissions_read_at=aware(row.permissions_read_at), version=row.version)


def _facts(row: OfficeCredential | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"environment": row.environment, "nip": row.nip, "method": row.method,
            "token_set": row.token_blob is not None, "token_last4": row.token_last4,
            "certificate_serial": row.cert_serial, "certificate_fingerprint": row.cert_fingerprint}


def identifier_of(cert_identifier: str | None, fingerprint: str | None) -> Identifier | None:
    """The KSeF identity a certificate logs in as: ``TINPL-`` → Nip, ``PNOPL-`` → Pesel, ``VATPL-`` → Nip
    (a seal), otherwise the certificate's fingerprint."""
    from ksef_tui.ksef.permissions import Identifier

    raw = (cert_identifier or "").strip()
    prefix, _sep, value = raw.partition("-")
    if prefix in ("TINPL", "VATPL") and value:
        return Identifier("Nip", value)
    if prefix == "PNOPL" and value:
        return Identifier("Pesel", value)
    return Identifier("Fingerprint", fingerprint.upper()) if fingerprint else None


class OfficeService:
    def __init__(self, credentials: CredentialService, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.credentials = credentials
        self.db = credentials.db
        self.clock = clock

    # ---- reading ---------------------------------------------------------------------

    def get(self, actor: Actor) -> OfficeView:
        require_admin(actor)
        with self.db.session() as s:
            nip, name = self.identity_in(s)
            rows = {r.environment: r for r in s.scalars(select(OfficeCredential))}
        envs = list(PANEL_ENVIRONMENTS) + [e for e in Environment if e not in PANEL_ENVIRONMENTS and e.value in rows]
        return OfficeView(nip, name, tuple(_view(e, rows.get(e.value)) for e in envs))

    @staticmethod
    def identity_in(s: Any) -> tuple[str | None, str | None]:
        """The office NIP and name, read in the caller's session ``s``."""
        nip, name = s.get(Setting, NIP_KEY), s.get(Setting, NAME_KEY)
        return (nip.value if nip else None), (name.value if name else None)

    def identity(self) -> tuple[str | None, str | None]:
        """The office NIP and name (for the services; no permission check: they are not secret)."""
        with self.db.session() as s:
            return self.identity_in(s)

    # ---- the identity ----------------------------------------------------------------

    def set_identity(self, actor: Actor, nip: str, name: str) -> OfficeView:
        require_admin(actor)
        from ksef_tui.services.companies import nip_message

        errors: dict[str, str] = {}
        try:
            clean = normalize_nip(nip)
        except InvalidNip as exc:
            errors["nip"] = nip_message(exc)
            clean = ""
        name = " ".join((name or "").split())
        if not name:
            errors["name"] = _("Give the office's name as KSeF should show it to clients.")
        elif len(name) > 90:
            errors["name"] = _("KSeF keeps at most 90 characters of a name.")
        now = self.clock()
        with self.db.session() as s:
            before_nip, before_name = self.identity_in(s)
            others = [r for r in s.scalars(select(OfficeCredential)) if r.nip != clean]
            if clean and others:
                errors["nip"] = _("The office's KSeF credentials belong to NIP {nip}; remove them before changing the NIP.").format(
                    nip=format_nip(others[0].nip))
            if errors:
                raise ValidationFailed(errors)
            for key, value in ((NIP_KEY, clean), (NAME_KEY, name)):
                row = s.get(Setting, key)
                if row is None:
                    s.add(Setting(key=key, value=value, updated_at=now))
                else:
                    row.value, row.updated_at = value, now
            if (before_nip, before_name) != (clean, name):
                audit.record(s, [audit.audit_values(actor, "office.identity", "office", None, f"office {clean}",
                                                    {"nip": before_nip, "name": before_name},
                                                    {"nip": clean, "name": name}, at=now)])
        return self.get(actor)

    def _require_nip(self, s: Any) -> str:
        nip, _name = self.identity_in(s)
        if not nip:
            raise ServiceError(_("Set the office's NIP first (the office's own KSeF identity)."))
        return nip

    # ---- its credential --------------------------------------------------------------

    def save_token(self, actor: Actor, env: Environment, token_text: str, *,
                   expected_version: int | None = None) -> OfficeCredentialView:
        require_admin(actor)
        vault = self.credentials.vaults.vault()
        now = self.clock()
        with self.db.session() as s:
            self.credentials.vaults.hold(s, vault)  # sealed with the key the database holds, until the commit
            nip = self._require_nip(s)
            token = self.credentials.check_token(token_text, nip)
            row, before = self._row(s, env, nip, AuthMethod.TOKEN, expected_version, now)
            seal_office(vault, row, token=token)
            from ksef_tui.domain.token import parse_token

            row.token_reference = parse_token(token).reference_number
            self._reset_auth(row, now)
            audit.record(s, [audit.audit_values(actor, "office.token_set", "office", None,
                                                f"office {nip}/{env.value}", before, _facts(row), at=now)])
            return _view(env, row)

    def save_certificate(self, actor: Actor, env: Environment, files: CertificateFiles, *,
                         expected_version: int | None = None) -> OfficeCredentialView:
        require_admin(actor)
        credential = self.credentials.load_certificate(files)
        vault = self.credentials.vaults.vault()
        now = self.clock()
        with self.db.session() as s:
            self.credentials.vaults.hold(s, vault)  # sealed with the key the database holds, until the commit
            nip = self._require_nip(s)
            row, before = self._row(s, env, nip, AuthMethod.CERTIFICATE, expected_version, now)
            seal_office(vault, row, credential=credential)
            self._reset_auth(row, now)
            audit.record(s, [audit.audit_values(actor, "office.certificate_set", "office", None,
                                                f"office {nip}/{env.value}", before, _facts(row), at=now)])
            return _view(env, row)

    def remove(self, actor: Actor, env: Environment) -> None:
        require_admin(actor)
        with self.db.session() as s:
            row = s.get(OfficeCredential, env.value)
            if row is None:
                return
            audit.record(s, [audit.audit_values(actor, "office.remove", "office", None,
                                                f"office {row.nip}/{env.value}", _facts(row), None)])
            s.delete(row)

    @staticmethod
    def _row(s: Any, env: Environment, nip: str, method: AuthMethod, expected_version: int | None,
             now: dt.datetime) -> tuple[OfficeCredential, dict[str, Any] | None]:
        row = s.get(OfficeCredential, env.value)
        if row is not None and expected_version is not None and row.version != expected_version:
            raise ConflictError(_("Someone else changed this KSeF setting since you opened it; reload it."))
        before = _facts(row)
        if row is None:
            row = OfficeCredential(environment=env.value, nip=nip, method=method.value, created_at=now)
            s.add(row)
        else:
            row.version += 1
            if row.nip != nip:  # material of another NIP goes: it could not be opened any more
                row.token_blob = row.cert_blob = row.key_blob = None
                row.token_last4 = row.token_reference = None
            row.nip = nip
        row.method = method.value
        return row, before

    @staticmethod
    def _reset_auth(row: OfficeCredential, now: dt.datetime) -> None:
        row.last_auth_at = row.last_auth_ok = row.last_auth_error = None
        row.updated_at = now

    def configured(self, env: Environment) -> bool:
        """Whether the office has a usable credential in ``env`` (without opening it)."""
        with self.db.session() as s:
            return self.opened_row_exists(s, env, self.identity_in(s)[0])

    def method(self, env: Environment) -> str | None:
        with self.db.session() as s:
            row = s.get(OfficeCredential, env.value)
            return row.method if row is not None else None

    @staticmethod
    def opened_row_exists(s: Any, env: Environment, nip: str | None) -> bool:
        """Whether the office has a usable credential in ``env`` (inside a caller's session)."""
        row = s.get(OfficeCredential, env.value)
        return bool(nip) and row is not None and row.nip == nip

    # ---- using it --------------------------------------------------------------------

    def opened(self, env: Environment) -> tuple[str, str, Any, Identifier | None] | None:
        """``(office nip, method, material, the identity it logs in as)``, or None when not configured."""
        with self.db.session() as s:
            nip, _name = self.identity_in(s)
            row = s.get(OfficeCredential, env.value)
            if row is None or not nip or row.nip != nip:
                return None
            material = open_office(self.credentials.vaults.vault(), row)
            ident = None if row.method == AuthMethod.TOKEN.value else identifier_of(row.cert_identifier,
                                                                                    row.cert_fingerprint)
            return nip, row.method, material, ident

    async def authorize(self, gw: KsefGateway, env: Environment, context_nip: str | None = None, *,
                        opened: Any = None) -> AuthSession:
        """An authorization with the office's credential in the office's context (or, for a certificate,
        in ``context_nip``); a :class:`ServiceError` when none is configured; KSeF's errors pass through.
        ``opened``: what :meth:`opened` gave, when the caller has it already."""
        from ksef_tui.ksef.models import Context

        if opened is None:
            opened = await asyncio.to_thread(self.opened, env)  # the vault and the key: not on the caller's loop
        if opened is None:
            raise ServiceError(_("The office has no KSeF credential for {env}.").format(env=env.value))
        nip, method, material, _ident = opened
        where = Context.nip(context_nip or nip)
        if method == AuthMethod.TOKEN.value:
            if context_nip and context_nip != nip:
                raise ServiceError(_("The office's KSeF token works only in the office's own context."))
            return await gw.authorize_with_token(where, material)
        return await gw.authorize_with_certificate(where, material)

    async def test(self, actor: Actor, env: Environment, *, base_url: str | None = None) -> AuthOutcome:
        """Authorize in the office's context and record the result."""
        require_admin(actor)
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.services.ksef.access import failure

        if base_url:
            from ksef_tui.ksef.errors import KsefInputError

            try:
                await asyncio.to_thread(self.credentials.connections.endpoint, env, base_url)
            except KsefInputError as exc:
                raise ValidationFailed({"base_url": str(exc)}) from None
        method = await asyncio.to_thread(self.method, env) or ""
        try:
            async with await asyncio.to_thread(self.credentials.connections.gateway, env, base_url) as gw:
                session = await self.authorize(gw, env)
        except KsefError as exc:
            outcome = failure(env, method, exc)
        else:
            outcome = AuthOutcome(True, env, method, _("The office authorized in KSeF {env}.").format(env=env.value),
                                  reference_number=session.reference_number, valid_until=session.refresh_valid_until)
        await asyncio.to_thread(self._record, actor, env, outcome)
        return outcome

    def _record(self, actor: Actor, env: Environment, outcome: AuthOutcome) -> None:
        now = self.clock()
        with self.db.session() as s:
            row = s.get(OfficeCredential, env.value)
            if row is None:
                return
            row.last_auth_at, row.last_auth_ok = now, outcome.ok
            row.last_auth_error = None if outcome.ok else outcome.message[:500]
            audit.record(s, [audit.audit_values(actor, "office.auth_ok" if outcome.ok else "office.auth_failed",
                                                "office", None, f"office {row.nip}/{env.value}", None,
                                                {"environment": env.value, "code": outcome.code,
                                                 "reference": outcome.reference_number}, at=now)])

    def mark_read(self, env: Environment, when: dt.datetime) -> None:
        """The office's view was read from KSeF at ``when`` (a fact from KSeF: the version stays)."""
        with self.db.session() as s:
            row = s.get(OfficeCredential, env.value)
            if row is not None:
                row.permissions_read_at = when
