"""The whole move token → KSeF certificate driven through the panel with real keys (Textual pilot):
F4 dashboard → Enter on the token count → space / ``a`` → ``e`` (Profil Zaufany files in the
watched folder, signed outside the app by a simulated gov.pl) → ``r`` revokes the moved tokens.
Also Esc (cancel) and ``f`` (re-run only what did not succeed) of a running bulk operation.

Everything runs against a strict simulator with production rate limits on; waits poll the app
with generous limits (:func:`~tests.bulk.conftest.wait_for`), never a fixed sleep.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.services.ksef import dashboard as dash
from ksef_tui.services.ksef.bulk import KsefBulk
from ksef_tui.store.models import AuditEntry, KsefCredential
from ksef_tui.ui.app import KsefApp
from ksef_tui.ui.common.dialogs import PlanDialog
from ksef_tui.ui.ksef.bulk_run import ENROLL, REVOKE, TEST, BulkRunScreen
from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

from .conftest import (
    PESEL,
    GovPl,
    choose_types,
    counts,
    give_each_rights,
    give_rights,
    open_bucket,
    same_serial,
    seed,
    shown,
    wait_for,
)

DEMO = Environment.DEMO
MOVE_ACTIONS = ("credential.pz_file", "credential.ksef_certificate_enrolled", "credential.method",
                "credential.token_revoked")


# ---------------------------------------------------------------------------- helpers


def _folder(ctx, tmp_path):
    """The watched folder the dashboard hands to the enrollment (downloads dir from the options)."""
    ctx.options["downloads_dir"] = str(tmp_path / "Downloads")
    return tmp_path / "Downloads" / "ksef-tui-profil-zaufany"


async def _dashboard(pilot) -> KsefDashboardScreen:
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, KsefDashboardScreen), "the KSeF dashboard (F4)")
    return pilot.app.screen


async def confirm_plan(pilot) -> PlanDialog | None:
    """The question before an enrollment, a revocation or a test of several rows (issue 14): says what
    will happen and what is skipped; Cancel has the focus where it cannot be undone. Answer yes."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, (PlanDialog, BulkRunScreen)), "the question")
    dialog = pilot.app.screen
    if not isinstance(dialog, PlanDialog):
        return None
    dialog.query_one("#all").focus()
    await pilot.press("enter")
    return dialog


async def _bulk_screen(pilot, operation: str) -> BulkRunScreen:
    await confirm_plan(pilot)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, BulkRunScreen)
                   and pilot.app.screen.operation == operation, f"the {operation} screen")
    return pilot.app.screen


async def _finished(pilot, run: BulkRunScreen, previous=None) -> None:
    """Until the run shows a report other than ``previous`` (the one before ``f``) and runs no more."""
    await wait_for(pilot, lambda: run.report is not None and run.report is not previous and not run.running
                   and "Finished" in shown(run, "#bulk-status"), f"the {run.operation} run to finish")


def _results_shown(run: BulkRunScreen) -> list:
    """The result rows the screen's table holds (status, message)."""
    return [(r.result.status, r.result.message) for r in run.query_one("#bulk-results").loaded_rows()]


def _creds(ctx) -> dict[int, KsefCredential]:
    with ctx.db.session() as s:
        rows = list(s.scalars(select(KsefCredential)))
        for r in rows:
            s.expunge(r)
    return {r.user_id: r for r in rows}


async def _back_to_dashboard(pilot, run: BulkRunScreen) -> KsefDashboardScreen:
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, KsefDashboardScreen), "back on the dashboard")
    return pilot.app.screen


async def _revoke_moved(pilot, n: int) -> BulkRunScreen:
    """On the dashboard: open "moved, token still kept", ``a``, ``r``, check the question names ``n``, ``y``."""
    screen = pilot.app.screen
    assert counts(screen)[dash.TOKEN_TO_REVOKE] == n
    await open_bucket(pilot, dash.TOKEN_TO_REVOKE)
    await pilot.press("a")
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlanDialog), "the revocation question")
    dialog = pilot.app.screen
    assert (f"KSeF tokens of {n} chosen rows" if n > 1 else "KSeF token of 1 chosen row") in dialog.question
    assert dialog.yes_label == (f"Revoke {n} tokens" if n > 1 else "Revoke 1 token")
    assert dialog.title_text == "Revoke KSeF tokens" and dialog.focused.id == "cancel"
    run = await _bulk_screen(pilot, REVOKE)
    await _finished(pilot, run)
    return run


def _audit_rows(ctx) -> list[AuditEntry]:
    with ctx.db.session() as s:
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        for r in rows:
            s.expunge(r)
    return rows


def _assert_no_secret_in(rows: list[AuditEntry], secrets: list[str]) -> None:
    text = json.dumps([[r.action, r.object_label, r.before, r.after] for r in rows], ensure_ascii=False)
    for secret in secrets:
        assert secret and secret not in text
    for armour in ("PRIVATE KEY", "BEGIN CERTIFICATE", "Signature"):
        assert armour not in text


# ---------------------------------------------------------------------------- one user


async def test_pilot_one_user_token_to_certificate_through_the_panel(bulk_ctx, limited_sim, tmp_path):
    ctx, sim = bulk_ctx, limited_sim.sim
    (t,) = seed(ctx, sim, 1)
    give_rights(sim, [t], ctx)
    folder = _folder(ctx, tmp_path)
    token_ref = _creds(ctx)[t.user_id].token_reference
    token = sim.state.ksef_tokens[token_ref].token

    app = KsefApp(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _dashboard(pilot)
        assert counts(screen)[dash.TOKEN] == 1
        await open_bucket(pilot, dash.TOKEN)
        (row,) = screen.rows_table().loaded_rows()
        assert row.login == "user0000" and row.method == "token"
        await pilot.press("space")
        assert screen.selection == {row.id} and "1 selected" in shown(screen, "#dashboard-rows-title")
        await pilot.press("e")
        await choose_types(pilot)  # Authentication, as ticked

        # step 1: the file waits in the watched folder, and the screen says where and which
        run = await _bulk_screen(pilot, ENROLL)
        await wait_for(pilot, lambda: run.waiting, "the Profil Zaufany file prepared")
        (prepared,) = sorted(folder.glob("AuthTokenRequest-*.xml"))
        assert prepared.name == f"AuthTokenRequest-DEMO-{row.nip}-user0000.xml"
        unsigned = prepared.read_bytes()
        assert b"<Challenge>" in unsigned and row.nip.encode() in unsigned and b"Signature" not in unsigned
        files_line = shown(run, "#bulk-files")
        assert f"Profil Zaufany: 1 file prepared in {folder}." in files_line and "Waiting for 1 of 1." in files_line
        ((status, message),) = _results_shown(run)
        assert status == "waiting" and prepared.name in message and "Profil Zaufany" in message
        assert run.running and not sim.state.certificates  # nothing enrolled before the signature
        assert _creds(ctx)[t.user_id].method == "token"

        # the user signs at gov.pl, outside the app; the run picks the signed file up
        with GovPl(sim, folder) as gov:
            await _finished(pilot, run)
        assert not gov.errors and len(gov.signed) == 1
        assert shown(run, "#bulk-status").startswith("Finished: 1 ok, 0 failed")
        assert shown(run, "#bulk-files") == f"Profil Zaufany: 1 file prepared in {folder}."  # no longer waiting
        ((status, message),) = _results_shown(run)
        assert status == "ok" and "login switched to Certificate" in message, message
        serial = run.report.results[0].detail
        assert serial and serial in message

        # stored sealed, tested with the new certificate, then switched
        view = ctx.credentials.get(ctx.actor, t.user_id, t.company_id, DEMO)
        assert view.method is AuthMethod.CERTIFICATE and view.has_certificate and view.cert_serial == serial
        assert view.cert_identifier == f"PNOPL-{PESEL}" and f"PNOPL-{PESEL}" in (view.cert_subject or "")
        assert view.cert_valid_to is not None and view.cert_valid_to.replace(tzinfo=dt.UTC) > sim.now() + dt.timedelta(days=700)
        assert view.last_auth_ok is True and view.last_auth_method == AuthMethod.CERTIFICATE.value
        stored = _creds(ctx)[t.user_id]
        assert b"BEGIN" not in stored.cert_blob and b"PRIVATE" not in stored.key_blob
        async with KsefBulk(ctx.credentials, ctx.actor) as bulk:  # the vault opens what it sealed
            assert bulk.load(t).certificate.facts.serial_number == serial
        tested = [o for o in sim.state.operations.values() if same_serial(o.certificate_serial, serial)]
        assert tested and all(o.outcome_code == 200 and o.redeemed for o in tested)
        assert view.last_auth_reference in {o.reference_number for o in tested}
        assert view.has_token and not sim.state.ksef_tokens[token_ref].revoked  # the token waits for `r`

        # back on the dashboard: r revokes the moved token
        screen = await _back_to_dashboard(pilot, run)
        assert counts(screen)[dash.TOKEN] == 0 and counts(screen)[dash.CERTIFICATE] == 1
        run = await _revoke_moved(pilot, 1)
        assert shown(run, "#bulk-status").startswith("Finished: 1 ok, 0 failed")
        ((status, message),) = _results_shown(run)
        assert status == "ok" and token_ref in message
        screen = await _back_to_dashboard(pilot, run)
        assert counts(screen)[dash.TOKEN_TO_REVOKE] == 0

    assert sim.state.ksef_tokens[token_ref].revoked
    stored = _creds(ctx)[t.user_id]
    assert stored.token_blob is None and stored.token_status == "Revoked" and stored.method == "certificate"

    # all audited, in order, and no secret in the log
    rows = [r for r in _audit_rows(ctx) if r.action in MOVE_ACTIONS]
    assert [r.action for r in rows] == list(MOVE_ACTIONS), [r.action for r in rows]
    pz, enrolled, method, revoked = rows
    assert pz.object_type == "company" and pz.object_id == t.company_id
    assert {enrolled.object_id, method.object_id, revoked.object_id} == {stored.id}
    assert json.loads(enrolled.after)["certificate_serial"] == serial and json.loads(enrolled.after)["road"] == "pz"
    assert json.loads(method.before)["method"] == "token" and json.loads(method.after)["method"] == "certificate"
    assert json.loads(method.after)["tested_reference"] == view.last_auth_reference
    assert json.loads(revoked.after)["token_reference"] == token_ref
    _assert_no_secret_in(_audit_rows(ctx), [token])


async def test_a_signed_file_saved_over_the_prepared_one_is_picked_up(bulk_ctx, limited_sim, tmp_path):
    """gov.pl's download may be saved under the prepared file's own name: the watch still sees it."""
    ctx, sim = bulk_ctx, limited_sim.sim
    (t,) = seed(ctx, sim, 1)
    give_rights(sim, [t], ctx)
    folder = _folder(ctx, tmp_path)
    app = KsefApp(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await _dashboard(pilot)
        await open_bucket(pilot, dash.TOKEN)
        await pilot.press("space", "e")
        await choose_types(pilot)
        run = await _bulk_screen(pilot, ENROLL)
        await wait_for(pilot, lambda: run.waiting, "the Profil Zaufany file prepared")
        with GovPl(sim, folder, in_place=True) as gov:
            await _finished(pilot, run)
        assert not gov.errors and [p.name for p in gov.signed] == [p.name for p in folder.glob("*.xml")]
        assert shown(run, "#bulk-status").startswith("Finished: 1 ok, 0 failed"), _results_shown(run)
    assert _creds(ctx)[t.user_id].method == "certificate"


# ---------------------------------------------------------------------------- twenty users


async def test_twenty_users_through_the_watched_folder_in_the_panel(bulk_ctx, limited_sim, tmp_path):
    ctx, sim = bulk_ctx, limited_sim.sim
    targets = seed(ctx, sim, 20, users_per_company=2)
    people = give_each_rights(sim, targets, ctx)
    folder = _folder(ctx, tmp_path)
    token_refs = {c.token_reference for c in _creds(ctx).values()}
    tokens = [sim.state.ksef_tokens[r].token for r in token_refs]

    app = KsefApp(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _dashboard(pilot)
        assert counts(screen)[dash.TOKEN] == 20
        await open_bucket(pilot, dash.TOKEN)
        await pilot.press("a")
        assert len(screen.selection) == 20 and "20 selected" in shown(screen, "#dashboard-rows-title")
        await pilot.press("e")
        await choose_types(pilot)
        run = await _bulk_screen(pilot, ENROLL)
        await wait_for(pilot, lambda: len(run.waiting) == 20, "20 Profil Zaufany files prepared")
        assert len(list(folder.glob("AuthTokenRequest-*.xml"))) == 20
        assert (f"20 files prepared in {folder}. Sign each one with Profil Zaufany (at gov.pl) or a qualified "
                "signature") in shown(run, "#bulk-files")
        assert [s for s, _m in _results_shown(run)] == ["waiting"] * 20

        with GovPl(sim, folder, people) as gov:
            await _finished(pilot, run)
        assert not gov.errors and len(gov.signed) == 20
        status = shown(run, "#bulk-status")
        assert status.startswith("Finished: 20 ok, 0 failed, 0 temporary errors, 0 skipped, 0 not run"), status
        assert run.report.counts["ok"] == 20
        assert [s for s, _m in _results_shown(run)] == ["ok"] * 20

        creds = _creds(ctx)
        assert {c.method for c in creds.values()} == {"certificate"}
        assert len({c.cert_serial for c in creds.values()}) == 20 and all(c.last_auth_ok for c in creds.values())

        screen = await _back_to_dashboard(pilot, run)
        assert counts(screen)[dash.TOKEN] == 0 and counts(screen)[dash.CERTIFICATE] == 20
        run = await _revoke_moved(pilot, 20)
        assert shown(run, "#bulk-status").startswith("Finished: 20 ok, 0 failed")

    assert all(sim.state.ksef_tokens[r].revoked for r in token_refs)
    assert all(c.token_blob is None for c in _creds(ctx).values())
    rows = _audit_rows(ctx)
    for action in MOVE_ACTIONS:
        assert sum(1 for r in rows if r.action == action) == 20, action
    _assert_no_secret_in(rows, tokens)


# ---------------------------------------------------------------------------- Esc and f


async def test_esc_cancels_a_running_test_and_f_reruns_only_the_rows_that_did_not_succeed(bulk_ctx, limited_sim):
    ctx, sim = bulk_ctx, limited_sim.sim
    targets = seed(ctx, sim, 6)
    creds = _creds(ctx)
    bad = {t.user_id for t in targets[:2]}  # two tokens revoked in KSeF: a final "no"
    for uid in bad:
        sim.state.ksef_tokens[creds[uid].token_reference].revoked = True
    sim.config.status_delay_s = 600.0  # every authorization stays "in progress" until Esc

    app = KsefApp(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await _dashboard(pilot)
        await open_bucket(pilot, dash.TOKEN)
        await pilot.press("a", "t")
        run = await _bulk_screen(pilot, TEST)
        await wait_for(pilot, lambda: len(sim.state.operations) == 6, "all six authorizations in flight")
        assert run.running and not _results_shown(run)
        await pilot.press("escape")
        await _finished(pilot, run)
        assert isinstance(app.screen, BulkRunScreen)  # Esc while running cancels, it does not close
        status = shown(run, "#bulk-status")
        assert status.startswith("Finished (cancelled): 0 ok, 0 failed, 0 temporary errors, 0 skipped, 6 not run")
        assert "f: re-run the 6 rows" in status
        assert [s for s, _m in _results_shown(run)] == ["cancelled"] * 6
        assert all("nothing was saved" in m for _s, m in _results_shown(run))
        after_cancel = _creds(ctx)
        for uid, c in after_cancel.items():  # nothing half-saved
            assert (c.last_auth_at, c.last_auth_ok, c.last_auth_reference, c.token_status, c.version) == \
                (creds[uid].last_auth_at, None, None, "Active", creds[uid].version)

        sim.config.status_delay_s = 0.0
        cancelled = run.report
        await pilot.press("f")
        await _finished(pilot, run, cancelled)
        status = shown(run, "#bulk-status")
        assert status.startswith("Finished: 4 ok, 2 failed"), status
        assert "f: re-run the 2 rows" in status
        first = _creds(ctx)
        assert {uid for uid, c in first.items() if c.last_auth_ok is False} == bad
        assert all(first[uid].token_status == "Revoked" for uid in bad)

        ops_before = set(sim.state.operations)
        rerun = run.report
        await pilot.press("f")
        await _finished(pilot, run, rerun)
        assert shown(run, "#bulk-status").startswith("Finished: 4 ok, 2 failed")
        new_ops = [sim.state.operations[r] for r in set(sim.state.operations) - ops_before]
        bad_nips = {sim.state.ksef_tokens[creds[uid].token_reference].context_value for uid in bad}
        assert len(new_ops) == 2 and {o.context_value for o in new_ops} == bad_nips  # only the failed rows
        second = _creds(ctx)
        for uid, c in second.items():
            if uid not in bad:  # the rows that were fine were not touched again
                assert (c.last_auth_at, c.last_auth_reference) == (first[uid].last_auth_at, first[uid].last_auth_reference)


async def test_esc_stops_the_watch_and_f_prepares_fresh_files(bulk_ctx, limited_sim, tmp_path):
    """Cancelling an enrollment that waits for signed files stores nothing; ``f`` prepares new files
    (new challenges), which are then signed and processed."""
    ctx, sim = bulk_ctx, limited_sim.sim
    targets = seed(ctx, sim, 3)
    people = give_each_rights(sim, targets, ctx)
    folder = _folder(ctx, tmp_path)
    app = KsefApp(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await _dashboard(pilot)
        await open_bucket(pilot, dash.TOKEN)
        await pilot.press("a", "e")
        await choose_types(pilot)
        run = await _bulk_screen(pilot, ENROLL)
        await wait_for(pilot, lambda: len(run.waiting) == 3, "three files prepared")
        first_files = {p.name: p.read_bytes() for p in folder.glob("*.xml")}
        assert len(first_files) == 3
        await pilot.press("escape")
        await _finished(pilot, run)
        assert shown(run, "#bulk-status").startswith("Finished (cancelled): 0 ok, 0 failed, 0 temporary errors, "
                                                     "0 skipped, 3 not run")
        assert [s for s, _m in _results_shown(run)] == ["cancelled"] * 3
        assert {c.method for c in _creds(ctx).values()} == {"token"} and not sim.state.certificates
        assert all(c.cert_blob is None for c in _creds(ctx).values())

        with GovPl(sim, folder, people) as gov:
            cancelled = run.report
            await pilot.press("f")
            await _finished(pilot, run, cancelled)
        assert not gov.errors
        assert shown(run, "#bulk-status").startswith("Finished: 3 ok, 0 failed"), _results_shown(run)
        renewed = {p.name: p.read_bytes() for p in folder.glob("AuthTokenRequest-*-user????.xml")}
        assert renewed.keys() == first_files.keys()
        assert all(renewed[n] != first_files[n] for n in renewed)  # fresh challenges
    assert {c.method for c in _creds(ctx).values()} == {"certificate"}
