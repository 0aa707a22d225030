"""Every date-dependent rule and text, on the four days the issue names (issue 11 item 1).

The clock is injected (:func:`fixed_clock`); nothing here reads the computer's clock, so these
pass on any day. Expected values are written out, not recomputed with the code's own formula.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ksef_tui.domain.clock import fixed_clock, ksef_day, today
from ksef_tui.domain.token_policy import (
    DEFAULT_POLICY,
    PolicyOrigin,
    TokenEndBasis,
    issued_on_from_reference,
)
from ksef_tui.services.ksef import dashboard as dash
from ksef_tui.services.ksef.check import StoredFacts, ending
from ksef_tui.services.ksef.token_policy import policy_line, source_text, token_end_text, tokens_notice

DAYS = ["2026-11-30", "2026-12-31", "2027-01-01", "2027-12-01"]
OFFICE_2026 = DEFAULT_POLICY.with_last_day(dt.date(2026, 12, 31), origin=PolicyOrigin.ENVIRONMENT)
OLD_REF = "20251010-EC-1DCE3E3000-12ECB5B36E-45"  # a token issued on 10 Oct 2025
NEW_REF = "20270101-EC-1DCE3E3000-12ECB5B36E-45"  # a new-rule token issued on 1 Jan 2027

# day -> (days left under the default policy or None once ended, the same under 2026-12-31)
EXPECTED = {
    "2026-11-30": (366, 32),
    "2026-12-31": (335, 1),
    "2027-01-01": (334, None),
    "2027-12-01": (None, None),
}


@pytest.fixture(params=DAYS)
def day(request) -> str:
    return request.param


def test_the_clock_is_what_the_test_says(day):
    clock = fixed_clock(day)
    assert today(clock) == dt.date.fromisoformat(day)
    assert clock().tzinfo is not None and clock().utcoffset() == dt.timedelta(0)
    # KSeF's days are Polish days: 23:30 UTC on 31 Dec is already 1 Jan in Warsaw
    assert ksef_day(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == dt.date(2027, 1, 1)


@pytest.mark.parametrize("policy, column", [(DEFAULT_POLICY, 0), (OFFICE_2026, 1)], ids=["default", "2026-12-31"])
def test_token_end_by_policy(day, policy, column):
    t = dt.date.fromisoformat(day)
    end = policy.end_of(issued_on=issued_on_from_reference(OLD_REF))
    assert end.basis is TokenEndBasis.POLICY and end.last_day == policy.last_day
    left = EXPECTED[day][column]
    if left is None:
        assert end.ended(t) and policy.ended(t)
        assert token_end_text(end, t) == f"expired by policy on {end.last_day.day} {'Nov' if column == 0 else 'Dec'} {end.last_day.year}"
        assert "days left" not in token_end_text(end, t)
    else:
        assert not end.ended(t) and end.days_left(t) == left
        assert token_end_text(end, t).endswith(f"({left} day{'s' if left != 1 else ''} left)")
        assert end.within(t, left) and not end.within(t, left - 1)


def test_new_rule_tokens_and_ksef_dates(day):
    t = dt.date.fromisoformat(day)
    new = DEFAULT_POLICY.end_of(issued_on=issued_on_from_reference(NEW_REF))
    assert new.basis is TokenEndBasis.NEW_RULES and new.last_day == dt.date(2027, 12, 31)
    own = DEFAULT_POLICY.end_of(valid_to=dt.datetime(2027, 6, 30, 21, 59, tzinfo=dt.UTC))
    assert own.basis is TokenEndBasis.KSEF and own.last_day == dt.date(2027, 6, 30)
    assert own.ended(t) is (day == "2027-12-01")
    if day == "2027-12-01":
        assert new.days_left(t) == 31
        assert token_end_text(own, t) == "expired on 30 Jun 2027 (validity set by KSeF)"


def test_texts_name_the_date_and_its_source(day):
    t = dt.date.fromisoformat(day)
    notice = tokens_notice(DEFAULT_POLICY, t)
    line = policy_line(DEFAULT_POLICY, t)
    assert "30 Nov 2027" in notice and "announced by MF, Sep 2026" in notice
    assert "the regulation still says 31 Dec 2026" in notice
    if day == "2027-12-01":
        assert "stopped working after 30 Nov 2027" in notice and "days left" not in notice
        assert "stopped working after 30 Nov 2027" in line
    else:
        assert f"{EXPECTED[day][0]} days left" in notice and "work until 30 Nov 2027" in line
    office = tokens_notice(OFFICE_2026, t)
    assert "31 Dec 2026" in office and "KSEF_TUI_TOKEN_LAST_DAY" in office
    assert ("stopped working" in office) is (day in ("2027-01-01", "2027-12-01"))
    assert "31 Dec 2026" not in source_text(DEFAULT_POLICY, long=False)


def test_dashboard_token_bucket_label(day):
    t = dt.date.fromisoformat(day)
    label = dash.bucket_label(dash.TOKEN, t, DEFAULT_POLICY)
    if day == "2027-12-01":
        assert label == "Token: expired by policy on 30 Nov 2027"
    else:
        assert label == f"Token: until 30 Nov 2027 ({EXPECTED[day][0]} days left)"


def test_check_row_ending(day):
    now = fixed_clock(day)()
    token = ending(StoredFacts("u", "5265877635", "token", token_reference=OLD_REF), DEFAULT_POLICY, now)
    assert token.valid_to == dt.date(2027, 11, 30) and token.basis == "policy"
    assert token.ended is (day == "2027-12-01")
    assert token.days_left == (EXPECTED[day][0] or 0)  # 0 (not negative) on the day after the last
    cert = ending(StoredFacts("u", "5265877635", "certificate",
                              cert_valid_to=dt.datetime(2027, 1, 1, 12, tzinfo=dt.UTC)), DEFAULT_POLICY, now)
    assert cert.basis == "certificate"
    expected_cert = {"2026-11-30": (32, False), "2026-12-31": (1, False), "2027-01-01": (0, True),
                     "2027-12-01": (0, True)}[day]
    assert (cert.days_left, cert.ended) == expected_cert
    assert cert.within(30) is (day != "2026-11-30")


def test_one_clock_reads_the_time():
    """Only ``domain/clock.py`` reads the computer's date (the simulator has its own clock)."""
    import re
    from pathlib import Path

    import ksef_tui

    root = Path(ksef_tui.__file__).parent
    reading = re.compile(r"\b(?:datetime|dt)\.(?:datetime\.)?(?:now|utcnow|today)\(|\bdate\.today\(|\btime\.localtime\(")
    offenders = [f"{p.relative_to(root)}:{n}" for p in root.rglob("*.py")
                 if "simulator" not in p.parts and p.name != "clock.py"
                 for n, line in enumerate(p.read_text("utf-8").splitlines(), 1) if reading.search(line)]
    assert offenders == []


def test_a_token_rows_status(day):
    from ksef_tui.domain.auth import AuthMethod
    from ksef_tui.domain.environments import Environment
    from ksef_tui.services.ksef.views import CredentialView, describe

    view = CredentialView(1, 1, "Alfa", "5265877635", True, Environment.DEMO, configured=True,
                          method=AuthMethod.TOKEN, has_token=True, token_last4="f7b9", token_reference=OLD_REF)
    state = describe(view, fixed_clock(day)(), DEFAULT_POLICY)
    if day == "2027-12-01":
        assert (state.kind, state.text) == ("expired", "token expired by policy on 30 Nov 2027")
    else:
        assert state.kind == "token" and "days left" not in state.text
    office = describe(view, fixed_clock(day)(), OFFICE_2026)
    expected = {"2026-11-30": ("token", "token ••••••••f7b9"),  # 32 days: beyond the 30-day warning
                "2026-12-31": ("expiring", "token until 31 Dec 2026 (1 day left)"),
                "2027-01-01": ("expired", "token expired by policy on 31 Dec 2026"),
                "2027-12-01": ("expired", "token expired by policy on 31 Dec 2026")}[day]
    assert (office.kind, office.text) == expected


def test_enrollment_and_offline_readiness(day):
    """Which certificates an enrollment still requests (renewal from 60 days before the end) and
    whether an Offline certificate still counts (offline-ready), on the four days."""
    from ksef_tui.domain.environments import Environment
    from ksef_tui.services.ksef.offline import AUTHENTICATION, OFFLINE, KsefCertificateView
    from ksef_tui.services.ksef.plans import DIRECT, PROFIL_ZAUFANY, SKIP, enrollment_road, needed_types
    from ksef_tui.store.models import KsefCertificate, KsefCredential

    now = fixed_clock(day)()
    login = KsefCredential(user_id=1, company_id=1, environment="DEMO", method="certificate", cert_blob=b"sealed",
                           cert_valid_to=dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
    offline = KsefCertificate(user_id=1, company_id=1, environment="DEMO", certificate_type=OFFLINE, serial="01",
                              status="Active", valid_to=dt.datetime(2027, 12, 15, tzinfo=dt.UTC),
                              cert_blob=b"c", key_blob=b"k")
    both = (AUTHENTICATION, OFFLINE)
    expected = {  # the login certificate ends 1 Mar 2027, the Offline one 15 Dec 2027
        "2026-11-30": (),  # 91 and 380 days left: nothing to renew
        "2026-12-31": (AUTHENTICATION,),  # 60 days left: renewal opens
        "2027-01-01": (AUTHENTICATION,),
        "2027-12-01": both,  # the login certificate has ended; the Offline one ends in 14 days
    }[day]
    assert needed_types(login, offline, now, both) == expected
    road, reason = enrollment_road(login, now, both, offline)
    if day == "2027-12-01":  # an ended certificate opens no session: the Profil Zaufany road
        assert (road, reason) == (PROFIL_ZAUFANY, "")
    elif expected:
        assert (road, reason) == (DIRECT, "")  # renewed with the certificate it still holds
    else:
        assert road == SKIP and reason == ("Already logs in with a certificate valid until 2027-03-01. "
                                           "Already holds an Offline certificate valid until 2027-12-15.")
    view = KsefCertificateView(1, 1, Environment.DEMO, OFFLINE, "01", offline.valid_to, "Active")
    assert view.usable(now)  # offline-ready on each of the four days (it ends on 15 Dec 2027)
    assert not view.usable(fixed_clock("2027-12-16")())


def test_the_suite_can_run_on_another_day(monkeypatch):
    """KSEF_TUI_TEST_DAY (tests/conftest.py) moves the one clock by ``shift``; the app never sets it."""
    from ksef_tui.domain import clock

    before = today(clock.system_clock)
    monkeypatch.setattr(clock, "shift", clock.shift + dt.timedelta(days=365))
    assert (today(clock.system_clock) - before).days in (365, 366)  # midnight may pass meanwhile
