"""The Polish catalog: complete, compiled, placeholder-safe, and used by the UI and the CLI."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

babel = pytest.importorskip("babel")

from babel.messages.mofile import read_mo, write_mo  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

from ksef_tui import i18n  # noqa: E402

PO = i18n.LOCALE_DIR / "pl" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
MO = PO.with_suffix(".mo")
ROOT = Path(i18n.__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _po():
    with PO.open("rb") as f:
        return read_po(f)


def _key(message) -> tuple:
    ids = tuple(message.id) if isinstance(message.id, (list, tuple)) else message.id
    return (message.context, ids)


def _strings(message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string,)


def _messages(catalog) -> dict[tuple, tuple[str, ...]]:
    return {_key(m): _strings(m) for m in catalog if m.id}


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_every_extracted_string_has_a_polish_translation():
    catalog = _po()
    assert catalog.num_plurals == 3
    missing, fuzzy, bad_plural = [], [], []
    for message in i18n.extract_messages():
        if not message.id:
            continue
        translated = catalog.get(message.id, context=message.context)
        if translated is None or not all(s.strip() for s in _strings(translated)):
            missing.append(message.id)
            continue
        if translated.fuzzy:
            fuzzy.append(message.id)
        if message.pluralizable and len(_strings(translated)) != 3:
            bad_plural.append(message.id)
    assert not missing, f"untranslated in {PO.name} (run `python -m ksef_tui.i18n update`): {missing}"
    assert not fuzzy, f"fuzzy translations: {fuzzy}"
    assert not bad_plural, f"Polish plurals need 3 forms: {bad_plural}"


def test_no_fuzzy_flags_in_the_po():
    assert not [m.id for m in _po() if m.id and m.fuzzy]


def test_the_committed_mo_matches_the_po():
    catalog = _po()
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    expected = read_mo(compiled)
    with MO.open("rb") as f:
        committed = read_mo(f)
    assert _messages(committed) == _messages(expected), (
        "ksef_tui.mo is stale: run `python -m ksef_tui.i18n compile`")
    assert committed.plural_forms == expected.plural_forms


def test_translations_keep_the_placeholders():
    wrong = []
    for message in _po():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        expected = {tuple(_placeholders(i)) for i in ids}
        for text in _strings(message):
            if text and tuple(_placeholders(text)) not in expected:
                wrong.append((ids[-1], text))
    assert not wrong, f"placeholders differ from the msgid: {wrong}"


def test_set_language_pl_translates():
    i18n.set_language("pl")
    try:
        assert i18n.language() == "pl"
        assert i18n._("Companies") == "Firmy"
        assert i18n._("Additional data") == "Dane dodatkowe"
        assert i18n._("Serial operations") == "Operacje seryjne"
        assert i18n.ngettext("{n} day left", "{n} days left", 1).format(n=1) == "został 1 dzień"
        assert i18n.ngettext("{n} day left", "{n} days left", 3).format(n=3) == "zostały 3 dni"
        assert i18n.ngettext("{n} day left", "{n} days left", 5).format(n=5) == "zostało 5 dni"
    finally:
        i18n.set_language("en")
    assert i18n._("Companies") == "Companies"


def test_ksef_statuses_are_shown_in_polish():
    from ksef_tui.ui.ksef.status import ksef_status_label

    assert ksef_status_label("Active") == "Active" and ksef_status_label("Revoked") == "Revoked"
    i18n.set_language("pl")
    try:
        assert ksef_status_label("Active") == "aktywny"
        assert ksef_status_label("Revoked") == "unieważniony"
        assert ksef_status_label("SomethingNew") == "SomethingNew"  # as KSeF wrote it
    finally:
        i18n.set_language("en")


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ksef_tui", *args], cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def test_cli_prints_polish_errors(tmp_path):
    english = "NIP {value} must have 10 digits.".format(value="123")
    polish = _po().get("NIP {value} must have 10 digits.").string.format(value="123")
    assert polish != english
    url = f"sqlite:///{tmp_path / 'i18n.db'}"
    result = _run_cli("--lang", "pl", "--database", url, "companies", "enable-ksef", "123")
    assert result.returncode != 0
    assert polish in result.stderr
    assert english not in result.stderr
    result = _run_cli("--lang", "en", "--database", url, "companies", "enable-ksef", "123")
    assert result.returncode != 0
    assert english in result.stderr


def test_cli_help_in_polish_still_works():
    result = _run_cli("--lang", "pl", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
