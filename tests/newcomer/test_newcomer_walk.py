"""Issue 14's first acceptance line: every seed flow driven through the pilot exactly as a newcomer does
from the README, at 80x24, in both languages: log in as the README's administrator; enable KSeF for
one company and by serial operation; paste the token from the demo's Downloads; the three Profil
Zaufany steps (signed by the simulated gov.pl); certificate authorization with the demo's files; API
1.0 refused; from a company to its users; a client's self-service view; the blocked client. No file is
copied by hand: everything comes from the demo's own folder. (tests/newcomer/walk.py: newcomer_walk)"""

from __future__ import annotations

from . import walk

EXPECTED = {
    "one company enabled": True,
    "serial enabled": True,
    "pasted token authorizes": True,
    "profil zaufany token active": True,
    "certificate authorizes": True,
    "certificate result on screen": True,
    "api 1.0 refused": True,
    "company to its users": True,
    "client": {"blocked": False, "form usable": True, "sections": False},
    "blocked client": {"blocked": True, "form usable": False, "sections": False},
}


def _check(facts: dict) -> tuple[str, str]:
    footer, refused = facts.pop("footer"), facts.pop("unsigned file refused")
    assert facts == EXPECTED
    return footer, refused


def test_the_newcomer_walk_in_english(tmp_path):
    footer, refused = _check(walk.run_in_language("en", "newcomer_walk", tmp_path))
    assert "? Help" in footer
    assert refused.startswith("The file has no XML signature (ds:Signature); sign it first.\n"), refused


def test_the_newcomer_walk_in_polish(tmp_path):
    footer, refused = _check(walk.run_in_language("pl", "newcomer_walk", tmp_path))
    assert "? Pomoc" in footer
    # Profil Zaufany step 3 in Polish: the reason and the hint (issue 14 item 12)
    assert refused == ("Plik nie ma podpisu XML (ds:Signature); najpierw podpisz plik.\n"
                       "Podpisz plik (np. Profilem Zaufanym na gov.pl) i podaj plik podpisany."), refused
