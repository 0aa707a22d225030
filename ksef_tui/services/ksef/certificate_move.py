"""The move from KSeF tokens (whose end date is the office's token policy) to KSeF certificates, for many users at once.

Enrollment needs a session opened by a XAdES signature (PROTOCOL.md §6), so each row takes one
of two roads:

* **direct**: the row has a certificate (qualified, or a KSeF certificate about to expire):
  authorize with it, enroll;
* **Profil Zaufany**: the row has only a token: a fresh challenge is written as an unsigned
  ``AuthTokenRequest`` into a folder (step 1); the user signs it at gov.pl and saves the signed
  file into the same folder; :meth:`CertificateMove.watch` picks up each signed file as it
  arrives (matched by its challenge, whatever its name) while the challenge lives (10 min).

Then, for both: enroll (new key and CSR made here, DN copied exactly from
``/certificates/enrollments/data``) → wait → retrieve → **store** the certificate and key sealed
(the login method stays as it was) → **test** authorization with the new certificate → only
after that test passes **switch** the login method to Certificate. Every step is audited.

:meth:`CertificateMove.revoke_token` then revokes, in KSeF, the token of a row already moved
(in a session opened by that token: KSeF lets a token revoke itself) and removes it here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.errors import ConflictError, ServiceError
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.ksef.access import audit_facts, certificate_name, credential_label, load_subject
from ksef_tui.services.ksef.bulk import (
    CANCELLED,
    ERROR,
    FAILED,
    OK,
    SKIPPED,
    BulkProgress,
    BulkReport,
    KsefBulk,
    NothingToDo,
    RowResult,
    Target,
    result_from_error,
    run_bulk,
)
from ksef_tui.services.ksef.offline import (
    AUTHENTICATION,
    OFFLINE,
    certificate_of,
    certificate_types,
    store_typed_certificate,
)
from ksef_tui.services.ksef.vault_access import seal_certificate
from ksef_tui.services.ksef.views import CertificateFiles
from ksef_tui.store.models import KsefCredential

if TYPE_CHECKING:
    from ksef_tui.ksef.models import AuthSession, UnsignedRequest

WATCH_POLL_S = 0.5
WATCH_CONCURRENCY = 4


@dataclass
class PendingFile:
    """An unsigned AuthTokenRequest waiting for its signed twin."""

    target: Target
    path: Path
    request: UnsignedRequest
    nip: str

    @property
    def challenge(self) -> str:
        return self.request.challenge.challenge

    @property
    def expires_at(self) -> dt.datetime:
        return self.request.expires_at


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:40] or "user"


class CertificateMove:
    """Token → KSeF certificate, row by row, over a :class:`KsefBulk` (its gateways and limits)."""

    def __init__(self, bulk: KsefBulk, *, now: Callable[[], dt.datetime] | None = None,
                 types: Sequence[str] = (AUTHENTICATION,)) -> None:
        self.bulk = bulk
        self.credentials = bulk.credentials
        self.db = bulk.db
        self.actor = bulk.actor
        self._now = now or bulk.credentials.clock
        #: the KSeF certificate types each row gets (Authentication: the login; Offline: for offline invoices)
        self.types = certificate_types(types)

    # ------------------------------------------------------------------ planning

    def road(self, target: Target) -> str:
        """"direct", "pz" (Profil Zaufany) or raises :class:`NothingToDo` (the rule, with the types asked
        for: :func:`.plans.enrollment_road`)."""
        from ksef_tui.services.ksef.plans import SKIP, enrollment_road

        with self.db.session() as s:
            row = self._row(s, target)
            offline = certificate_of(s, target.user_id, target.company_id, target.environment, OFFLINE)
            road, reason = enrollment_road(row, self._now(), self.types, offline)
        if road == SKIP:
            raise NothingToDo(reason)
        return road

    def needed(self, target: Target) -> tuple[str, ...]:
        """The requested types this row still needs (:func:`.plans.needed_types`)."""
        from ksef_tui.services.ksef.plans import needed_types

        with self.db.session() as s:
            row = self._row(s, target)
            offline = certificate_of(s, target.user_id, target.company_id, target.environment, OFFLINE)
            return needed_types(row, offline, self._now(), self.types)

    # ------------------------------------------------------------------ the common tail

    async def _finish(self, target: Target, nip: str, session: AuthSession, version: int | None,
                      road: str) -> RowResult:
        """Each needed type in one session: an Offline certificate is enrolled and stored; then the
        Authentication one: enroll → retrieve → store sealed → test the new certificate → switch."""
        from ksef_tui.ksef.errors import KsefError

        needed = self.needed(target)
        notes: list[str] = []
        if OFFLINE in needed:
            try:
                notes.append(await self._offline(target, nip, session, road))
            except KsefError as exc:
                r = result_from_error(target, exc, prefix=_("Offline certificate: "))
                if AUTHENTICATION not in needed:
                    return r
                notes.append(r.message)
            except ServiceError as exc:
                notes.append(_("Offline certificate issued but not stored: {reason}").format(reason=exc))
        if AUTHENTICATION not in needed:
            return RowResult(target, OK, " ".join(notes))
        result = await self._authentication(target, nip, session, version, road)
        if notes:
            return replace(result, message=" ".join([result.message, *notes]))
        return result

    async def _offline(self, target: Target, nip: str, session: AuthSession, road: str) -> str:
        """Enroll an Offline certificate in ``session`` and keep it sealed (it never logs in)."""
        gw = self.bulk.gateway(target.environment)
        name = certificate_name(f"ksef-tui offline {self._login(target)} {nip}")
        cert, key_pem = await gw.request_certificate(session, name, certificate_type=OFFLINE)
        credential = self.credentials.load_certificate(CertificateFiles(cert_data=cert.pem, key_data=key_pem.reveal()),
                                                       for_login=False)
        now = self._now()
        with self.db.session() as s:
            view = store_typed_certificate(s, self.credentials.vaults.vault(), self.actor, target.user_id,
                                           target.company_id, target.environment, credential, OFFLINE, name=name,
                                           now=now, road=road)
        return _("Offline certificate {serial} (valid until {when}) stored.").format(
            serial=view.serial, when=view.valid_to.strftime("%Y-%m-%d") if view.valid_to else "?")

    async def _authentication(self, target: Target, nip: str, session: AuthSession, version: int | None,
                              road: str) -> RowResult:
        from ksef_tui.ksef.errors import KsefError

        gw = self.bulk.gateway(target.environment)
        login = self._login(target)
        name = certificate_name(f"ksef-tui {login} {nip}")
        try:
            cert, key_pem = await gw.request_certificate(session, name)
        except KsefError as exc:
            return result_from_error(target, exc, prefix=_("Enrollment: "))
        credential = self.credentials.load_certificate(CertificateFiles(cert_data=cert.pem, key_data=key_pem.reveal()))
        serial = credential.facts.serial_number
        new_session: AuthSession | None = None
        if self._logs_in_with_certificate(target):
            # a renewal: the certificate in use keeps working unless the new one passes its test,
            # and that test (before storing) is the one the switch below relies on
            trial = self.bulk.load(target)
            trial.certificate = credential
            try:
                new_session = await self.bulk.authorize(target, trial, with_=AuthMethod.CERTIFICATE.value)
            except KsefError as exc:
                r = result_from_error(target, exc, prefix=_("Test with the new certificate: "))
                return RowResult(target, r.status, r.message + " " + _(
                    "The new certificate {serial} was not stored; the one in use is unchanged.").format(serial=serial),
                    r.hint, r.code, detail=serial)
        try:
            stored_version = self._store(target, credential, version, road)
        except ServiceError as exc:
            return RowResult(target, FAILED, _("KSeF certificate {serial} was issued but not stored: {reason} "
                                               "Revoke it in KSeF or re-run.").format(serial=serial, reason=exc),
                             detail=serial)
        if new_session is None:  # a move from a token: the new certificate is tested once stored
            loaded = self.bulk.load(target)
            loaded.certificate = credential
            try:
                new_session = await self.bulk.authorize(target, loaded, with_=AuthMethod.CERTIFICATE.value)
            except KsefError as exc:
                r = result_from_error(target, exc, prefix=_("Test with the new certificate: "))
                return RowResult(target, r.status, r.message + " " + _(
                    "The certificate {serial} is stored; the login method was not changed.").format(serial=serial),
                    r.hint, r.code, detail=serial)
        try:
            self._switch(target, stored_version, new_session)
        except ServiceError as exc:
            return RowResult(target, FAILED, _("Certificate {serial} stored and tested, but the login method "
                                               "was not switched: {reason}").format(serial=serial, reason=exc),
                             detail=serial)
        valid_to = credential.facts.valid_to
        return RowResult(target, OK, _("KSeF certificate {serial} (valid until {when}) enrolled, stored and tested; "
                                       "login switched to Certificate.").format(
                                           serial=serial, when=valid_to.strftime("%Y-%m-%d") if valid_to else "?"),
                         reference=new_session.reference_number, detail=serial)

    # ------------------------------------------------------------------ direct road

    async def enroll_direct(self, target: Target) -> RowResult:
        from ksef_tui.ksef.errors import KsefError

        if self.road(target) != "direct":
            raise NothingToDo(_("No certificate to open the enrollment session with; use Profil Zaufany."))
        loaded = self.bulk.load(target)
        try:
            session = await self.bulk.authorize(target, loaded, with_=AuthMethod.CERTIFICATE.value)
        except KsefError as exc:
            return result_from_error(target, exc, prefix=_("Authorization with the current certificate: "))
        return await self._finish(target, loaded.nip, session, loaded.version, "direct")

    # ------------------------------------------------------------------ Profil Zaufany road

    async def prepare_file(self, target: Target, folder: Path) -> PendingFile:
        """Step 1: a fresh challenge written as an unsigned AuthTokenRequest into ``folder``."""
        from ksef_tui.ksef.models import Context

        nip, login = self._nip(target), self._login(target)
        req = await self.bulk.gateway(target.environment).prepare_signed_file_request(Context.nip(nip))
        from ksef_tui.files import private_folder, write_atomic

        private_folder(folder, tighten=False)
        path = folder / f"AuthTokenRequest-{target.environment.value}-{nip}-{_slug(login)}.xml"
        # whole or not at all (the user, or gov.pl, may open it at once), 0600, never through a symlink
        write_atomic(path, req.xml)
        with self.db.session() as s:
            audit.record(s, [audit.audit_values(self.actor, "credential.pz_file", "company", target.company_id, nip,
                                                None, {"environment": target.environment.value,
                                                       "user_id": target.user_id,
                                                       "challenge": req.challenge.challenge,
                                                       "purpose": "certificate enrollment"})])
        return PendingFile(target, path, req, nip)

    async def from_signed_file(self, pending: PendingFile, data: bytes) -> RowResult:
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        target = pending.target
        gw = self.bulk.gateway(target.environment)
        try:
            session = await gw.authorize_with_signed_file(data, expected_challenge=pending.request.challenge,
                                                          expected_context=Context.nip(pending.nip))
        except KsefError as exc:
            return result_from_error(target, exc, prefix=_("Signed file: "))
        version = self._version(target)
        return await self._finish(target, pending.nip, session, version, "pz")

    async def watch(self, folder: Path, pending: Sequence[PendingFile], *, cancel: threading.Event | None = None,
                    on_result: Callable[[RowResult], None] | None = None, poll_s: float = WATCH_POLL_S,
                    concurrency: int = WATCH_CONCURRENCY) -> list[RowResult]:
        """Process each signed file as it arrives in ``folder``, until every pending row has a result
        (done, failed, or its challenge expired) or ``cancel`` is set."""
        from ksef_tui.files import FileRefused, read_limited
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.signedfile import MAX_SIGNED_FILE_BYTES, check_signed_file

        cancel = cancel or threading.Event()
        waiting = {p.challenge: p for p in pending}
        # the prepared files are read too (once per version): a signed file saved over its unsigned
        # original, under the same name, is picked up like any other
        seen: set[tuple[str, int, int, int]] = set()
        results: dict[str, RowResult] = {}
        slots = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task] = set()

        def finish(challenge: str, result: RowResult) -> None:
            results[challenge] = result
            if on_result is not None:
                on_result(result)

        async def process(p: PendingFile, data: bytes) -> None:
            async with slots:
                try:
                    result = await self.from_signed_file(p, data)
                except ServiceError as exc:
                    result = RowResult(p.target, SKIPPED if isinstance(exc, NothingToDo) else FAILED, str(exc))
                except asyncio.CancelledError:
                    finish(p.challenge, RowResult(p.target, CANCELLED, _("Stopped before KSeF answered; nothing was saved.")))
                    raise
                except Exception as exc:
                    result = RowResult(p.target, ERROR, f"{type(exc).__name__}: {exc}")
            finish(p.challenge, result)

        while waiting or tasks:
            if cancel.is_set():
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                break
            for path in sorted(folder.glob("*.xml")):
                try:
                    st = path.stat()
                except OSError:
                    continue
                # the inode too: a file replaced by a rename within the same clock tick is a new file
                mark = (path.name, st.st_ino, st.st_mtime_ns, st.st_size)
                if mark in seen:
                    continue
                seen.add(mark)
                # a FIFO would block the watcher, /dev/zero never ends, a huge file is no signed request:
                # regular files of a signed file's size only, refused at once
                try:
                    data = read_limited(path, limit=MAX_SIGNED_FILE_BYTES)
                except FileRefused:
                    continue
                if b"Signature" not in data:
                    continue
                try:
                    facts = check_signed_file(data)
                except KsefError:
                    continue  # not (yet) a complete signed AuthTokenRequest; a later write is looked at again
                p = waiting.pop(facts.challenge, None)
                if p is None:
                    continue
                task = asyncio.create_task(process(p, data))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            now = self._now()
            for challenge, p in list(waiting.items()):
                if p.expires_at <= now:
                    del waiting[challenge]
                    finish(challenge, RowResult(p.target, FAILED, _(
                        "No signed file arrived before the challenge expired at {when}; re-run to prepare a new "
                        "file.").format(when=p.expires_at.astimezone().strftime("%H:%M")), code="21111"))
            if waiting or tasks:
                await asyncio.sleep(poll_s)
        for challenge, p in waiting.items():
            if challenge not in results:
                finish(challenge, RowResult(p.target, CANCELLED, _("Not run (cancelled); the file was not signed.")))
        return [results[p.challenge] for p in pending if p.challenge in results]

    # ------------------------------------------------------------------ the whole enrollment

    async def enroll(self, targets: Sequence[Target], folder: Path, *, cancel: threading.Event | None = None,
                     on_progress: Callable[[BulkProgress], None] | None = None,
                     on_files: Callable[[list[PendingFile]], None] | None = None,
                     concurrency: int = 8, poll_s: float = WATCH_POLL_S) -> BulkReport:
        """Both roads for ``targets``: direct rows first, then Profil Zaufany files and the watch."""
        cancel = cancel or threading.Event()
        started = time.monotonic()
        results: dict[tuple, RowResult] = {}
        direct: list[Target] = []
        pz: list[Target] = []
        for t in targets:
            try:
                (direct if self.road(t) == "direct" else pz).append(t)
            except NothingToDo as exc:
                results[t.key] = RowResult(t, SKIPPED, str(exc))
        total = len(targets)

        def progress(last: RowResult | None) -> None:
            if on_progress is None:
                return
            counts = {s: 0 for s in (OK, FAILED, ERROR, SKIPPED, CANCELLED)}
            for r in results.values():
                counts[r.status] += 1
            elapsed = time.monotonic() - started
            done = len(results)
            on_progress(BulkProgress(done, total, counts, elapsed,
                                     elapsed / done * (total - done) if done else None, last))

        def add(r: RowResult) -> None:
            results[r.target.key] = r
            progress(r)

        if direct:
            await run_bulk("enroll", direct, self.enroll_direct, concurrency=concurrency, cancel=cancel,
                           on_progress=lambda p: add(p.last) if p.last is not None else None)
        pending: list[PendingFile] = []
        if pz and not cancel.is_set():
            prepared = await run_bulk("prepare", pz, lambda t: self._prepare_row(t, folder, pending),
                                      concurrency=concurrency, cancel=cancel)
            for r in prepared.results:
                if r.status != OK:
                    add(r)
            if on_files is not None:
                on_files(list(pending))
            await self.watch(folder, pending, cancel=cancel, on_result=add, poll_s=poll_s)
        final = [results.get(t.key) or RowResult(t, CANCELLED, _("Not run (cancelled).")) for t in targets]
        return BulkReport("enroll", final, cancel.is_set(), time.monotonic() - started)

    async def _prepare_row(self, target: Target, folder: Path, sink: list[PendingFile]) -> RowResult:
        from ksef_tui.ksef.errors import KsefError

        try:
            sink.append(await self.prepare_file(target, folder))
        except KsefError as exc:
            return result_from_error(target, exc, prefix=_("Profil Zaufany file: "))
        except OSError as exc:
            return RowResult(target, FAILED, _("Cannot write into {folder}: {reason}").format(
                folder=folder, reason=exc.strerror))
        return RowResult(target, OK, _("file prepared"))

    # ------------------------------------------------------------------ revoking moved tokens

    async def revoke_token(self, target: Target) -> RowResult:
        """Revoke in KSeF the token of a row that already logs in with a certificate; remove it here."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.services.ksef.plans import revocation_check

        with self.db.session() as s:
            reason = revocation_check(self._row(s, target))
        if reason:
            raise NothingToDo(reason)
        loaded = self.bulk.load(target)
        if loaded.token is None:  # removed meanwhile
            raise NothingToDo(_("No KSeF token is kept for this row."))
        reference = loaded.token_reference
        if not reference:
            from ksef_tui.domain.token import parse_token

            reference = parse_token(loaded.token.reveal()).reference_number
        try:
            session = await self.bulk.authorize(target, loaded, with_=AuthMethod.TOKEN.value)
            await self.bulk.gateway(target.environment).revoke_token(session, reference)
        except KsefError as exc:
            from ksef_tui.services.ksef.bulk import _says_revoked

            if _says_revoked(exc):
                self._drop_token(target, loaded.version, reference, already=True)
                return RowResult(target, OK, _("The token was already revoked in KSeF; removed here."),
                                 detail=reference)
            return result_from_error(target, exc, prefix=_("Token revocation: "))
        try:
            self._drop_token(target, loaded.version, reference, already=False)
        except ServiceError as exc:
            return RowResult(target, FAILED, _("Revoked in KSeF, but not removed here: {reason}").format(reason=exc),
                             detail=reference)
        return RowResult(target, OK, _("Token {reference} revoked in KSeF and removed here.").format(
            reference=reference), detail=reference)

    # ------------------------------------------------------------------ storage

    def _row(self, s, target: Target) -> KsefCredential | None:
        return s.scalars(select(KsefCredential).where(
            KsefCredential.user_id == target.user_id, KsefCredential.company_id == target.company_id,
            KsefCredential.environment == target.environment.value)).first()

    def _nip(self, target: Target) -> str:
        from ksef_tui.store.models import Company

        with self.db.session() as s:
            company = s.get(Company, target.company_id)
            if company is None:
                raise NothingToDo(_("The company no longer exists."))
            if not company.ksef_enabled:
                raise NothingToDo(_("KSeF is switched off for the company."))
            return company.nip

    def _login(self, target: Target) -> str:
        from ksef_tui.store.models import User

        with self.db.session() as s:
            user = s.get(User, target.user_id)
            if user is None:
                raise NothingToDo(_("The user no longer exists."))
            return user.login

    def _version(self, target: Target) -> int | None:
        with self.db.session() as s:
            row = self._row(s, target)
            return None if row is None else row.version

    def _logs_in_with_certificate(self, target: Target) -> bool:
        with self.db.session() as s:
            row = self._row(s, target)
            return row is not None and row.method == AuthMethod.CERTIFICATE.value and row.cert_blob is not None

    def _store(self, target: Target, credential: Any, expected_version: int | None, road: str) -> int:
        """Seal the new certificate and key into the row; the login method stays as it is (a new row,
        for a user who had nothing, starts as Certificate only after the test: see :meth:`_switch`)."""
        from ksef_tui.ksef.certificates import check_usable

        now = self._now()
        check_usable(credential.facts, now)
        vault = self.credentials.vaults.vault()
        env = target.environment.value
        with self.db.session() as s:
            self.credentials.vaults.hold(s, vault)  # sealed with the key the database holds, until the commit
            load_subject(s, self.actor, target.user_id, target.company_id, write=True)
            row = self._row(s, target)
            if row is not None and expected_version is not None and row.version != expected_version:
                raise ConflictError(_("Someone else changed this KSeF setting meanwhile."))
            before = audit_facts(row)
            if row is None:
                # nothing to keep as the login method: the row is created, but is switched on only after the test
                row = KsefCredential(user_id=target.user_id, company_id=target.company_id, environment=env,
                                     method=AuthMethod.CERTIFICATE.value, created_at=now, last_auth_ok=None)
                s.add(row)
            else:
                row.version += 1
            seal_certificate(vault, row, credential)
            row.updated_at = now
            s.flush()
            after = audit_facts(row)
            assert after is not None
            after["road"] = road
            audit.record(s, [audit.audit_values(self.actor, "credential.ksef_certificate_enrolled", "credential", row.id,
                                                credential_label(s, target.user_id, target.company_id, env),
                                                before, after)])
            return row.version

    def _switch(self, target: Target, expected_version: int, session: AuthSession) -> None:
        """The new certificate passed its test: record that authorization and log in with it from now on."""
        now = self._now()
        with self.db.session() as s:
            row = self._row(s, target)
            if row is None or row.version != expected_version:
                raise ConflictError(_("Someone else changed this KSeF setting meanwhile."))
            before = audit_facts(row)
            row.method = AuthMethod.CERTIFICATE.value
            row.api_version = "2.0"
            row.last_auth_at = now
            row.last_auth_ok = True
            row.last_auth_method = AuthMethod.CERTIFICATE.value
            row.last_auth_reference = session.reference_number
            row.last_auth_valid_until = session.refresh_valid_until
            row.last_auth_error = None
            row.version += 1
            row.updated_at = now
            audit.record(s, [audit.audit_values(self.actor, "credential.method", "credential", row.id,
                                                credential_label(s, row.user_id, row.company_id, row.environment),
                                                before, {**(audit_facts(row) or {}),
                                                         "tested_reference": session.reference_number})])

    def _drop_token(self, target: Target, expected_version: int, reference: str, *, already: bool) -> None:
        now = self._now()
        with self.db.session() as s:
            row = self._row(s, target)
            if row is None or row.version != expected_version:
                raise ConflictError(_("Someone else changed this KSeF setting meanwhile."))
            before = audit_facts(row)
            row.token_blob = None
            row.token_status = "Revoked"
            row.version += 1
            row.updated_at = now
            audit.record(s, [audit.audit_values(self.actor, "credential.token_revoked", "credential", row.id,
                                                credential_label(s, row.user_id, row.company_id, row.environment),
                                                before, {**(audit_facts(row) or {}), "token_reference": reference,
                                                         "already_revoked_in_ksef": already})])
