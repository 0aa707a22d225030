"""The words of a diagnosis: the checklist's titles, the causes, and each fix in the user's terms
(English source strings, Polish through the catalog)."""

from __future__ import annotations

from ksef_tui.domain.environments import Environment
from ksef_tui.i18n import _

#: the checklist of PROTOCOL.md §17, in its order
STEPS = ("company", "configured", "environment", "credential", "blocked", "permission", "chain", "identity",
         "availability", "challenge")


def step_title(key: str, env: Environment) -> str:
    return {
        "company": _("KSeF is switched on for the company"),
        "configured": _("A credential is configured for {env}").format(env=env.value),
        "environment": _("The credential belongs to {env}").format(env=env.value),
        "credential": _("The credential itself: valid, not revoked, able to log in"),
        "blocked": _("KSeF does not block the login"),
        "permission": _("A permission in the company's context"),
        "chain": _("The chain client → office → employee"),
        "identity": _("The identity the grant is for"),
        "availability": _("KSeF answers"),
        "challenge": _("The login finished in time"),
    }[key]


def cause_text(cause: str) -> str:
    """The cause in a few words (lists, the dashboard, the CLI's text output)."""
    return {
        "ok": _("can log in"),
        "not-configured": _("no credential configured"),
        "ksef-off": _("KSeF switched off for the company"),
        "environment-mismatch": _("credential from another environment"),
        "certificate-expired": _("certificate expired"),
        "certificate-revoked": _("certificate revoked"),
        "certificate-not-for-login": _("certificate cannot log in (Offline)"),
        "token-revoked": _("token revoked"),
        "token-inactive": _("token not active"),
        "token-other-context": _("token made for another company"),
        "token-invalid": _("token not accepted"),
        "subject-blocked": _("login blocked by KSeF"),
        "no-permission": _("authorized but no permission"),
        "chain-broken": _("chain broken"),
        "wrong-identity-type": _("grant for another identity"),
        "ksef-unavailable": _("KSeF unavailable"),
        "rate-limited": _("KSeF request limit reached"),
        "challenge-expired": _("login took too long"),
    }.get(cause, cause)


def scopes_text(scopes: tuple[str, ...] | list[str]) -> str:
    return ", ".join(scopes) if scopes else "InvoiceRead, InvoiceWrite"


def fix_text(fix: str, *, login: str, name: str, company: str, nip: str, env: Environment,
             office: str, identifier: str | None = None, granted: str | None = None,
             scopes: tuple[str, ...] = (), when: str = "") -> str:
    """The fix of a diagnosis, in the user's terms."""
    return {
        "ok": _("Nothing to do: {login} can log in to KSeF {env} for {company}."),
        "ksef-off": _("Switch KSeF on for {company} in the company's Additional data."),
        "not-configured": _("Configure {login}'s KSeF credential for {env} on the user's KSeF screen."),
        "environment-mismatch": _("Use a credential of KSeF {env}: a self-signed TEST certificate works only on TEST, and a DEMO token or certificate does not work on PRODUCTION (nor the other way round)."),
        "certificate-expired": _("Request a new KSeF certificate for {login} (or load a valid one): this one has expired."),
        "certificate-revoked": _("The certificate was revoked or suspended: request a new KSeF certificate for {login}."),
        "certificate-not-for-login": _("This is an Offline certificate (it signs offline invoices' QR codes) and cannot log in: load {login}'s Authentication certificate."),
        "token-revoked": _("The KSeF token was revoked: generate a new token for {company}, or move {login} to a certificate."),
        "token-inactive": _("The KSeF token is not active: wait until KSeF activates it, or generate a new one."),
        "token-other-context": _("The KSeF token was made for another company: generate a token in the context of {company} (NIP {nip})."),
        "token-invalid": _("KSeF does not accept this token: generate a new one for {company} (KSeF 1.0 tokens do not work in API 2.0)."),
        "token-author": _("The token's author no longer holds the permissions the token carries: ask {company}'s administrator to restore them, or to generate a new token from an account that holds them."),
        "subject-blocked": _("KSeF blocked this login (a security incident or policy): contact the Ministry of Finance's KSeF support; check the token's allowed IP addresses."),
        "client-grant-office": _("Ask {company}'s administrator to grant the office ({office}) {scopes} in KSeF."),
        "client-grant-office-delegate": _("Ask {company}'s administrator to grant the office ({office}) {scopes} with the right to delegate (\"may pass on\")."),
        "grant-indirect": _("Grant {name} indirect {scopes} for {company} from the office's account."),
        "client-grant-person": _("Ask {company}'s administrator to grant {name} ({identifier}) {scopes} in KSeF."),
        "grant-person": _("Grant {name} ({identifier}) {scopes} in {company}'s context from the office's account (the office may manage permissions there)."),
        "use-identity": _("The grant is for {granted}, but {login} logs in as {identifier}: use a certificate with {granted}, or have {identifier} granted instead."),
        "model-d": _("In model D {login} logs in with the client's own token: save {company}'s KSeF token for {login}."),
        "ksef-unavailable": _("KSeF is not answering properly right now; try again later. This is not a permission problem."),
        "rate-limited": _("KSeF's request limit was reached; try again {when}. This is not a permission problem."),
        "challenge-expired": _("The login took too long (a challenge lives 10 minutes) or was cancelled; try again."),
    }[fix].format(login=login, name=name, company=company, nip=nip, env=env.value, office=office,
                  identifier=identifier or _("their PESEL"), granted=granted or "?", scopes=scopes_text(scopes),
                  when=when or _("later"))
