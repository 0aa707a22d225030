"""Per-user KSeF authorization: for each of the user's companies and each environment, how that user
logs in to KSeF (token or certificate), the secret material sealed by the vault, and the last
authorization. The Profil Zaufany (signed file) road is in :mod:`.profil_zaufany`.

Rules enforced here and in :mod:`.access` (the UI only hides what the actor may not do): see
:mod:`.access`; besides, new material is validated before it is saved (token format and NIP,
certificate parses, matches its key, is valid now; PKCS#12 opens); a failed change or
re-authorization leaves the previous credential untouched; sealed material is bound to
(user, company, environment): a DEMO credential cannot be used for PRODUCTION.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ksef_tui.domain.auth import ApiVersion, AuthMethod
from ksef_tui.domain.clock import Clock, system_clock
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.domain.token import InvalidToken, clean_token, parse_token
from ksef_tui.errors import ConflictError, NotFound, PermissionDenied, ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor
from ksef_tui.services.ksef.access import (
    audit_facts,
    credential_label,
    credential_row,
    failure,
    first_save_conflict,
    load_subject,
    operation_error,
    record_auth,
    record_outcome,
    row_for_write,
    version_rule,
)
from ksef_tui.services.ksef.connections import Connections
from ksef_tui.services.ksef.vault_access import VaultAccess, open_material, seal_certificate, seal_token
from ksef_tui.services.ksef.views import (
    PANEL_ENVIRONMENTS,
    AuthOutcome,
    CertificateFacts,
    CertificateFiles,
    CredentialView,
    TokenReplacement,
    view_of,
)
from ksef_tui.store.engine import Database
from ksef_tui.store.models import Company, KsefCertificate, KsefCredential, Membership, User

if TYPE_CHECKING:  # imported lazily at run time: start-up never loads KSeF code
    from ksef_tui.ksef.certificates import Credential
    from ksef_tui.ksef.models import AuthSession

Progress = Callable[[str], None]


def offline_refusal() -> str:
    """Why an Offline certificate is refused as a login certificate, in the user's language."""
    return _("This is a KSeF Offline certificate: it only signs the second QR code of offline invoices and "
             "can never log in to KSeF. Load the KSeF Authentication certificate instead, or request one.")


def warning_texts(warnings: Iterable[object]) -> tuple[str, ...]:
    """KSeF's ``X-System-Warning``s as plain texts for the user (untrusted: control characters made visible)."""
    from ksef_tui.domain.untrusted import visible

    return tuple(visible(str(w)) for w in warnings)


class CredentialService:
    def __init__(self, db: Database, vault: VaultAccess | None = None, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock
        self.vaults = vault or VaultAccess(db)
        self.connections = Connections(db, clock=clock)

    # ---- reading ---------------------------------------------------------------

    def overview(self, actor: Actor, user_id: int,
                 environments: tuple[Environment, ...] = PANEL_ENVIRONMENTS) -> list[CredentialView]:
        """The user's companies × environments (plus any other environment configured)."""
        with self.db.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(_("The user no longer exists."))
            if not actor.is_admin and actor.id != user_id:
                raise PermissionDenied(_("You may see and change only your own KSeF settings."))
            companies = s.execute(
                select(Company.id, Company.name, Company.nip, Company.ksef_enabled)
                .join(Membership, Membership.company_id == Company.id)
                .where(Membership.user_id == user_id)
                .order_by(Company.sort_key, Company.id)
            ).all()
            creds = {
                (c.company_id, c.environment): c
                for c in s.scalars(select(KsefCredential).where(KsefCredential.user_id == user_id))
            }
            offline = {(c.company_id, c.environment): c for c in s.scalars(select(KsefCertificate).where(
                KsefCertificate.user_id == user_id, KsefCertificate.certificate_type == "Offline"))}
            if not actor.is_admin:
                companies = [c for c in companies if c[3]]  # clients see only companies with KSeF on
            envs = list(environments) + [
                e for e in Environment if e not in environments and any(k[1] == e.value for k in creds)
            ]
            order = {e: i for i, e in enumerate(Environment.__members__.values())}
            rows = []
            for cid, name, nip, enabled in companies:
                for env in sorted(envs, key=lambda e: (e is not Environment.DEMO, e is not Environment.PRODUCTION, order[e])):
                    rows.append(view_of(user_id, cid, name, nip, enabled, env, creds.get((cid, env.value)),
                                        offline.get((cid, env.value))))
            return rows

    def get(self, actor: Actor, user_id: int, company_id: int, env: Environment) -> CredentialView:
        with self.db.session() as s:
            _u, company = load_subject(s, actor, user_id, company_id, write=False)
            cred = credential_row(s, user_id, company_id, env)
            offline = s.scalars(select(KsefCertificate).where(
                KsefCertificate.user_id == user_id, KsefCertificate.company_id == company_id,
                KsefCertificate.environment == env.value, KsefCertificate.certificate_type == "Offline")).first()
            return view_of(user_id, company_id, company.name, company.nip, company.ksef_enabled, env, cred, offline)


    # ---- validation of new material ----------------------------------------------

    @staticmethod
    def check_token(token_text: str, company_nip: str | None = None) -> str:
        """The cleaned token, or :class:`ValidationFailed` saying what is wrong."""
        try:
            shape = parse_token(token_text)
        except InvalidToken as exc:
            msg = {
                "empty": _("Paste the KSeF token."),
                "too-long": _("A KSeF token has at most 160 characters."),
                "v1": _("This looks like a KSeF 1.0 token; 1.0 tokens do not work with API 2.0. Get a new token."),
                "format": _("This is not a KSeF token (expected: reference number|context|64 hex characters)."),
            }[exc.reason]
            raise ValidationFailed({"token": msg}) from None
        if company_nip and shape.nip and shape.nip != company_nip:
            raise ValidationFailed({"token": _("This token was made for NIP {token_nip}, not for this company's NIP {nip}.").format(
                token_nip=format_nip(shape.nip), nip=format_nip(company_nip))})
        return clean_token(token_text)


    def load_certificate(self, files: CertificateFiles, *, for_login: bool = True) -> Credential:
        """Parse and check certificate material; errors name the field at fault (for the services only:
        the UI and the CLI pass :class:`CertificateFiles` and never hold the loaded key). ``for_login``:
        a KSeF Offline certificate is refused (it can never log in)."""
        from ksef_tui.ksef.certificates import check_usable, load_credential
        from ksef_tui.ksef.errors import CredentialError

        try:
            credential = load_credential(cert_data=files.cert_data, key_data=files.key_data,
                                         pkcs12_data=files.pkcs12_data, password=files.password or None, strict=False)
            check_usable(credential.facts, self.clock(), for_login=for_login)
            return credential
        except CredentialError as exc:
            if exc.code == "offline-certificate":
                raise ValidationFailed({"certificate": offline_refusal()}) from None
            field = {"key-mismatch": "key", "wrong-password": "password", "bad-password": "password",
                     "expired": "certificate", "not-yet-valid": "certificate"}.get(str(exc.code), "certificate")
            raise ValidationFailed({field: str(exc)}) from None

    def check_certificate(self, files: CertificateFiles) -> CertificateFacts:
        """The strict check "Perform certificate authorization" makes before any KSeF call: the
        material opens, the key matches and the certificate is valid now; else :class:`ValidationFailed`."""
        return CertificateFacts(**dataclasses.asdict(self.load_certificate(files).facts))

    @staticmethod
    def inspect_certificate(files: CertificateFiles) -> CertificateFacts:
        """Facts shown as soon as files are chosen, without refusing (mismatch, expiry shown)."""
        from ksef_tui.ksef.certificates import inspect_credential
        from ksef_tui.ksef.errors import CredentialError

        try:
            facts = inspect_credential(cert_data=files.cert_data, key_data=files.key_data,
                                       pkcs12_data=files.pkcs12_data, password=files.password or None)
        except CredentialError as exc:
            raise ValidationFailed({"certificate": str(exc)}) from None
        return CertificateFacts(**dataclasses.asdict(facts))

    # ---- saving --------------------------------------------------------------------

    def save_token(self, actor: Actor, user_id: int, company_id: int, env: Environment, token_text: str, *,
                   api_version: ApiVersion = ApiVersion.V2, reference: str | None = None,
                   permissions: tuple[str, ...] | None = None, status: str | None = None,
                   expected_version: int | None = None, action: str = "credential.token_set") -> CredentialView:
        version_rule(AuthMethod.TOKEN, api_version)
        vault = self.vaults.vault()
        now = self.clock()
        with first_save_conflict(), self.db.session() as s:
            self.vaults.hold(s, vault)  # sealed with the key the database holds, until the commit
            _u, company = load_subject(s, actor, user_id, company_id, write=True)
            token = self.check_token(token_text, company.nip)
            shape = parse_token(token)
            row, before = row_for_write(s, user_id, company_id, env, AuthMethod.TOKEN, expected_version, now)
            row.api_version = api_version.value
            seal_token(vault, row, token)
            row.token_reference = reference or shape.reference_number
            row.token_permissions = ",".join(permissions) if permissions else None
            row.token_status = status
            row.last_auth_at = row.last_auth_ok = row.last_auth_error = None
            row.last_auth_valid_until = row.last_auth_reference = row.last_auth_method = None
            row.updated_at = now
            s.flush()
            audit.record(s, [audit.audit_values(actor, action, "credential", row.id,
                                                credential_label(s, user_id, company_id, env), before, audit_facts(row))])
            return view_of(user_id, company_id, company.name, company.nip, company.ksef_enabled, env, row)


    async def replace_token(self, actor: Actor, user_id: int, company_id: int, env: Environment, token_text: str, *,
                            expected_version: int | None = None, progress: Progress | None = None,
                            base_url: str | None = None) -> TokenReplacement:
        """Save a pasted token without ever losing a working credential silently.

        When the credential in use last authorized successfully, the new token is authorized first
        (nothing is stored meanwhile): it replaces the old one only if KSeF accepts it (and that
        authorization is recorded); if KSeF refuses it, nothing changes and the result says why, so
        the caller can ask before keeping a failing token (:meth:`save_token` saves it anyway).
        Otherwise (nothing saved yet, never tested, or failing) the token is saved at once, as before."""
        from ksef_tui.domain.secret import Secret
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        token, nip, working = await asyncio.to_thread(
            self._replacement_facts, actor, user_id, company_id, env, token_text, expected_version)
        if working is None:
            saved = await asyncio.to_thread(partial(self.save_token, actor, user_id, company_id, env, token,
                                                    expected_version=expected_version))
            return TokenReplacement(saved)
        try:
            async with await asyncio.to_thread(self.connections.gateway, env, base_url) as gw:
                session = await gw.authorize_with_token(Context.nip(nip), Secret(token), progress=progress)
        except KsefError as exc:
            return TokenReplacement(None, failure(env, AuthMethod.TOKEN.value, exc), kept=working)
        trial = AuthOutcome(True, env, AuthMethod.TOKEN.value, _("Authorized in KSeF {env}.").format(env=env.value),
                            reference_number=session.reference_number, valid_until=session.refresh_valid_until)
        saved = await asyncio.to_thread(partial(self.save_token, actor, user_id, company_id, env, token,
                                                expected_version=expected_version))
        await asyncio.to_thread(record_outcome, self.db, actor, user_id, company_id, env, saved.version, trial,
                                self.clock())
        saved = await asyncio.to_thread(self.get, actor, user_id, company_id, env)
        return TokenReplacement(saved, trial)

    def _replacement_facts(self, actor: Actor, user_id: int, company_id: int, env: Environment, token_text: str,
                           expected_version: int | None) -> tuple[str, str, CredentialView | None]:
        """(the cleaned token, the company's NIP, the row when its credential last authorized successfully)."""
        with self.db.session() as s:
            _u, company = load_subject(s, actor, user_id, company_id, write=True)
            token = self.check_token(token_text, company.nip)
            row = credential_row(s, user_id, company_id, env)
            if row is not None and expected_version is not None and row.version != expected_version:
                raise ConflictError(_("Someone else changed this KSeF setting since you opened it; reload it."))
            return token, company.nip, self._working(row, company, env)

    def working_credential(self, actor: Actor, user_id: int, company_id: int, env: Environment) -> CredentialView | None:
        """The saved credential when it last authorized successfully with the login method in use
        (replacing it must not lose it silently), else ``None``."""
        with self.db.session() as s:
            _u, company = load_subject(s, actor, user_id, company_id, write=False)
            return self._working(credential_row(s, user_id, company_id, env), company, env)

    @staticmethod
    def _working(row: KsefCredential | None, company: Company, env: Environment) -> CredentialView | None:
        if row is None or row.last_auth_ok is not True or row.last_auth_method not in (None, row.method):
            return None
        return view_of(row.user_id, company.id, company.name, company.nip, company.ksef_enabled, env, row)

    def save_certificate(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                         files: CertificateFiles, *, api_version: ApiVersion = ApiVersion.V2,
                         expected_version: int | None = None) -> CredentialView:
        """Save certificate material without authorizing (the CLI's ``users ksef set``)."""
        return self.store_certificate(actor, user_id, company_id, env, self.load_certificate(files),
                                      api_version=api_version, expected_version=expected_version)

    def store_certificate(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                          credential: Credential, *, api_version: ApiVersion = ApiVersion.V2,
                          expected_version: int | None = None, auth: AuthSession | None = None,
                          action: str = "credential.certificate_set") -> CredentialView:
        """Seal loaded certificate material into the row (for the KSeF services that enroll or load it)."""
        version_rule(AuthMethod.CERTIFICATE, api_version)
        from ksef_tui.ksef.certificates import check_usable

        now = self.clock()
        check_usable(credential.facts, now)
        vault = self.vaults.vault()
        with first_save_conflict(), self.db.session() as s:
            self.vaults.hold(s, vault)  # sealed with the key the database holds, until the commit
            _u, company = load_subject(s, actor, user_id, company_id, write=True)
            row, before = row_for_write(s, user_id, company_id, env, AuthMethod.CERTIFICATE,
                                              expected_version, now)
            row.api_version = api_version.value
            seal_certificate(vault, row, credential)
            record_auth(row, auth, now)
            row.updated_at = now
            s.flush()
            audit.record(s, [audit.audit_values(actor, action, "credential", row.id,
                                                credential_label(s, user_id, company_id, env), before, audit_facts(row))])
            return view_of(user_id, company_id, company.name, company.nip, company.ksef_enabled, env, row)

    def set_method(self, actor: Actor, user_id: int, company_id: int, env: Environment, method: AuthMethod,
                   api_version: ApiVersion = ApiVersion.V2, expected_version: int | None = None) -> CredentialView:
        """Switch the login method of a saved credential (the material must be there)."""
        version_rule(method, api_version)
        with self.db.session() as s:
            _u, company = load_subject(s, actor, user_id, company_id, write=True)
            row = credential_row(s, user_id, company_id, env)
            if row is None:
                raise ValidationFailed({"method": _("Save a token or a certificate first.")})
            if expected_version is not None and row.version != expected_version:
                raise ConflictError(_("Someone else changed this KSeF setting since you opened it; reload it."))
            if method is AuthMethod.TOKEN and row.token_blob is None:
                raise ValidationFailed({"method": _("No KSeF token is saved for this environment.")})
            if method is AuthMethod.CERTIFICATE and row.cert_blob is None:
                raise ValidationFailed({"method": _("No certificate is saved for this environment.")})
            before = audit_facts(row)
            if row.method != method.value or row.api_version != api_version.value:
                row.method, row.api_version = method.value, api_version.value
                row.version += 1
                row.updated_at = self.clock()
                audit.record(s, [audit.audit_values(actor, "credential.method", "credential", row.id,
                                                    credential_label(s, user_id, company_id, env), before, audit_facts(row))])
            return view_of(user_id, company_id, company.name, company.nip, company.ksef_enabled, env, row)

    def remove(self, actor: Actor, user_id: int, company_id: int, env: Environment) -> None:
        with self.db.session() as s:
            load_subject(s, actor, user_id, company_id, write=False)
            if not actor.is_admin:
                load_subject(s, actor, user_id, company_id, write=True)
            row = credential_row(s, user_id, company_id, env)
            if row is None:
                return
            audit.record(s, [audit.audit_values(actor, "credential.remove", "credential", row.id,
                                                credential_label(s, user_id, company_id, env), audit_facts(row), None)])
            s.delete(row)

    def open_material(self, row: KsefCredential, method: str | None = None):
        """The opened material of a credential row (a token as a Secret, or a certificate with its key)."""
        return open_material(self.vaults.vault(), row, method)

    # ---- KSeF operations ------------------------------------------------------------

    async def test_authorization(self, actor: Actor, user_id: int, company_id: int, env: Environment, *,
                                 progress: Progress | None = None, base_url: str | None = None) -> AuthOutcome:
        """Authorize with the saved credential and record the result (never changes the material).

        The database, the vault and the first import of the KSeF code run in a thread: a caller's
        event loop (the panel) is never held by them."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        method, nip, version, material = await asyncio.to_thread(
            self._saved_material, actor, user_id, company_id, env)
        context = Context.nip(nip)
        gw = await asyncio.to_thread(self.connections.gateway, env, base_url)
        try:
            async with gw:
                if method == AuthMethod.TOKEN.value:
                    session = await gw.authorize_with_token(context, material, progress=progress)
                else:
                    session = await gw.authorize_with_certificate(context, material, progress=progress)
        except KsefError as exc:
            outcome = dataclasses.replace(failure(env, method, exc), warnings=warning_texts(gw.warnings))
            await asyncio.to_thread(record_outcome, self.db, actor, user_id, company_id, env, version, outcome,
                                    self.clock())
            return outcome
        outcome = AuthOutcome(True, env, method, _("Authorized in KSeF {env}.").format(env=env.value),
                              reference_number=session.reference_number, valid_until=session.refresh_valid_until,
                              warnings=warning_texts(gw.warnings))
        await asyncio.to_thread(record_outcome, self.db, actor, user_id, company_id, env, version, outcome,
                                    self.clock())
        return outcome

    def _saved_material(self, actor: Actor, user_id: int, company_id: int,
                        env: Environment) -> tuple[str, str, int, Any]:
        """(method, NIP, version, opened material) of the saved credential a test uses."""
        with self.db.session() as s:
            _u, company = load_subject(s, actor, user_id, company_id, write=False)
            if not company.ksef_enabled:
                raise (ServiceError if actor.is_admin else PermissionDenied)(_("KSeF is switched off for {name} (NIP {nip}); switch it on in the company's Additional data first.").format(
                    name=company.name, nip=format_nip(company.nip)))
            row = credential_row(s, user_id, company_id, env)
            if row is None:
                raise ServiceError(_("Nothing is configured for {env} yet.").format(env=env.value))
            version_rule(AuthMethod(row.method), ApiVersion(row.api_version))
            return row.method, company.nip, row.version, self.open_material(row)

    async def authorize_certificate(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                                    files: CertificateFiles, *, progress: Progress | None = None,
                                    base_url: str | None = None, api_version: ApiVersion = ApiVersion.V2,
                                    expected_version: int | None = None) -> CredentialView:
        """"Perform certificate authorization": authorize with the NEW certificate, save it only on success."""
        credential = await asyncio.to_thread(self.load_certificate, files)  # a PKCS#12 key derivation, maybe
        return await self.authorize_and_store(actor, user_id, company_id, env, credential,
                                              progress=progress, base_url=base_url, api_version=api_version,
                                              expected_version=expected_version)

    async def authorize_and_store(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                                  credential: Credential, *, progress: Progress | None = None,
                                  base_url: str | None = None, api_version: ApiVersion = ApiVersion.V2,
                                  expected_version: int | None = None) -> CredentialView:
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        version_rule(AuthMethod.CERTIFICATE, api_version)
        nip = await asyncio.to_thread(self._company_nip, actor, user_id, company_id)
        try:
            async with await asyncio.to_thread(self.connections.gateway, env, base_url) as gw:
                session = await gw.authorize_with_certificate(Context.nip(nip), credential, progress=progress)
        except KsefError as exc:
            raise operation_error(exc) from None
        return await asyncio.to_thread(
            partial(self.store_certificate, actor, user_id, company_id, env, credential, api_version=api_version,
                    expected_version=expected_version, auth=session))

    def _company_nip(self, actor: Actor, user_id: int, company_id: int) -> str:
        """The NIP of a company whose KSeF settings ``actor`` may change for the user."""
        with self.db.session() as s:
            _u, company = load_subject(s, actor, user_id, company_id, write=True)
            return company.nip
