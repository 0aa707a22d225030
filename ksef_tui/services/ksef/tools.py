"""Use cases behind the low-level ``ksef-tui ksef`` commands.

Load credential files, authorize, write the unsigned AuthTokenRequest for Profil Zaufany,
generate a KSeF token into a file, make a self-signed TEST certificate. Async functions
(the CLI runs them with ``asyncio.run``); nothing here prints.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ksef_tui.domain.secret import Secret
from ksef_tui.errors import ServiceError
from ksef_tui.ksef.errors import KsefInputError

if TYPE_CHECKING:  # pragma: no cover
    from ksef_tui.ksef.certificates import Credential, CredentialFacts
    from ksef_tui.ksef.endpoints import Endpoint
    from ksef_tui.ksef.gateway import GatewayPolicy
    from ksef_tui.ksef.models import AuthSession, Challenge, Context

MAX_TOKEN_FILE_BYTES = 4096
SMALL_STATE_BYTES = 1024 * 1024
MAX_SIGNED_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TokenCredentials:
    token: Secret[str] = field(repr=False)


@dataclass(frozen=True)
class CertificateCredentials:
    credential: Credential


@dataclass(frozen=True)
class SignedFileCredentials:
    data: bytes
    path: str = ""


AuthCredentials = TokenCredentials | CertificateCredentials | SignedFileCredentials


# ----------------------------------------------------------------------- inputs


def parse_nip(value: str) -> str:
    from ksef_tui.domain.nip import InvalidNip, normalize_nip

    try:
        return normalize_nip(value)
    except InvalidNip as exc:
        reasons = {"empty": "is empty", "letters": "must contain digits only", "length": "must have 10 digits",
                   "pattern": "does not match the NIP pattern", "checksum": "has a wrong check digit"}
        raise KsefInputError(f"The NIP {value!r} {reasons.get(exc.reason, 'is invalid')}.", code="nip") from None


def endpoint_from(env: str | None, base_url: str | None) -> Endpoint:
    from ksef_tui.ksef.endpoints import Endpoint

    return Endpoint.parse(env, base_url)


def _read_small(path: str | Path, limit: int, what: str) -> bytes:
    """A regular file of at most ``limit`` bytes: a FIFO, a device (/dev/zero) or a huge file is refused at once."""
    from ksef_tui.files import FileRefused, read_limited

    try:
        return read_limited(path, limit=limit, what=f"{what} file")
    except FileRefused as exc:
        raise KsefInputError(str(exc), code="too-large" if exc.reason == "too-large" else "bad-file") from None


def load_token_file(path: str | Path) -> Secret[str]:
    """A KSeF token file: the first non-empty line."""
    data = _read_small(path, MAX_TOKEN_FILE_BYTES, "token")
    try:
        lines = [ln.strip() for ln in data.decode("utf-8-sig").splitlines() if ln.strip()]
    except UnicodeDecodeError:
        raise KsefInputError(f"The token file {path} is not text.", code="bad-file") from None
    if not lines:
        raise KsefInputError(f"The token file {path} is empty.", code="bad-file")
    return Secret(lines[0])


def load_certificate_credentials(
    *,
    cert: str | None = None,
    key: str | None = None,
    pkcs12: str | None = None,
    password_file: str | None = None,
) -> CertificateCredentials:
    from ksef_tui.ksef.certificates import load_credential, read_password

    password = read_password(password_file) if password_file else None
    if pkcs12:
        return CertificateCredentials(load_credential(pkcs12_file=pkcs12, password=password))
    if not cert:
        raise KsefInputError("Give --cert with --key, or --pkcs12.", code="bad-file")
    return CertificateCredentials(load_credential(cert_file=cert, key_file=key, password=password))


def load_signed_file(path: str | Path) -> SignedFileCredentials:
    return SignedFileCredentials(_read_small(path, MAX_SIGNED_FILE_BYTES, "signed"), str(path))


def inspect_certificate(*, cert: str | None = None, key: str | None = None, pkcs12: str | None = None,
                        password_file: str | None = None) -> CredentialFacts:
    from ksef_tui.ksef.certificates import inspect_credential, read_password

    password = read_password(password_file) if password_file else None
    if pkcs12:
        return inspect_credential(pkcs12_file=pkcs12, password=password)
    return inspect_credential(cert_file=cert, key_file=key, password=password)


# ---------------------------------------------------------------------- outputs


def write_private_file(path: str | Path, data: bytes, *, force: bool = False) -> Path:
    """Write ``data`` with mode 0600, atomically (never briefly world-readable, never through a symlink,
    never half-written); an existing file is replaced only with ``force``."""
    from ksef_tui.files import FileRefused, write_atomic

    p = Path(path)
    if os.path.lexists(p) and not force:
        raise KsefInputError(f"{p} already exists; remove it or choose another file.", code="bad-file")
    try:
        return write_atomic(p, data, exclusive=not force)
    except FileRefused as exc:
        raise KsefInputError(str(exc), code="bad-file") from None


@dataclass(frozen=True)
class TestCertFiles:
    cert_path: Path
    key_path: Path
    facts: CredentialFacts


def make_test_cert_files(nip: str, out_dir: str | Path, *, kind: str = "personal", key: str = "rsa",
                         force: bool = False) -> TestCertFiles:
    from ksef_tui.files import FileRefused, private_folder
    from ksef_tui.ksef.certificates import load_credential
    from ksef_tui.ksef.testcert import make_test_certificate

    out = Path(out_dir)
    try:
        private_folder(out, tighten=False)
    except FileRefused as exc:
        raise KsefInputError(str(exc), code="bad-file") from None
    cert_pem, key_pem = make_test_certificate(nip=nip, kind=kind, key=key)
    cred = load_credential(cert_data=cert_pem, key_data=key_pem.reveal())
    cert_path = out / "cert.pem"
    key_path = out / "key.pem"
    for p in (cert_path, key_path):
        if p.exists() and not force:
            raise KsefInputError(f"{p} already exists; remove it or choose another directory.", code="bad-file")
    write_private_file(key_path, key_pem.reveal(), force=True)
    write_private_file(cert_path, cert_pem, force=True)
    return TestCertFiles(cert_path, key_path, cred.facts)


# ------------------------------------------------- pending challenges (signed-file path)


def _pending_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("ksef-tui", appauthor=False)) / "pending-challenges.json"


def _load_pending() -> dict[str, dict[str, object]]:
    try:
        from ksef_tui.files import read_limited

        data = json.loads(read_limited(_pending_path(), limit=SMALL_STATE_BYTES).decode("utf-8"))
        return data if isinstance(data, dict) else {}
    except (ServiceError, ValueError):
        return {}


def remember_challenge(challenge: Challenge, context: Context, endpoint: Endpoint) -> None:
    """Keep the challenge so that ``auth --signed-file`` can check its expiry and context."""
    pending = _load_pending()
    now = challenge.timestamp  # KSeF's time: records of challenges expired a day before it are dropped
    pending = {k: v for k, v in pending.items()
               if dt.datetime.fromisoformat(str(v.get("expires_at"))) > now - dt.timedelta(days=1)}
    pending[challenge.challenge] = {
        "timestamp": challenge.timestamp.isoformat(), "timestamp_ms": challenge.timestamp_ms,
        "expires_at": challenge.expires_at.isoformat(), "context_type": context.type,
        "context_value": context.value, "base_url": endpoint.base_url,
    }
    from ksef_tui.files import FileRefused, private_folder, write_atomic

    path = _pending_path()
    try:
        private_folder(path.parent)
        write_atomic(path, json.dumps(pending, indent=1))
    except FileRefused:
        pass  # the record is a convenience; the checks still run without it


def recall_challenge(challenge: str) -> Challenge | None:
    from ksef_tui.ksef.models import Challenge

    entry = _load_pending().get(challenge)
    if not entry:
        return None
    try:
        return Challenge(challenge, dt.datetime.fromisoformat(str(entry["timestamp"])), int(entry["timestamp_ms"]))  # type: ignore[call-overload]
    except (KeyError, ValueError, TypeError):
        return None


@dataclass(frozen=True)
class ChallengeFile:
    path: Path
    challenge: str
    expires_at: dt.datetime


async def write_challenge_file(endpoint: Endpoint, nip: str, out: str | Path, *, force: bool = False,
                               policy: GatewayPolicy | None = None) -> ChallengeFile:
    from ksef_tui.ksef.models import Context
    from ksef_tui.services.ksef.connections import paced_gateway

    p = Path(out)
    if p.exists() and not force:
        raise KsefInputError(f"{p} already exists; remove it or choose another file.", code="bad-file")
    context = Context.nip(nip)
    async with paced_gateway(endpoint, policy=policy) as gw:
        req = await gw.prepare_signed_file_request(context)
    write_private_file(p, req.xml, force=True)  # the Profil Zaufany step-1 file: 0600, atomic
    remember_challenge(req.challenge, context, endpoint)
    return ChallengeFile(p, req.challenge.challenge, req.expires_at)


# ------------------------------------------------------------------ authorization


async def authorize(
    endpoint: Endpoint,
    nip: str,
    credentials: AuthCredentials,
    *,
    policy: GatewayPolicy | None = None,
    progress: Callable[[str], None] | None = None,
    gateway: object | None = None,
) -> AuthSession:
    """Authorize in the context of ``nip`` with a token, a certificate or a signed file."""
    from ksef_tui.services.ksef.connections import paced_gateway

    if gateway is not None:
        return await _authorize(gateway, nip, credentials, progress)  # type: ignore[arg-type]
    async with paced_gateway(endpoint, policy=policy) as gw:
        return await _authorize(gw, nip, credentials, progress)


async def _authorize(gw: object, nip: str, credentials: AuthCredentials,
                     progress: Callable[[str], None] | None) -> AuthSession:
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.models import Context
    from ksef_tui.ksef.signedfile import check_signed_file

    assert isinstance(gw, KsefGateway)
    context = Context.nip(nip)
    if isinstance(credentials, TokenCredentials):
        return await gw.authorize_with_token(context, credentials.token, progress=progress)
    if isinstance(credentials, CertificateCredentials):
        return await gw.authorize_with_certificate(context, credentials.credential, progress=progress)
    facts = check_signed_file(credentials.data, expected_context=context)
    expected = recall_challenge(facts.challenge)
    return await gw.authorize_with_signed_file(
        credentials.data, expected_challenge=expected, expected_context=context, progress=progress
    )


@dataclass(frozen=True)
class GeneratedTokenFile:
    path: Path
    reference_number: str
    permissions: tuple[str, ...]
    token: Secret[str] = field(repr=False)


async def generate_token_to_file(
    endpoint: Endpoint,
    nip: str,
    credentials: AuthCredentials,
    *,
    permissions: list[str],
    description: str,
    out: str | Path,
    force: bool = False,
    policy: GatewayPolicy | None = None,
    progress: Callable[[str], None] | None = None,
) -> GeneratedTokenFile:
    """Authorize, generate a KSeF token, wait until it is Active, write it (0600), end the session."""
    from ksef_tui.services.ksef.connections import paced_gateway

    p = Path(out)
    if p.exists() and not force:
        raise KsefInputError(f"{p} already exists; remove it or choose another file.", code="bad-file")
    async with paced_gateway(endpoint, policy=policy) as gw:
        session = await _authorize(gw, nip, credentials, progress)
        try:
            generated = await gw.generate_token(session, permissions, description)
            info = await gw.wait_token_active(session, generated.reference_number)
            write_private_file(p, generated.token.reveal().encode("utf-8") + b"\n", force=True)
        finally:
            try:
                await gw.revoke_current(session)
            except Exception:
                pass
    return GeneratedTokenFile(p, generated.reference_number, info.permissions, generated.token)


# ------------------------------------------------------------ what the CLI calls
# Plain inputs (texts, paths, numbers) in; the services' own frozen results out; every KSeF or
# input problem raised as :class:`KsefOperationError` (``bad_input`` for the user's input).


@dataclass(frozen=True)
class Target:
    """Where a low-level command talks to: an environment name or a base URL, and how long to wait."""

    env: str | None = None
    base_url: str | None = None
    status_timeout: float | None = None


@dataclass(frozen=True)
class CredentialPaths:
    """The credential a low-level command authorizes with, as the user named its files."""

    token_file: str | None = None
    cert: str | None = None
    key: str | None = None
    pkcs12: str | None = None
    password_file: str | None = None
    signed_file: str | None = None


@dataclass(frozen=True)
class TestCertificateReport:
    cert_path: Path
    key_path: Path
    nip: str
    key_type: str
    fingerprint_sha256: str
    valid_to: dt.datetime


@dataclass(frozen=True)
class ChallengeFileReport:
    path: Path
    nip: str
    challenge: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class AuthReport:
    nip: str
    where: str
    method: str
    ksef_method: str | None
    reference_number: str
    access_valid_until: dt.datetime
    refresh_valid_until: dt.datetime
    access_token: Secret[str] = field(repr=False)
    refresh_token: Secret[str] = field(repr=False)


@dataclass(frozen=True)
class TokenFileReport:
    path: Path
    nip: str
    reference_number: str
    permissions: tuple[str, ...]
    token: Secret[str] = field(repr=False)


def _translated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """KSeF and input errors become :class:`KsefOperationError` (the services' error)."""
    import functools
    import inspect

    from ksef_tui.ksef.errors import KsefError
    from ksef_tui.services.ksef.access import operation_error

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except KsefError as exc:
                raise operation_error(exc) from None
        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KsefError as exc:
            raise operation_error(exc) from None
    return run


def _policy(target: Target) -> GatewayPolicy:
    from ksef_tui.ksef.gateway import GatewayPolicy

    timeout = target.status_timeout
    if timeout is not None and timeout <= 0:
        raise KsefInputError("--status-timeout must be a positive number of seconds.")
    return GatewayPolicy(status_bound_s=timeout, token_active_bound_s=timeout or 120.0,
                         enrollment_bound_s=timeout or 300.0)


def _credentials(paths: CredentialPaths) -> AuthCredentials:
    if paths.key and not paths.cert:
        raise KsefInputError("--key goes with --cert.", code="bad-file")
    if paths.token_file:
        return TokenCredentials(load_token_file(paths.token_file))
    if paths.signed_file:
        return load_signed_file(paths.signed_file)
    return load_certificate_credentials(cert=paths.cert, key=paths.key, pkcs12=paths.pkcs12,
                                        password_file=paths.password_file)


@_translated
def test_certificate(nip_text: str, out_dir: str, *, kind: str = "personal", key: str = "rsa",
                     force: bool = False) -> TestCertificateReport:
    nip = parse_nip(nip_text)
    files = make_test_cert_files(nip, out_dir, kind=kind, key=key, force=force)
    f = files.facts
    return TestCertificateReport(files.cert_path, files.key_path, nip, f.key_type, f.fingerprint_sha256, f.valid_to)


@_translated
async def challenge_file(target: Target, nip_text: str, out: str, *, force: bool = False) -> ChallengeFileReport:
    nip = parse_nip(nip_text)
    result = await write_challenge_file(endpoint_from(target.env, target.base_url), nip, out, force=force,
                                        policy=_policy(target))
    return ChallengeFileReport(result.path, nip, result.challenge, result.expires_at)


@_translated
async def authorize_report(target: Target, nip_text: str, paths: CredentialPaths, *, keep_session: bool = False,
                           progress: Callable[[str], None] | None = None) -> AuthReport:
    """Authorize once and report it; the session is ended afterwards unless ``keep_session``."""
    from ksef_tui.services.ksef.connections import paced_gateway

    nip = parse_nip(nip_text)
    endpoint = endpoint_from(target.env, target.base_url)
    creds = _credentials(paths)
    async with paced_gateway(endpoint, policy=_policy(target)) as gw:
        session = await _authorize(gw, nip, creds, progress)
        if not keep_session:
            try:
                await gw.revoke_current(session)
            except Exception:
                pass
    return AuthReport(nip, endpoint.label, session.method, session.ksef_method, session.reference_number,
                      session.access_valid_until, session.refresh_valid_until, session.access_token,
                      session.refresh_token)


@_translated
async def generate_token(target: Target, nip_text: str, paths: CredentialPaths, *, permissions: list[str],
                         description: str, out: str, force: bool = False,
                         progress: Callable[[str], None] | None = None) -> TokenFileReport:
    nip = parse_nip(nip_text)
    result = await generate_token_to_file(endpoint_from(target.env, target.base_url), nip, _credentials(paths),
                                          permissions=permissions, description=description, out=out, force=force,
                                          policy=_policy(target), progress=progress)
    return TokenFileReport(result.path, nip, result.reference_number, tuple(result.permissions), result.token)
