"""One office, one client company and three users with KSeF data read from the simulator, for the
permission screens' pilot and snapshot tests (services on a fixed clock: the times shown never move)."""

from __future__ import annotations

import asyncio
import datetime as dt

from ksef_tui.domain.environments import Environment
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.ksef.diagnosis import DiagnosisService
from ksef_tui.services.ksef.permissions import PermissionService
from ksef_tui.services.ksef.views import CertificateFiles
from ksef_tui.services.users import UserInput

CLIENT, OFFICE, PIOTR, ANNA = "5265877635", "7762811692", "44051401359", "90010112340"
DEMO = Environment.DEMO
#: the services' clock in these tests (what the screens show as "read" times)
FIXED = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
#: certificates start here (valid two years): the dates shown never move either
ISSUED = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def fixed_services(ctx) -> None:
    """The context's permission services on the fixed clock."""
    permissions = PermissionService(ctx.credentials, office=ctx.office, clock=lambda: FIXED)
    ctx.__dict__["permissions"] = permissions
    ctx.__dict__["diagnosis"] = DiagnosisService(permissions)


def build(ctx, sim, base_url: str) -> dict:
    """Alfa (model B: the client delegated InvoiceRead to the office; Piotr holds it indirectly),
    Anna with a certificate and no grant, Ewa with the client's token; the picture read from KSeF."""
    fixed_services(ctx)
    a = ctx.actor
    ctx.credentials.connections.set_endpoint(a, DEMO, base_url)
    alfa = ctx.companies.create(a, CompanyInput(name="Alfa sp. z o.o.", nip=CLIENT, ksef_enabled=True))
    piotr = ctx.users.create(a, UserInput(login="piotr", full_name="Piotr Zieliński"), [alfa.id])
    anna = ctx.users.create(a, UserInput(login="anna", full_name="Anna Nowak"), [alfa.id])
    ewa = ctx.users.create(a, UserInput(login="ewa", full_name="Ewa [bold]Kowalska[/]"), [alfa.id])
    ctx.office.set_identity(a, OFFICE, "Biuro Rachunkowe Bilans sp. z o.o.")
    cert, key = sim.issue_ksef_certificate(nip=OFFICE, common_name="Biuro Bilans", valid_from=ISSUED)
    ctx.office.save_certificate(a, DEMO, CertificateFiles(cert_data=cert.encode(), key_data=key.encode()))
    for uid, pesel, given, surname in ((piotr.id, PIOTR, "Piotr", "Zieliński"), (anna.id, ANNA, "Anna", "Nowak")):
        cert, key = sim.issue_ksef_certificate(pesel=pesel, given_name=given, surname=surname, valid_from=ISSUED)
        ctx.credentials.save_certificate(a, uid, alfa.id, DEMO,
                                         CertificateFiles(cert_data=cert.encode(), key_data=key.encode()))
    token = sim.issue_ksef_token(CLIENT, ["InvoiceRead", "InvoiceWrite"], "token of the client")
    ctx.credentials.save_token(a, ewa.id, alfa.id, DEMO, token, permissions=("InvoiceRead", "InvoiceWrite"))
    ctx.permissions.set_model(a, alfa.id, "B")
    entity = sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead"], kind="entity", can_delegate=True)
    sim.grant_permissions(OFFICE, ("Pesel", PIOTR), ["InvoiceRead"], kind="indirect", client_nip=CLIENT)
    asyncio.run(ctx.permissions.read_picture(a, alfa.id, DEMO))
    return {"alfa": alfa.id, "piotr": piotr.id, "anna": anna.id, "ewa": ewa.id, "entity": entity[0]}
