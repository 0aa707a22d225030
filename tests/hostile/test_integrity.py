"""Nothing orphaned: a user who leaves a company loses the KSeF settings saved for it, each removal
audited. Before the fix the sealed token stayed behind, hidden from every screen and unremovable, and
came back the day the user was added to the company again."""

from __future__ import annotations

from sqlalchemy import func, select

from ksef_tui.domain.environments import Environment
from ksef_tui.store.models import KsefCredential

TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "c0ffee" * 10 + "1234"


def test_leaving_a_company_removes_and_audits_the_users_credentials_for_it(panel):
    ctx, a = panel.ctx, panel.ctx.actor
    ctx.credentials.save_token(a, panel.user_id, panel.alfa, Environment.DEMO, TOKEN)
    ctx.credentials.save_token(a, panel.user_id, panel.alfa, Environment.PRODUCTION, TOKEN)
    assert ctx.credentials.get(a, panel.user_id, panel.alfa, Environment.DEMO).configured

    ctx.users.set_memberships(a, panel.user_id, [panel.beta])  # Anna leaves Alfa

    with ctx.db.session() as s:
        left = s.scalar(select(func.count()).select_from(KsefCredential).where(KsefCredential.user_id == panel.user_id))
    assert left == 0, "sealed credentials left behind"
    assert "credential.remove" in ctx.audit.actions(a)
    ctx.users.set_memberships(a, panel.user_id, [panel.alfa, panel.beta])  # back at Alfa: nothing comes back
    assert not ctx.credentials.get(a, panel.user_id, panel.alfa, Environment.DEMO).configured
    assert not ctx.credentials.get(a, panel.user_id, panel.alfa, Environment.PRODUCTION).configured
