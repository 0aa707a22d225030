"""The vault as the KSeF services use it: the master key loaded once and checked against the database,
and the sealing and opening of one credential's material, bound to its user, company and environment."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.secret import Secret
from ksef_tui.errors import ConflictError, ServiceError
from ksef_tui.i18n import _
from ksef_tui.store.engine import Database
from ksef_tui.store.models import KsefCredential, VaultCheck

if TYPE_CHECKING:  # imported lazily at run time: start-up never loads KSeF code
    from ksef_tui.ksef.certificates import Credential
    from ksef_tui.vault.envelope import Vault


class VaultAccess:
    """Loads the master key once, checks it against the database, seals and opens."""

    def __init__(self, db: Database, key_path: Path | None = None) -> None:
        self.db = db
        self.key_path = key_path
        self._vault: Vault | None = None

    def check(self) -> None:
        """At start: if the database holds secrets, the key must be there and right."""
        row = self._check_row()
        if row is not None:
            self._load(row[1], create=False)

    def _check_row(self) -> Any:
        with self.db.engine.connect() as conn:
            return conn.execute(select(VaultCheck.key_id, VaultCheck.check).where(VaultCheck.id == 1)).first()

    def vault(self) -> Vault:
        """The vault of the master key the database is sealed with now: loaded again when the key was
        rotated since (``ksef-tui keys rotate`` in another process), so nothing is sealed or opened
        with a key that no longer counts."""
        row = self._check_row()
        if row is None:
            self._create()
        elif self._vault is None or self._vault.key.key_id_hex != row[0]:
            self._vault = None
            self._load(row[1], create=False)
        assert self._vault is not None
        return self._vault

    def hold(self, s: Any, vault: Vault) -> None:
        """In the session's transaction, before sealing with ``vault``: the database is still sealed with
        its key, and stays so until the commit (a compare-and-set on the check row: it takes the write
        lock, so a key rotation waits for this save or this save for the rotation). A rotation that came
        first is a conflict: nothing is saved, and the next attempt seals with the new key."""
        held = s.execute(update(VaultCheck).where(VaultCheck.id == 1, VaultCheck.key_id == vault.key.key_id_hex)
                         .values(key_id=VaultCheck.key_id))
        if held.rowcount != 1:
            self._vault = None
            raise ConflictError(_("The master key was changed meanwhile (ksef-tui keys rotate): nothing was "
                                  "saved. Try again."))

    def _load(self, check_blob: bytes, *, create: bool) -> None:
        from ksef_tui.vault.envelope import MASTER_KEY_ENV, Vault, VaultError, key_file_path, load_master_key

        vault = Vault(load_master_key(create=create, path=self.key_path))
        try:
            vault.verify_check(check_blob)
        except VaultError:
            import os

            from ksef_tui.vault.rotation import finish_interrupted_rotation

            path = self.key_path or key_file_path()
            if os.environ.get(MASTER_KEY_ENV):
                raise
            tried = vault.key.key_id
            # another process's rotation (`keys rotate`) may have committed since we read the check row
            # (then the key file we read may be its new key already): the check row as it is now
            row = self._check_row()
            fresh = row[1] if row is not None else check_blob
            # a rotation committed but its new key file is still staged: finish it; or another process's
            # rotation renamed it between our reading the check row and the key
            finish_interrupted_rotation(path, fresh)
            key = load_master_key(create=False, path=path)
            if key.key_id == tried and fresh == check_blob:  # nothing changed: it is the wrong key
                raise
            vault = Vault(key)
            vault.verify_check(fresh)
        self._vault = vault

    def _create(self) -> None:
        from ksef_tui.vault.envelope import Vault, load_master_key

        vault = Vault(load_master_key(create=True, path=self.key_path))
        with self.db.session() as s:
            if s.get(VaultCheck, 1) is None:
                s.add(VaultCheck(id=1, key_id=vault.key.key_id_hex, check=vault.make_check()))
        with self.db.engine.connect() as conn:
            check_blob = conn.execute(select(VaultCheck.check).where(VaultCheck.id == 1)).scalar_one()
        vault.verify_check(check_blob)  # another process may have created it first
        self._vault = vault

    def reset(self, vault: Vault) -> None:
        self._vault = vault


def credential_context(user_id: int, company_id: int, env: str, field: str) -> str:
    return f"ksef-credential:{user_id}:{company_id}:{env}:{field}"


def seal_certificate(vault: Vault, row: KsefCredential, credential: Credential) -> None:
    """Seal a certificate and its key into ``row`` (bound to its user, company and environment), with its facts."""
    facts = credential.facts
    env = row.environment
    row.cert_blob = vault.seal(credential.certificate_pem, credential_context(row.user_id, row.company_id, env, "certificate"))
    row.key_blob = vault.seal(credential.private_key_pem.reveal(), credential_context(row.user_id, row.company_id, env, "key"))
    row.cert_subject = facts.subject[:500]
    row.cert_identifier = facts.identifier
    row.cert_serial = facts.serial_number
    row.cert_valid_from = facts.valid_from
    row.cert_valid_to = facts.valid_to
    row.cert_fingerprint = facts.fingerprint_sha256
    row.cert_type = getattr(facts, "ksef_type", None)



def seal_token(vault: Vault, row: KsefCredential, token: str) -> None:
    row.token_blob = vault.seal(token.encode(), credential_context(row.user_id, row.company_id, row.environment, "token"))
    row.token_last4 = token[-4:]


def open_material(vault: Vault, row: KsefCredential, method: str | None = None) -> Any:
    """The opened material of ``row`` for ``method`` (default: the row's own): a token as a
    :class:`Secret`, or a certificate with its key."""
    from ksef_tui.ksef.certificates import load_credential

    method = method or row.method
    env = row.environment
    if method == AuthMethod.TOKEN.value:
        if row.token_blob is None:
            raise ServiceError(_("No KSeF token is saved for this environment."))
        return Secret(vault.open(row.token_blob, credential_context(row.user_id, row.company_id, env, "token")).decode())
    if row.cert_blob is None or row.key_blob is None:
        raise ServiceError(_("No certificate is saved for this environment."))
    cert = vault.open(row.cert_blob, credential_context(row.user_id, row.company_id, env, "certificate"))
    key = vault.open(row.key_blob, credential_context(row.user_id, row.company_id, env, "key"))
    return load_credential(cert_data=cert, key_data=key, strict=False)


def office_context(nip: str, env: str, field: str) -> str:
    """The sealing context of the office's own credential: bound to the office NIP and the environment."""
    return f"office-credential:{nip}:{env}:{field}"


def seal_office(vault: Vault, row: Any, *, token: str | None = None, credential: Credential | None = None) -> None:
    """Seal the office's token or certificate and key into ``row`` (an ``OfficeCredential``), with its facts."""
    if token is not None:
        row.token_blob = vault.seal(token.encode(), office_context(row.nip, row.environment, "token"))
        row.token_last4 = token[-4:]
    if credential is not None:
        facts = credential.facts
        row.cert_blob = vault.seal(credential.certificate_pem, office_context(row.nip, row.environment, "certificate"))
        row.key_blob = vault.seal(credential.private_key_pem.reveal(), office_context(row.nip, row.environment, "key"))
        row.cert_subject = facts.subject[:500]
        row.cert_identifier = facts.identifier
        row.cert_serial = facts.serial_number
        row.cert_valid_to = facts.valid_to
        row.cert_fingerprint = facts.fingerprint_sha256


def open_office(vault: Vault, row: Any) -> Any:
    """The office credential's material for its method: a token as a Secret, or a certificate with its key."""
    from ksef_tui.ksef.certificates import load_credential

    if row.method == AuthMethod.TOKEN.value:
        if row.token_blob is None:
            raise ServiceError(_("No KSeF token is saved for the office in this environment."))
        return Secret(vault.open(row.token_blob, office_context(row.nip, row.environment, "token")).decode())
    if row.cert_blob is None or row.key_blob is None:
        raise ServiceError(_("No certificate is saved for the office in this environment."))
    cert = vault.open(row.cert_blob, office_context(row.nip, row.environment, "certificate"))
    key = vault.open(row.key_blob, office_context(row.nip, row.environment, "key"))
    return load_credential(cert_data=cert, key_data=key, strict=False)
