"""Profil Zaufany (or any qualified signature): the three steps of the seed's token road.

Step 1 writes a fresh challenge as an unsigned ``AuthTokenRequest`` file; step 2 happens outside
(the user signs the file with Profil Zaufany or a qualified signature); step 3 checks the signed
file locally and sends it byte for byte: "Get access token" makes a new KSeF token, "Enroll a KSeF
certificate instead" a certificate. Everything is saved only once KSeF has said yes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ksef_tui.domain.environments import Environment
from ksef_tui.errors import ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor
from ksef_tui.services.ksef.access import certificate_name, load_subject, operation_error
from ksef_tui.services.ksef.credentials import CredentialService
from ksef_tui.services.ksef.offline import AUTHENTICATION, OFFLINE, certificate_types, store_typed_certificate
from ksef_tui.services.ksef.views import (
    DEFAULT_PERMISSIONS,
    CertificateFiles,
    CredentialView,
    KsefOperationError,
    PreparedFile,
    SignedFileCheck,
)
from ksef_tui.store.engine import Database

Progress = Callable[[str], None]


class ProfilZaufanyService:
    """The async steps keep the database, files and crypto off the caller's event loop (threads)."""

    def __init__(self, db: Database, credentials: CredentialService) -> None:
        self.db = db
        self.credentials = credentials

    def _subject(self, actor: Actor, user_id: int, company_id: int) -> tuple[str, str]:
        with self.db.session() as s:
            user, company = load_subject(s, actor, user_id, company_id, write=True)
            return company.nip, user.login

    async def prepare_signed_file(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                                  out_path: Path, *, base_url: str | None = None) -> PreparedFile:
        """Profil Zaufany step 1: a fresh challenge written as an unsigned AuthTokenRequest file."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        nip, _login = await asyncio.to_thread(self._subject, actor, user_id, company_id)
        try:
            async with await asyncio.to_thread(self.credentials.connections.gateway, env, base_url) as gw:
                req = await gw.prepare_signed_file_request(Context.nip(nip))
        except KsefError as exc:
            raise operation_error(exc) from None
        return await asyncio.to_thread(self._write_prepared, actor, user_id, company_id, env, nip, req, out_path)

    def _write_prepared(self, actor: Actor, user_id: int, company_id: int, env: Environment, nip: str, req: Any,
                        out_path: Path) -> PreparedFile:
        from ksef_tui.files import FileRefused, write_atomic

        out_path = Path(out_path).expanduser()
        if out_path.is_dir():
            # a name nobody can guess in advance (the challenge's random part), never an existing file
            out_path = out_path / f"AuthTokenRequest-{nip}-{env.value}-{req.challenge.challenge[-12:]}.xml"
        try:
            # 0600, whole or not at all, never written through a symlink someone left at that name
            write_atomic(out_path, req.xml)
        except FileRefused as exc:
            raise ValidationFailed({"path": str(exc)}) from None
        with self.db.session() as s:
            audit.record(s, [audit.audit_values(actor, "credential.pz_file", "company", company_id, nip, None,
                                                {"environment": env.value, "user_id": user_id,
                                                 "challenge": req.challenge.challenge})])
        return PreparedFile(out_path, req.challenge.challenge, req.expires_at, nip, env)

    @staticmethod
    def check_signed_file(signed: bytes, prepared: PreparedFile | None = None, *,
                          nip: str | None = None) -> SignedFileCheck:
        """Profil Zaufany step 3: the local checks the gateway makes before sending (no network).

        The same checks run again when the file is sent; this only lets the UI say at once
        that the file is not signed, is for another challenge or company, or has expired.
        """
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context
        from ksef_tui.ksef.signedfile import check_signed_file

        nip = nip or (prepared.nip if prepared is not None else None)
        try:
            facts = check_signed_file(signed, expected_challenge=prepared.challenge if prepared else None,
                                      expires_at=prepared.expires_at if prepared else None,
                                      expected_context=Context.nip(nip) if nip else None)
        except KsefError as exc:
            raise operation_error(exc) from None
        return SignedFileCheck(facts.challenge, str(facts.context), facts.signatures)

    async def token_from_signed_file(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                                     signed: bytes, *, expected_challenge: str | None = None,
                                     permissions: tuple[str, ...] = DEFAULT_PERMISSIONS,
                                     description: str | None = None, progress: Progress | None = None,
                                     base_url: str | None = None) -> CredentialView:
        """"Get access token": signed file → authorize → redeem → new KSeF token → Active → saved."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        nip, login = await asyncio.to_thread(self._subject, actor, user_id, company_id)
        description = description or f"ksef-tui {login} {nip} {env.value}"
        try:
            async with await asyncio.to_thread(self.credentials.connections.gateway, env, base_url) as gw:
                session = await gw.authorize_with_signed_file(signed, expected_challenge=expected_challenge,
                                                              expected_context=Context.nip(nip), progress=progress)
                generated = await gw.generate_token(session, list(permissions), description[:256])
                if progress:
                    progress("token")
                info = await gw.wait_token_active(session, generated.reference_number)
                if progress:
                    progress("active")
        except KsefError as exc:
            raise operation_error(exc) from None
        return await asyncio.to_thread(partial(
            self.credentials.save_token, actor, user_id, company_id, env, generated.token.reveal(),
            reference=generated.reference_number, permissions=tuple(info.permissions or permissions),
            status=info.status, action="credential.token_obtained"))

    async def certificate_from_signed_file(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                                           signed: bytes, *, expected_challenge: str | None = None,
                                           name: str | None = None, progress: Progress | None = None,
                                           base_url: str | None = None,
                                           types: Sequence[str] = (AUTHENTICATION,)) -> CredentialView:
        """"Enroll a KSeF certificate instead": signed file → enroll each type in that one session →
        retrieve. An Offline certificate is stored as it is (it never logs in); an Authentication one is
        tested and saved as the login (Certificate) only when that test passes."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        kinds = certificate_types(types)
        nip, login = await asyncio.to_thread(self._subject, actor, user_id, company_id)
        cert_name = certificate_name(name or f"ksef-tui {login}")
        issued: dict[str, tuple[bytes, bytes]] = {}
        try:
            async with await asyncio.to_thread(self.credentials.connections.gateway, env, base_url) as gw:
                session = await gw.authorize_with_signed_file(signed, expected_challenge=expected_challenge,
                                                              expected_context=Context.nip(nip), progress=progress)
                for kind in kinds:
                    kind_name = cert_name if kind == AUTHENTICATION else certificate_name(f"{cert_name} offline")
                    cert, key_pem = await gw.request_certificate(session, kind_name, certificate_type=kind)
                    issued[kind] = (cert.pem, key_pem.reveal())
                if progress:
                    progress("enrolled")
        except KsefError as exc:
            if not issued:
                raise operation_error(exc) from None
            kept = await asyncio.to_thread(self._store_offline, actor, user_id, company_id, env, issued, cert_name)
            raise KsefOperationError(str(exc) + (" " + kept if kept else ""), getattr(exc, "hint", "") or "",
                                     str(getattr(exc, "code", "") or "") or None) from None
        await asyncio.to_thread(self._store_offline, actor, user_id, company_id, env, issued, cert_name)
        if AUTHENTICATION not in issued:
            return await asyncio.to_thread(self.credentials.get, actor, user_id, company_id, env)
        pem, key = issued[AUTHENTICATION]
        return await self.credentials.authorize_certificate(actor, user_id, company_id, env,
                                                            CertificateFiles(cert_data=pem, key_data=key),
                                                            progress=progress, base_url=base_url)

    def _store_offline(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                       issued: dict[str, tuple[bytes, bytes]], name: str) -> str:
        """Keep an issued Offline certificate sealed (whatever happens to the rest); what was kept, in words."""
        if OFFLINE not in issued:
            return ""
        pem, key = issued[OFFLINE]
        credential = self.credentials.load_certificate(CertificateFiles(cert_data=pem, key_data=key), for_login=False)
        with self.db.session() as s:
            view = store_typed_certificate(s, self.credentials.vaults.vault(), actor, user_id, company_id, env,
                                           credential, OFFLINE, name=certificate_name(f"{name} offline"),
                                           now=self.credentials.clock(), road="pz")
        return _("The Offline certificate {serial} was stored.").format(serial=view.serial)

