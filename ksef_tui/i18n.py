"""UI language: English (source strings) and Polish (gettext catalog).

Strings are marked with ``_()`` and looked up when called, so the language
chosen at start (``--lang`` or LANG) applies everywhere. The Polish catalog is
``locale/pl/LC_MESSAGES/ksef_tui.po``; its compiled ``.mo`` is committed and a
test keeps the two in step (``python -m ksef_tui.i18n compile``).
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "ksef_tui"
LOCALE_DIR = Path(__file__).parent / "locale"
SUPPORTED = ("en", "pl")

_language = "en"
_translation: gettext.NullTranslations = gettext.NullTranslations()


def detect_language(explicit: str | None = None, environ: dict[str, str] | None = None) -> str:
    """``--lang`` wins; then LANGUAGE, LC_ALL, LC_MESSAGES, LANG; English otherwise."""
    if explicit:
        code = explicit.strip().lower()[:2]
        if code not in SUPPORTED:
            raise ValueError(f"unsupported language {explicit!r} (use en or pl)")
        return code
    env = os.environ if environ is None else environ
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            code = value.split(":")[0].lower()[:2]
            return code if code in SUPPORTED else "en"
    return "en"


def set_language(code: str) -> None:
    global _language, _translation
    code = code if code in SUPPORTED else "en"
    _language = code
    if code == "en":
        _translation = gettext.NullTranslations()
    else:
        _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)


def language() -> str:
    return _language


def _(message: str) -> str:
    return _translation.gettext(message)


def N_(message: str) -> str:
    """Mark a string for the catalog without translating it here (tables, noun phrases passed on);
    the reader translates it with ``_()`` when it is said."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def pick(en: str, pl: str) -> str:
    """For texts kept as pairs in tables (KSeF error hints)."""
    return pl if _language == "pl" else en


def _compile() -> None:  # pragma: no cover - developer tool
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in LOCALE_DIR.glob("*/LC_MESSAGES/*.po"):
        with po_path.open("rb") as f:
            catalog = read_po(f)
        with po_path.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)
        print(f"compiled {po_path}")


def extract_messages():  # pragma: no cover - developer tool, used by a test too
    """Every ``_()``/``N_()``/``ngettext()`` string in the package (a babel Catalog)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="ksef-tui", charset="utf-8")
    root = Path(__file__).parent
    method_map = [("**.py", "python")]
    keywords = {"_": None, "N_": None, "ngettext": (1, 2)}
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), method_map=method_map, keywords=keywords
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _update() -> None:  # pragma: no cover - developer tool
    from babel.messages.pofile import read_po, write_po

    template = extract_messages()
    for po_path in LOCALE_DIR.glob("*/LC_MESSAGES/*.po"):
        with po_path.open("rb") as f:
            catalog = read_po(f)
        catalog.update(template, no_fuzzy_matching=True)
        with po_path.open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False, ignore_obsolete=True)
        missing = sum(1 for m in catalog if m.id and not m.string)
        print(f"updated {po_path}: {missing} untranslated")


if __name__ == "__main__":  # pragma: no cover
    import sys

    commands = {"compile": _compile, "update": _update}
    if len(sys.argv) == 2 and sys.argv[1] in commands:
        commands[sys.argv[1]]()
    else:
        print("usage: python -m ksef_tui.i18n update|compile")
