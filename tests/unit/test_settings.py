"""The one settings object: file, environment over it, defaults; written atomically 0600."""

from __future__ import annotations

import datetime as dt
import stat

import pytest

from ksef_tui.domain.token_policy import PolicyOrigin
from ksef_tui.settings import (
    DEFAULT,
    ENVIRONMENT,
    FILE,
    FileValues,
    Paths,
    SettingsError,
    get_settings,
    load_settings,
    reset_settings,
    save_settings,
    with_token_policy,
)


@pytest.fixture
def paths(tmp_path) -> Paths:
    return Paths(tmp_path / "config", tmp_path / "data", tmp_path / "state")


def test_defaults_without_a_file(paths):
    s = load_settings({}, paths)
    assert s.database_url == f"sqlite:///{paths.data_dir / 'ksef-tui.sqlite3'}"
    assert s.master_key.file == paths.config_dir / "master.key" and not s.master_key.from_environment
    assert s.keymap_file == paths.config_dir / "keymap.toml"
    assert s.language is None
    assert s.token_policy.last_day == dt.date(2027, 11, 30) and s.token_policy.origin is PolicyOrigin.DEFAULT
    assert s.token_policy.source_date == dt.date(2026, 9, 10)
    assert {s.origin(k) for k in ("database_url", "language", "keymap_file", "token_policy")} == {DEFAULT}


def test_file_then_environment(paths):
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text(
        'database_url = "postgresql+psycopg://ksef@db/ksef"\nlanguage = "pl"\nkeymap_file = "~/keys.toml"\n'
        '[token_policy]\nlast_day = 2027-06-30\nsource = "Komunikat MF"\nsource_date = 2027-01-15\n', "utf-8")
    s = load_settings({}, paths)
    assert s.database_url == "postgresql+psycopg://ksef@db/ksef" and s.origin("database_url") == FILE
    assert s.language == "pl" and s.keymap_file.name == "keys.toml" and "~" not in str(s.keymap_file)
    p = s.token_policy
    assert (p.last_day, p.origin, p.source, p.source_date) == (
        dt.date(2027, 6, 30), PolicyOrigin.SETTINGS, "Komunikat MF", dt.date(2027, 1, 15))
    env = {"KSEF_TUI_DATABASE_URL": "sqlite:///x.db", "KSEF_TUI_LANG": "en", "KSEF_TUI_TOKEN_LAST_DAY": "2026-12-31",
           "KSEF_TUI_MASTER_KEY": "abc"}
    s = load_settings(env, paths)
    assert s.database_url == "sqlite:///x.db" and s.origin("database_url") == ENVIRONMENT
    assert s.language == "en" and s.master_key.from_environment
    assert s.token_policy.last_day == dt.date(2026, 12, 31) and s.token_policy.origin is PolicyOrigin.ENVIRONMENT
    assert s.origin("token_policy") == ENVIRONMENT


@pytest.mark.parametrize("content, code, where", [
    ("[token_policy]\nlast_day = 2027-13-01\n", "not-toml", "settings.toml"),
    ("[token_policy]\nlast_day = \"30.11.2027\"\n", "bad-date", "last_day"),
    ("[token_policy]\nlast_day = 2020-01-01\n", "bad-date", "last_day"),
    ("language = \"de\"\n", "bad-value", "language"),
    ("database_url = 5\n", "bad-value", "database_url"),
    ("token_policy = 3\n", "bad-value", "token_policy"),
])
def test_bad_file_values_are_named(paths, content, code, where):
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text(content, "utf-8")
    with pytest.raises(SettingsError) as e:
        load_settings({}, paths)
    assert e.value.code == code and where in str(e.value)


def test_bad_environment_date_is_named(paths):
    with pytest.raises(SettingsError) as e:
        load_settings({"KSEF_TUI_TOKEN_LAST_DAY": "next year"}, paths)
    assert "KSEF_TUI_TOKEN_LAST_DAY must be a date in the form YYYY-MM-DD" in str(e.value)


def test_bad_values_in_polish(paths):
    from ksef_tui import i18n

    i18n.set_language("pl")
    with pytest.raises(SettingsError) as e:
        load_settings({"KSEF_TUI_TOKEN_LAST_DAY": "jutro"}, paths)
    assert "musi być datą w postaci RRRR-MM-DD" in e.value.message()


def test_saved_atomically_0600_and_read_back(paths, monkeypatch):
    s = load_settings({}, paths)
    values = with_token_policy(FileValues(language="pl"), dt.date(2027, 3, 31), "Rozporządzenie MF \"nowe\"",
                               dt.date(2027, 2, 1))
    monkeypatch.setenv("KSEF_TUI_DATABASE_URL", "sqlite:///env.db")  # never written into the file
    fresh = save_settings(s, values)
    mode = stat.S_IMODE(paths.settings_file.stat().st_mode)
    assert mode == 0o600
    text = paths.settings_file.read_text("utf-8")
    assert "env.db" not in text and 'language = "pl"' in text and "last_day = 2027-03-31" in text
    assert [p.name for p in paths.config_dir.iterdir()] == ["settings.toml"]  # no temporary file left
    assert fresh.token_policy.source == 'Rozporządzenie MF "nowe"' and fresh.token_policy.last_day == dt.date(2027, 3, 31)
    assert get_settings() is fresh  # the process's settings are the saved ones
    back = save_settings(fresh, with_token_policy(fresh.file_values, None))
    assert back.token_policy.origin is PolicyOrigin.DEFAULT and "token_policy" not in paths.settings_file.read_text()
    reset_settings()


def test_read_once(monkeypatch):
    first = get_settings()
    monkeypatch.setenv("KSEF_TUI_TOKEN_LAST_DAY", "2026-12-31")
    assert get_settings() is first  # read once: a later change of the environment is not seen
    reset_settings()
    assert get_settings().token_policy.last_day == dt.date(2026, 12, 31)
