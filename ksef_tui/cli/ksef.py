"""`ksef-tui ksef ...`: low-level KSeF commands (test certificates, challenge files, auth, tokens, check).

Cheap to import: only argparse here; KSeF, crypto and XML code load inside the services the handlers
call. Exit codes: 0 ok, 1 KSeF refused or failed, 2 bad input. Errors are one line on stderr with a
hint; tokens are never printed without ``--show-secrets``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ksef_tui.cli.check import add_check
from ksef_tui.cli.diagnose import add_diagnose
from ksef_tui.cli.errors import EXIT_OK, PROG, quiet
from ksef_tui.cli.office import add_office
from ksef_tui.cli.output import say


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
    k = quiet(subparsers.add_parser(
        "ksef", help="low-level KSeF commands: test certificates, challenge files, auth, tokens",
        description="Talk to KSeF API 2.0 directly. Exit codes: 0 ok, 1 KSeF refused or failed, 2 bad input.",
    ))
    ks = k.add_subparsers(dest="ksef_command", metavar="COMMAND", required=True)

    tc = quiet(ks.add_parser("test-cert", help="make a self-signed certificate for KSeF TEST",
                              description="Write cert.pem and key.pem (mode 0600). Accepted on KSeF TEST only."))
    tc.add_argument("--nip", required=True)
    tc.add_argument("--out-dir", required=True, metavar="DIR")
    tc.add_argument("--kind", choices=["personal", "seal"], default="personal",
                    help="personal (TINPL-<NIP>) or company seal (VATPL-<NIP>)")
    tc.add_argument("--key", choices=["rsa", "ec"], default="rsa", help="RSA 2048 or EC P-256")
    tc.add_argument("--force", action="store_true", help="overwrite existing files")
    tc.set_defaults(handler=cmd_test_cert)

    cf = quiet(ks.add_parser("challenge-file", help="write an unsigned AuthTokenRequest to sign with Profil Zaufany",
                              description="Get a fresh challenge and write the AuthTokenRequest XML to sign. "
                                          "Sign it within 10 minutes, then run `ksef auth --signed-file`."))
    _add_endpoint(cf)
    cf.add_argument("--nip", required=True)
    cf.add_argument("--out", required=True, metavar="FILE")
    cf.add_argument("--force", action="store_true", help="overwrite an existing file")
    cf.set_defaults(handler=cmd_challenge_file)

    au = quiet(ks.add_parser("auth", help="authorize in KSeF and report the result",
                              description="Authorize with a KSeF token, a certificate or a signed file."))
    _add_endpoint(au)
    _add_credentials(au)
    au.add_argument("--keep-session", action="store_true", help="do not end the session afterwards")
    au.set_defaults(handler=cmd_auth)

    tk = quiet(ks.add_parser("token", help="KSeF tokens"))
    tks = tk.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    gen = quiet(tks.add_parser("generate", help="generate a KSeF token and write it to a file (0600)",
                                description="Authorize, generate a token, wait until it is Active, write it."))
    _add_endpoint(gen)
    _add_credentials(gen)
    gen.add_argument("--permissions", required=True, help="comma separated, e.g. InvoiceRead,InvoiceWrite")
    gen.add_argument("--description", required=True, help="5 to 256 characters")
    gen.add_argument("--out", required=True, metavar="FILE")
    gen.add_argument("--force", action="store_true", help="overwrite an existing file")
    gen.set_defaults(handler=cmd_token_generate)
    add_check(ks)
    add_diagnose(ks)
    add_office(ks)
    return k


# ---------------------------------------------------------------------- helpers


def _target(args: argparse.Namespace) -> Any:
    from ksef_tui.services.ksef import tools

    return tools.Target(args.env, args.base_url, getattr(args, "status_timeout", None))


def _paths(args: argparse.Namespace) -> Any:
    from ksef_tui.services.ksef import tools

    return tools.CredentialPaths(token_file=args.token_file, cert=args.cert, key=args.key, pkcs12=args.pkcs12,
                                 password_file=args.password_file, signed_file=args.signed_file)


def _progress(args: argparse.Namespace) -> Any:
    if not getattr(args, "verbose", False):
        return None
    return lambda step: say(f"{PROG}: {step}", err=True)


def _when(value: Any) -> str:
    import datetime as dt

    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_METHOD_TEXT = {"token": "a KSeF token", "certificate": "a certificate (XAdES)",
                "signed-file": "a signed file (XAdES)"}


# --------------------------------------------------------------------- handlers


def cmd_test_cert(args: argparse.Namespace) -> int:
    from ksef_tui.services.ksef import tools

    r = tools.test_certificate(args.nip, args.out_dir, kind=args.kind, key=args.key, force=args.force)
    say(f"Wrote {r.cert_path} and {r.key_path} (mode 0600): {args.kind} {r.key_type} certificate "
          f"for NIP {r.nip}, SHA-256 {r.fingerprint_sha256}, valid until {_when(r.valid_to)}; KSeF TEST only.")
    return EXIT_OK


def cmd_challenge_file(args: argparse.Namespace) -> int:
    import asyncio

    from ksef_tui.services.ksef import tools

    r = asyncio.run(tools.challenge_file(_target(args), args.nip, args.out, force=args.force))
    say(f"Wrote {r.path} for NIP {r.nip} (challenge {r.challenge}); sign it and send it with "
          f"`ksef auth --signed-file` before {_when(r.expires_at)}.")
    return EXIT_OK


def cmd_auth(args: argparse.Namespace) -> int:
    import asyncio

    from ksef_tui.services.ksef import tools

    r = asyncio.run(tools.authorize_report(_target(args), args.nip, _paths(args), keep_session=args.keep_session,
                                           progress=_progress(args)))
    how = _METHOD_TEXT.get(r.method, r.method)
    ksef = f", KSeF method {r.ksef_method}" if r.ksef_method else ""
    say(f"Authorized in KSeF {r.where} for NIP {r.nip} with {how}{ksef}: access token valid until "
          f"{_when(r.access_valid_until)}, refresh token until {_when(r.refresh_valid_until)} "
          f"(reference {r.reference_number}).")
    if args.show_secrets:
        say(f"access token: {r.access_token.reveal()}")
        say(f"refresh token: {r.refresh_token.reveal()}")
    return EXIT_OK


def cmd_token_generate(args: argparse.Namespace) -> int:
    import asyncio

    from ksef_tui.services.ksef import tools

    permissions = [p.strip() for p in args.permissions.split(",") if p.strip()]
    r = asyncio.run(tools.generate_token(_target(args), args.nip, _paths(args), permissions=permissions,
                                         description=args.description, out=args.out, force=args.force,
                                         progress=_progress(args)))
    say(f"Wrote the new Active KSeF token {r.reference_number} for NIP {r.nip} to {r.path} (mode 0600); "
          f"permissions {', '.join(r.permissions)}.")
    if args.show_secrets:
        say(f"token: {r.token.reveal()}")
    return EXIT_OK
