"""`ksef-tui ksef ...`: low-level KSeF commands (test certificates, challenge files, auth, tokens).

Cheap to import: only argparse here; KSeF, crypto and XML code load inside the handlers.
Exit codes: 0 ok, 1 KSeF refused or failed, 2 bad input. Errors are one line on stderr
with a hint; tokens and keys are never printed without ``--show-secrets``.
"""

from __future__ import annotations

import argparse
import sys
import types
from typing import Any, NoReturn

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
PROG = "ksef-tui"


def _one_line_error(self: argparse.ArgumentParser, message: str) -> NoReturn:
    sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
    raise SystemExit(EXIT_USAGE)


def _quiet(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.error = types.MethodType(_one_line_error, p)  # type: ignore[method-assign]
    return p


def _add_endpoint(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--env", metavar="ENV", help="TEST, DEMO or PRODUCTION")
    g.add_argument("--base-url", metavar="URL", help="custom API base URL (https, or http on loopback)")
    p.add_argument("--status-timeout", type=float, metavar="SECONDS",
                   help="how long to wait for KSeF to finish (default: 120 s, 600 s on DEMO/PRODUCTION)")


def _add_credentials(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nip", required=True, help="context NIP (the company)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--token-file", metavar="F", help="file holding a KSeF token")
    g.add_argument("--cert", metavar="F", help="certificate (PEM or DER); with --key")
    g.add_argument("--pkcs12", metavar="F", help="PKCS#12 file (.p12/.pfx) with certificate and key")
    g.add_argument("--signed-file", metavar="F", help="AuthTokenRequest signed outside (e.g. Profil Zaufany)")
    p.add_argument("--key", metavar="F", help="private key (PEM or DER) for --cert")
    p.add_argument("--password-file", metavar="F", help="file with the key or PKCS#12 password")
    p.add_argument("--show-secrets", action="store_true", help="print tokens (careful: they grant access)")
    p.add_argument("-v", "--verbose", action="store_true", help="show each step on stderr")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``ksef`` command group to the main parser's subparsers."""
    k = _quiet(subparsers.add_parser(
        "ksef", help="low-level KSeF commands: test certificates, challenge files, auth, tokens",
        description="Talk to KSeF API 2.0 directly. Exit codes: 0 ok, 1 KSeF refused or failed, 2 bad input.",
    ))
    ks = k.add_subparsers(dest="ksef_command", metavar="COMMAND", required=True)

    tc = _quiet(ks.add_parser("test-cert", help="make a self-signed certificate for KSeF TEST",
                              description="Write cert.pem and key.pem (mode 0600). Accepted on KSeF TEST only."))
    tc.add_argument("--nip", required=True)
    tc.add_argument("--out-dir", required=True, metavar="DIR")
    tc.add_argument("--kind", choices=["personal", "seal"], default="personal",
                    help="personal (TINPL-<NIP>) or company seal (VATPL-<NIP>)")
    tc.add_argument("--key", choices=["rsa", "ec"], default="rsa", help="RSA 2048 or EC P-256")
    tc.add_argument("--force", action="store_true", help="overwrite existing files")
    tc.set_defaults(handler=cmd_test_cert)

    cf = _quiet(ks.add_parser("challenge-file", help="write an unsigned AuthTokenRequest to sign with Profil Zaufany",
                              description="Get a fresh challenge and write the AuthTokenRequest XML to sign. "
                                          "Sign it within 10 minutes, then run `ksef auth --signed-file`."))
    _add_endpoint(cf)
    cf.add_argument("--nip", required=True)
    cf.add_argument("--out", required=True, metavar="FILE")
    cf.add_argument("--force", action="store_true", help="overwrite an existing file")
    cf.set_defaults(handler=cmd_challenge_file)

    au = _quiet(ks.add_parser("auth", help="authorize in KSeF and report the result",
                              description="Authorize with a KSeF token, a certificate or a signed file."))
    _add_endpoint(au)
    _add_credentials(au)
    au.add_argument("--keep-session", action="store_true", help="do not end the session afterwards")
    au.set_defaults(handler=cmd_auth)

    tk = _quiet(ks.add_parser("token", help="KSeF tokens"))
    tks = tk.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    gen = _quiet(tks.add_parser("generate", help="generate a KSeF token and write it to a file (0600)",
                                description="Authorize, generate a token, wait until it is Active, write it."))
    _add_endpoint(gen)
    _add_credentials(gen)
    gen.add_argument("--permissions", required=True, help="comma separated, e.g. InvoiceRead,InvoiceWrite")
    gen.add_argument("--description", required=True, help="5 to 256 characters")
    gen.add_argument("--out", required=True, metavar="FILE")
    gen.add_argument("--force", action="store_true", help="overwrite an existing file")
    gen.set_defaults(handler=cmd_token_generate)
    from ksef_tui.cli_check import add_check

    add_check(ks)
    return k


# ---------------------------------------------------------------------- helpers


def _fail(exc: BaseException) -> int:
    """One line on stderr with the hint; the exit code by kind of error."""
    from ksef_tui.ksef.errors import KsefError, KsefInputError

    if isinstance(exc, KsefError):
        hint = exc.hint
        line = f"{exc}" + (f" Hint: {hint}" if hint else "")
        code = EXIT_USAGE if isinstance(exc, KsefInputError) else EXIT_FAIL
    else:
        line = f"unexpected error: {type(exc).__name__}"
        code = EXIT_FAIL
    sys.stderr.write(f"{PROG}: {line}\n")
    return code


def _policy(args: argparse.Namespace) -> Any:
    from ksef_tui.ksef.gateway import GatewayPolicy

    timeout = getattr(args, "status_timeout", None)
    if timeout is not None and timeout <= 0:
        from ksef_tui.ksef.errors import KsefInputError

        raise KsefInputError("--status-timeout must be a positive number of seconds.")
    return GatewayPolicy(status_bound_s=timeout, token_active_bound_s=timeout or 120.0,
                         enrollment_bound_s=timeout or 300.0)


def _credentials(args: argparse.Namespace) -> Any:
    from ksef_tui.ksef.errors import KsefInputError
    from ksef_tui.services.ksef import tools

    if args.key and not args.cert:
        raise KsefInputError("--key goes with --cert.", code="bad-file")
    if args.token_file:
        return tools.TokenCredentials(tools.load_token_file(args.token_file))
    if args.signed_file:
        return tools.load_signed_file(args.signed_file)
    return tools.load_certificate_credentials(cert=args.cert, key=args.key, pkcs12=args.pkcs12,
                                              password_file=args.password_file)


def _progress(args: argparse.Namespace) -> Any:
    if not getattr(args, "verbose", False):
        return None
    return lambda step: sys.stderr.write(f"{PROG}: {step}\n")


def _when(value: Any) -> str:
    import datetime as dt

    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


_METHOD_TEXT = {"token": "a KSeF token", "certificate": "a certificate (XAdES)",
                "signed-file": "a signed file (XAdES)"}


# --------------------------------------------------------------------- handlers


def cmd_test_cert(args: argparse.Namespace) -> int:
    try:
        from ksef_tui.services.ksef import tools

        nip = tools.parse_nip(args.nip)
        files = tools.make_test_cert_files(nip, args.out_dir, kind=args.kind, key=args.key, force=args.force)
    except Exception as exc:  # noqa: BLE001
        return _fail(exc)
    f = files.facts
    print(f"Wrote {files.cert_path} and {files.key_path} (mode 0600): {args.kind} {f.key_type} certificate "
          f"for NIP {nip}, SHA-256 {f.fingerprint_sha256}, valid until {_when(f.valid_to)}; KSeF TEST only.")
    return EXIT_OK


def cmd_challenge_file(args: argparse.Namespace) -> int:
    import asyncio

    try:
        from ksef_tui.services.ksef import tools

        nip = tools.parse_nip(args.nip)
        endpoint = tools.endpoint_from(args.env, args.base_url)
        result = asyncio.run(tools.write_challenge_file(endpoint, nip, args.out, force=args.force,
                                                        policy=_policy(args)))
    except Exception as exc:  # noqa: BLE001
        return _fail(exc)
    print(f"Wrote {result.path} for NIP {nip} (challenge {result.challenge}); sign it and send it with "
          f"`ksef auth --signed-file` before {_when(result.expires_at)}.")
    return EXIT_OK


def cmd_auth(args: argparse.Namespace) -> int:
    import asyncio

    try:
        from ksef_tui.ksef.gateway import KsefGateway
        from ksef_tui.services.ksef import tools

        nip = tools.parse_nip(args.nip)
        endpoint = tools.endpoint_from(args.env, args.base_url)
        creds = _credentials(args)

        async def run() -> Any:
            async with KsefGateway(endpoint, policy=_policy(args)) as gw:
                session = await tools.authorize(endpoint, nip, creds, progress=_progress(args), gateway=gw)
                if not args.keep_session:
                    try:
                        await gw.revoke_current(session)
                    except Exception:  # noqa: BLE001 - the authorization itself succeeded
                        pass
                return session

        session = asyncio.run(run())
    except Exception as exc:  # noqa: BLE001
        return _fail(exc)
    how = _METHOD_TEXT.get(session.method, session.method)
    ksef = f", KSeF method {session.ksef_method}" if session.ksef_method else ""
    print(f"Authorized in KSeF {endpoint.label} for NIP {nip} with {how}{ksef}: access token valid until "
          f"{_when(session.access_valid_until)}, refresh token until {_when(session.refresh_valid_until)} "
          f"(reference {session.reference_number}).")
    if args.show_secrets:
        print(f"access token: {session.access_token.reveal()}")
        print(f"refresh token: {session.refresh_token.reveal()}")
    return EXIT_OK


def cmd_token_generate(args: argparse.Namespace) -> int:
    import asyncio

    try:
        from ksef_tui.services.ksef import tools

        nip = tools.parse_nip(args.nip)
        endpoint = tools.endpoint_from(args.env, args.base_url)
        creds = _credentials(args)
        permissions = [p.strip() for p in args.permissions.split(",") if p.strip()]
        result = asyncio.run(tools.generate_token_to_file(
            endpoint, nip, creds, permissions=permissions, description=args.description, out=args.out,
            force=args.force, policy=_policy(args), progress=_progress(args),
        ))
    except Exception as exc:  # noqa: BLE001
        return _fail(exc)
    print(f"Wrote the new Active KSeF token {result.reference_number} for NIP {nip} to {result.path} (mode 0600); "
          f"permissions {', '.join(result.permissions)}.")
    if args.show_secrets:
        print(f"token: {result.token.reveal()}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (tests, or before cli.py wires the group): ``python -m ksef_tui.cli_ksef``."""
    parser = _quiet(argparse.ArgumentParser(prog=PROG))
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
