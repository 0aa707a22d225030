"""Why 12 (footers) and the acceptance line "at 80x24 complete footers in both languages on every
screen": every screen the administrator and the clients reach, its footer drawn whole at 80 columns,
in English (here) and in Polish (a process started in Polish, as ``ksef-tui --lang pl``).

Before: the dashboard's footer needed 113 columns in English and 132 in Polish ("Unieważnij to",
"Op. seryj" cut), the Users footer 83 in Polish. The drawn footers are kept, one screen a line, in
footers_en.txt / footers_pl.txt (reviewed; ``--snapshot-update`` rewrites them)."""

from __future__ import annotations

from pathlib import Path

from . import walk

HERE = Path(__file__).parent


def _update(request) -> bool:
    return bool(request.config.getoption("--snapshot-update", default=False))


def test_footers_fit_at_80_columns_in_english(request):
    footers, problems = walk.footers_of_every_screen()
    assert not problems
    assert len(footers) >= 15
    walk.compare_with(HERE / "footers_en.txt", footers, lambda: _update(request))


def test_footers_fit_at_80_columns_in_polish(request, tmp_path):
    footers, problems = walk.run_in_language("pl", "footers_of_every_screen", tmp_path)
    assert not problems
    assert "Pomoc" in footers["companies"]  # really Polish
    walk.compare_with(HERE / "footers_pl.txt", footers, lambda: _update(request))
