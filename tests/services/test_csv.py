import io

import pytest

from ksef_tui.errors import ImportFailed
from ksef_tui.services.companies import CompanyFilter


def test_import_companies_all_or_nothing(ctx):
    bad = b"name,nip,ksef_enabled\nAlfa,526-587-76-35,true\nBeta,1234567890,false\nGamma,7762811692,maybe\nDelta,5265877635,\n"
    with pytest.raises(ImportFailed) as e:
        ctx.csv.import_companies(ctx.actor, bad)
    where = [(p.line, p.column) for p in e.value.problems]
    assert where == [(3, "nip"), (4, "ksef_enabled"), (5, "nip")]
    assert ctx.companies.count(ctx.actor) == 0
    good = "\ufeffname;nip;ksef_enabled;address\nAlfa;526-587-76-35;tak;ul. Długa 1\nŁąka;7762811692;false;\n".encode()
    assert ctx.csv.import_companies(ctx.actor, good).created == 2
    assert ctx.companies.count(ctx.actor, CompanyFilter(ksef=True)) == 1
    with pytest.raises(ImportFailed, match="already exists"):
        ctx.csv.import_companies(ctx.actor, b"name,nip\nAgain,5265877635\n")


def test_import_header_problems(ctx):
    with pytest.raises(ImportFailed) as e:
        ctx.csv.import_companies(ctx.actor, b"nazwa,nip,color\n")
    assert {p.column for p in e.value.problems} == {"name", "nazwa", "color"}
    with pytest.raises(ImportFailed, match="not UTF-8"):
        ctx.csv.import_companies(ctx.actor, "name,nip\nZażółć,5265877635\n".encode("cp1250"))


def test_import_users_with_memberships(ctx):
    ctx.csv.import_companies(ctx.actor, b"name,nip\nAlfa,5265877635\nBeta,7762811692\n")
    bad = b"login,full_name,email,role,companies\nanna,Anna Nowak,anna@example.pl,client,5265877635;7762811692\nbob,Bob,bob@x,boss,3755747347\n"
    with pytest.raises(ImportFailed) as e:
        ctx.csv.import_users(ctx.actor, bad)
    assert {(p.line, p.column) for p in e.value.problems} == {(3, "email"), (3, "role"), (3, "companies")}
    assert ctx.users.count(ctx.actor) == 0
    good = b"login,full_name,email,role,companies\nanna,Anna Nowak,anna@example.pl,client,526-587-76-35;7762811692\nadm,Adam Admin,,admin,\n"
    assert ctx.csv.import_users(ctx.actor, good).created == 2
    anna = ctx.users.find_by_login(ctx.actor, "anna")
    assert len(anna.company_ids) == 2
    out = io.StringIO()
    ctx.csv.export_users(ctx.actor, out)
    assert "anna,Anna Nowak,anna@example.pl,client,5265877635;7762811692,true,false" in out.getvalue()


def test_export_companies_round_trip(seeded_ctx, tmp_path, db_url):
    out = io.StringIO()
    n = seeded_ctx.csv.export_companies(seeded_ctx.actor, out)
    assert n == 300
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("name,nip,ksef_enabled")
    assert all(line.split(",")[-4] in ("true", "false") for line in lines[1:] if line.count(",") == 5)
