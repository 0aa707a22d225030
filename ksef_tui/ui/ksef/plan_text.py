"""The words of a bulk KSeF operation's confirmation: what will happen, what is skipped and why.

Built from :class:`~ksef_tui.services.ksef.plans.OperationPlan` (the rules the run applies), so the
confirmation and the results say the same thing.
"""

from __future__ import annotations

from pathlib import Path

from ksef_tui.i18n import _, ngettext
from ksef_tui.services.ksef.plans import (
    DIRECT,
    ENROLL,
    GRANT,
    PERMISSIONS,
    PROFIL_ZAUFANY,
    REFRESH,
    REVOKE,
    RUN,
    TEST,
    OperationPlan,
)
from ksef_tui.ui.common.file_picker import display_path


def question(operation: str, n: int) -> str:
    texts = {
        TEST: ngettext("Test the authorization in KSeF of {n} chosen row?",
                       "Test the authorization in KSeF of {n} chosen rows?", n),
        ENROLL: ngettext("Enroll a KSeF certificate for {n} chosen row?",
                         "Enroll KSeF certificates for {n} chosen rows?", n),
        REVOKE: ngettext("Revoke in KSeF the KSeF token of {n} chosen row?",
                         "Revoke in KSeF the KSeF tokens of {n} chosen rows?", n),
        REFRESH: ngettext("Ask KSeF about the token or certificate of {n} chosen row?",
                          "Ask KSeF about the tokens and certificates of {n} chosen rows?", n),
        PERMISSIONS: ngettext("Check in KSeF the permissions of {n} chosen row?",
                              "Check in KSeF the permissions of {n} chosen rows?", n),
        GRANT: ngettext("Grant through the office to the user of {n} chosen row, for the company of the row?",
                        "Grant through the office to the users of {n} chosen rows, each for the company of its row?",
                        n),
    }
    return texts[operation].format(n=n)


def yes_label(operation: str, n: int) -> str:
    texts = {
        TEST: ngettext("Test {n} row", "Test {n} rows", n),
        ENROLL: ngettext("Enroll {n} certificate", "Enroll {n} certificates", n),
        REVOKE: ngettext("Revoke {n} token", "Revoke {n} tokens", n),
        REFRESH: ngettext("Refresh {n} row", "Refresh {n} rows", n),
        PERMISSIONS: ngettext("Check {n} row", "Check {n} rows", n),
        GRANT: ngettext("Grant {n}", "Grant {n}", n),
    }
    return texts[operation].format(n=n)


def lines(plan: OperationPlan, folder: Path | None = None, scopes: tuple[str, ...] = ()) -> list[str]:
    """One line per road the rows take, then one per reason to skip, with their counts (``scopes``:
    what GRANT grants)."""
    out: list[str] = []
    op = plan.operation
    run = plan.count(RUN)
    if op == TEST and run:
        out.append(ngettext("{n} will be authorized in KSeF with its saved credential (each counts against "
                            "KSeF's request limits; nothing is changed)",
                            "{n} will be authorized in KSeF with their saved credentials (each counts against "
                            "KSeF's request limits; nothing is changed)", run).format(n=run))
    elif op == REFRESH and run:
        out.append(ngettext("{n} will be looked up in KSeF (revoked, expired or blocked?)",
                            "{n} will be looked up in KSeF (revoked, expired or blocked?)", run).format(n=run))
    elif op == PERMISSIONS and run:
        out.append(ngettext("{n} will log in to KSeF for its company with its saved credential and have its "
                            "permissions read (each counts against KSeF's request limits; nothing is changed)",
                            "{n} will log in to KSeF for their companies with their saved credentials and have their "
                            "permissions read (each counts against KSeF's request limits; nothing is changed)",
                            run).format(n=run))
        out.append(_("the office's own grants are read once per environment where the office's KSeF identity is set"))
    elif op == GRANT and run:
        out.append(ngettext("{n} will get {scopes} for the company of its row, indirectly from the office's own "
                            "KSeF account: one KSeF operation, followed to its final status",
                            "{n} will get {scopes} for the company of their row, indirectly from the office's own "
                            "KSeF account: one KSeF operation each, followed to its final status",
                            run).format(n=run, scopes=", ".join(scopes)))
        out.append(_("a grant works once the client has granted the office the same permission with the right to "
                     "delegate; KSeF allows the office 30 requests a minute and 120 an hour (a grant takes at least "
                     "two), so a long run waits"))
    elif op == REVOKE and run:
        out.append(ngettext("{n} token will be revoked in KSeF and removed here: this cannot be undone (the row "
                            "keeps logging in with its certificate)",
                            "{n} tokens will be revoked in KSeF and removed here: this cannot be undone (the rows "
                            "keep logging in with their certificates)", run).format(n=run))
    elif op == ENROLL:
        direct, pz = plan.count(DIRECT), plan.count(PROFIL_ZAUFANY)
        if direct:
            out.append(ngettext("{n} has a certificate: a KSeF certificate is enrolled in a session it opens",
                                "{n} have a certificate: a KSeF certificate is enrolled in a session each opens",
                                direct).format(n=direct))
        if pz:
            out.append(ngettext("{n} logs in with a token only: a Profil Zaufany file is saved in {folder}, "
                                "to be signed at gov.pl within 10 minutes",
                                "{n} log in with a token only: a Profil Zaufany file each is saved in {folder}, "
                                "to be signed at gov.pl within 10 minutes", pz).format(
                n=pz, folder=display_path(folder) if folder else "—"))
        if direct or pz:
            out.append(_("each new certificate counts against KSeF's certificate limits and is tested before "
                         "the login method is switched to Certificate"))
    for reason, n in plan.skipped():
        out.append(ngettext("{n} skipped: {reason}", "{n} skipped: {reason}", n).format(n=n, reason=reason))
    return out


def nothing_to_do(plan: OperationPlan) -> str:
    return _("Nothing to do for the chosen rows:") + "\n" + "\n".join(
        f"• {line}" for line in lines(plan))
