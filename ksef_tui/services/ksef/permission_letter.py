"""The request to the client (issue 15): a pre-filled letter asking the client to grant the office,
or one of its people, permissions in KSeF, in the UI's language (to copy, print or save)."""

from __future__ import annotations

from collections.abc import Sequence

from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.i18n import _


def scope_text(scope: str) -> str:
    return {"InvoiceRead": _("viewing invoices (InvoiceRead)"), "InvoiceWrite": _("issuing invoices (InvoiceWrite)"),
            "CredentialsManage": _("managing permissions (CredentialsManage)"),
            "CredentialsRead": _("viewing permissions (CredentialsRead)")}.get(scope, scope)


def request_letter(env: Environment, company_name: str, nip: str, scopes: Sequence[str], *,
                   office_nip: str | None, office_name: str | None, person: str | None = None,
                   identifier: str | None = None, delegate: bool = True) -> str:
    """A pre-filled request to the client, in the UI's language (to copy or print)."""
    what = ", ".join(scope_text(s) for s in scopes)
    env_text = {Environment.PRODUCTION: _("the production KSeF"),
                Environment.DEMO: _("the pre-production KSeF (DEMO)"), Environment.TEST: _("the test KSeF")}[env]
    office = f"{office_name or _('our accounting office')}" + (f", NIP {format_nip(office_nip)}" if office_nip else "")
    if person is None:
        body = _("please grant {office} the permissions {what} in {env}, in the context of your company "
                 "{company} (NIP {nip}){delegate}.").format(
            office=office, what=what, env=env_text, company=company_name, nip=format_nip(nip),
            delegate=_(", with the right to pass them on to our employees (canDelegate)") if delegate else "")
        how = _("In the KSeF taxpayer application: Permissions → Grant permissions → to an entity; enter our NIP "
                "and tick the permissions{delegate}.").format(
            delegate=_(" and \"may pass on\"") if delegate else "")
    else:
        body = _("please grant {person}{identifier} the permissions {what} in {env}, in the context of "
                 "your company {company} (NIP {nip}).").format(
            person=person, identifier=f" ({identifier})" if identifier else "", what=what, env=env_text,
            company=company_name, nip=format_nip(nip))
        how = _("In the KSeF taxpayer application: Permissions → Grant permissions → to a person; enter the "
                "identifier above and tick the permissions.")
    return "\n".join([_("Dear Sir or Madam,"), "", body, how, "",
                      _("Only the company's owner or a person with the right to manage permissions can do this."),
                      "", _("Kind regards,"), office_name or _("Your accounting office")])
