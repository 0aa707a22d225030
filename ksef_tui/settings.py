"""The app's settings: ONE typed object, read once, with environment overrides (posting's model).

Where a value comes from, strongest first: the environment (``KSEF_TUI_*``), the settings file
``settings.toml`` in the config folder, the default. Paths follow the platform's conventions
(platformdirs: XDG on Linux). The file is read and written through :mod:`ksef_tui.files` (a regular file with a size cap;
atomically, mode 0600), and written only with what the office set in it: a value that came from the environment is never written into the file.

The settings file (every key optional)::

    database_url = "postgresql+psycopg://ksef@db.example/ksef"
    language = "pl"
    master_key_file = "/etc/ksef-tui/master.key"
    keymap_file = "/home/office/.config/ksef-tui/keymap.toml"

    [token_policy]
    last_day = 2027-11-30          # the last day tokens issued before 2027 work
    source = "Komunikat MF"        # where the office has the date from
    source_date = 2026-09-10       # the date of that source

Environment overrides: ``KSEF_TUI_DATABASE_URL``, ``KSEF_TUI_LANG``, ``KSEF_TUI_MASTER_KEY`` (the
key itself; the key file is then not read), ``KSEF_TUI_MASTER_KEY_FILE``, ``KSEF_TUI_KEYMAP``,
``KSEF_TUI_TOKEN_LAST_DAY=YYYY-MM-DD``.

Errors say what is wrong and where (:class:`SettingsError`, with a ``code`` and the file or
variable), so a front end can say it in the user's language.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ksef_tui.domain.token_policy import (
    DEFAULT_POLICY,
    LAST_DAY_ENV,
    InvalidLastDay,
    PolicyOrigin,
    TokenPolicy,
    parse_last_day,
)

APP_NAME = "ksef-tui"
SETTINGS_FILE = "settings.toml"
MAX_SETTINGS_BYTES = 64_000

DATABASE_ENV = "KSEF_TUI_DATABASE_URL"
LANGUAGE_ENV = "KSEF_TUI_LANG"
MASTER_KEY_ENV = "KSEF_TUI_MASTER_KEY"
MASTER_KEY_FILE_ENV = "KSEF_TUI_MASTER_KEY_FILE"
KEYMAP_ENV = "KSEF_TUI_KEYMAP"
TOKEN_LAST_DAY_ENV = LAST_DAY_ENV
LANGUAGES = ("en", "pl")

#: where a value came from
DEFAULT, FILE, ENVIRONMENT = "default", "file", "environment"


class SettingsError(ValueError):
    """A setting that cannot be used: ``code`` names the problem, ``where`` the file or variable."""

    def __init__(self, code: str, where: str, detail: str = "") -> None:
        self.code = code  # unreadable | not-toml | bad-value | bad-date | not-writable
        self.where = where
        self.detail = detail
        super().__init__(self.message())

    def message(self) -> str:
        """The problem in the user's language (English until a language is chosen)."""
        from ksef_tui.i18n import _

        text = {
            "unreadable": _("Cannot read the settings file {where}: {detail}"),
            "not-toml": _("The settings file {where} is not valid TOML: {detail}"),
            "bad-value": _("The setting {where} is wrong: {detail}"),
            "bad-date": _("{where} must be a date in the form YYYY-MM-DD, e.g. 2027-11-30 ({detail})."),
            "not-writable": _("Cannot write the settings file {where}: {detail}"),
        }.get(self.code, "{where}: {detail}")
        return text.format(where=self.where, detail=self.detail or self.code)


@dataclass(frozen=True)
class Paths:
    """The folders the app uses (platformdirs), and the files it keeps in them by default."""

    config_dir: Path
    data_dir: Path
    state_dir: Path

    @classmethod
    def of_platform(cls) -> Paths:
        import platformdirs

        return cls(Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
                   Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
                   Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)))

    @property
    def settings_file(self) -> Path:
        return self.config_dir / SETTINGS_FILE

    @property
    def default_database(self) -> Path:
        return self.data_dir / "ksef-tui.sqlite3"

    @property
    def default_master_key_file(self) -> Path:
        return self.config_dir / "master.key"

    @property
    def default_keymap_file(self) -> Path:
        return self.config_dir / "keymap.toml"


@dataclass(frozen=True)
class MasterKeySource:
    """Where the master key comes from: the ``KSEF_TUI_MASTER_KEY`` variable, or a 0600 file."""

    from_environment: bool
    file: Path

    def describe(self) -> str:
        return MASTER_KEY_ENV if self.from_environment else str(self.file)


@dataclass(frozen=True)
class FileValues:
    """What the settings file says (``None``: not set there); the part :func:`save_settings` writes."""

    database_url: str | None = None
    language: str | None = None
    master_key_file: Path | None = None
    keymap_file: Path | None = None
    token_last_day: dt.date | None = None
    token_source: str = ""
    token_source_date: dt.date | None = None


@dataclass(frozen=True)
class Settings:
    """Everything the app is configured with, resolved (environment > file > default)."""

    paths: Paths
    database_url: str
    master_key: MasterKeySource
    language: str | None  # None: from the system's locale variables
    token_policy: TokenPolicy
    keymap_file: Path
    #: what the settings file itself holds (written back by :func:`save_settings`)
    file_values: FileValues = field(default_factory=FileValues)
    #: where each resolved value came from: DEFAULT, FILE or ENVIRONMENT
    origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def settings_file(self) -> Path:
        return self.paths.settings_file

    def origin(self, name: str) -> str:
        return self.origins.get(name, DEFAULT)


# ---------------------------------------------------------------------------------- reading


def _read_file(path: Path) -> dict[str, Any]:
    """The settings file as a dict ({} when there is none): a regular file of at most 64 kB (files.read_limited)."""
    import tomllib

    from ksef_tui.files import FileRefused, read_limited

    if not path.exists() and not path.is_symlink():
        return {}
    try:
        data = read_limited(path, limit=MAX_SETTINGS_BYTES)
    except FileRefused as exc:
        raise SettingsError("unreadable", str(path), str(exc)) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError("not-toml", str(path), str(exc)) from None


def _text(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SettingsError("bad-value", f"{where}: {key}", "expected a non-empty text")
    return value.strip()


def _date(data: Mapping[str, Any], key: str, where: str) -> dt.date | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        text = value.isoformat()
    elif isinstance(value, str):
        text = value
    else:
        raise SettingsError("bad-date", f"{where}: {key}", repr(value))
    try:
        return parse_last_day(text) if key == "last_day" else dt.date.fromisoformat(text.strip())
    except (InvalidLastDay, ValueError) as exc:
        raise SettingsError("bad-date", f"{where}: {key}", str(exc)) from None


def file_values(path: Path) -> FileValues:
    data = _read_file(path)
    where = str(path)
    language = _text(data, "language", where)
    if language is not None and language.lower()[:2] not in LANGUAGES:
        raise SettingsError("bad-value", f"{where}: language", "use en or pl")
    policy = data.get("token_policy") or {}
    if not isinstance(policy, dict):
        raise SettingsError("bad-value", f"{where}: token_policy", "expected a table")
    mk, km = _text(data, "master_key_file", where), _text(data, "keymap_file", where)
    return FileValues(
        database_url=_text(data, "database_url", where),
        language=language.lower()[:2] if language else None,
        master_key_file=Path(mk).expanduser() if mk else None,
        keymap_file=Path(km).expanduser() if km else None,
        token_last_day=_date(policy, "last_day", f"{where} [token_policy]"),
        token_source=(_text(policy, "source", f"{where} [token_policy]") or "")[:200],
        token_source_date=_date(policy, "source_date", f"{where} [token_policy]"),
    )


def load_settings(environ: Mapping[str, str] | None = None, paths: Paths | None = None) -> Settings:
    """Read the settings now (the file, then the environment over it). Most code wants
    :func:`get_settings`, which reads them once."""
    env = os.environ if environ is None else environ
    paths = paths or Paths.of_platform()
    values = file_values(paths.settings_file)
    origins: dict[str, str] = {}

    def pick(name: str, env_var: str, from_file: Any, default: Any) -> Any:
        if env.get(env_var, "").strip():
            origins[name] = ENVIRONMENT
            return env[env_var].strip()
        if from_file is not None:
            origins[name] = FILE
            return from_file
        origins[name] = DEFAULT
        return default

    database_url = pick("database_url", DATABASE_ENV, values.database_url, f"sqlite:///{paths.default_database}")
    language = pick("language", LANGUAGE_ENV, values.language, None)
    if language is not None:
        language = str(language).lower()[:2]
        if language not in LANGUAGES:
            raise SettingsError("bad-value", LANGUAGE_ENV, "use en or pl")
    key_file = Path(pick("master_key_file", MASTER_KEY_FILE_ENV, values.master_key_file,
                         paths.default_master_key_file)).expanduser()
    master_key = MasterKeySource(bool(env.get(MASTER_KEY_ENV, "").strip()), key_file)
    if master_key.from_environment:
        origins["master_key"] = ENVIRONMENT
    keymap = Path(pick("keymap_file", KEYMAP_ENV, values.keymap_file, paths.default_keymap_file)).expanduser()
    policy = _token_policy(env, values)
    origins["token_policy"] = {PolicyOrigin.ENVIRONMENT: ENVIRONMENT, PolicyOrigin.SETTINGS: FILE}.get(
        policy.origin, DEFAULT)
    return Settings(paths, str(database_url), master_key, language, policy, keymap, values, origins)


def _token_policy(env: Mapping[str, str], values: FileValues) -> TokenPolicy:
    text = env.get(TOKEN_LAST_DAY_ENV, "").strip()
    if text:
        try:
            day = parse_last_day(text)
        except InvalidLastDay as exc:
            raise SettingsError("bad-date", TOKEN_LAST_DAY_ENV, str(exc)) from None
        return DEFAULT_POLICY.with_last_day(day, origin=PolicyOrigin.ENVIRONMENT)
    if values.token_last_day is not None:
        return DEFAULT_POLICY.with_last_day(values.token_last_day, origin=PolicyOrigin.SETTINGS,
                                            source=values.token_source, source_date=values.token_source_date)
    return DEFAULT_POLICY


_lock = threading.Lock()
_current: Settings | None = None


def get_settings() -> Settings:
    """The settings, read on first use and kept for the life of the process."""
    global _current
    with _lock:
        if _current is None:
            _current = load_settings()
        return _current


def reset_settings(settings: Settings | None = None) -> None:
    """Forget the settings read (they are read again on next use), or use ``settings`` from now on."""
    global _current
    with _lock:
        _current = settings


# ---------------------------------------------------------------------------------- writing


def _toml(values: FileValues) -> bytes:
    import tomli_w

    top: dict[str, Any] = {}
    if values.database_url:
        top["database_url"] = values.database_url
    if values.language:
        top["language"] = values.language
    if values.master_key_file:
        top["master_key_file"] = str(values.master_key_file)
    if values.keymap_file:
        top["keymap_file"] = str(values.keymap_file)
    if values.token_last_day:
        policy: dict[str, Any] = {"last_day": values.token_last_day}
        if values.token_source:
            policy["source"] = values.token_source
        if values.token_source_date:
            policy["source_date"] = values.token_source_date
        top["token_policy"] = policy
    header = ("# ksef-tui settings (see `ksef-tui settings --help`). Environment variables KSEF_TUI_* win over\n"
              "# the values here. Written by ksef-tui; comments you add are not kept.\n")
    return header.encode("utf-8") + tomli_w.dumps(top).encode("utf-8")


def save_settings(settings: Settings, values: FileValues) -> Settings:
    """Write ``values`` as the settings file (atomically, 0600) and return the settings as now
    resolved (the environment still wins); the process's settings become these."""
    from ksef_tui.files import FileRefused, private_folder, write_atomic

    try:
        private_folder(settings.settings_file.parent, tighten=False)
        write_atomic(settings.settings_file, _toml(values))
    except (FileRefused, OSError) as exc:
        raise SettingsError("not-writable", str(settings.settings_file), str(exc)) from None
    fresh = load_settings(paths=settings.paths)
    reset_settings(fresh)
    return fresh


def with_token_policy(values: FileValues, last_day: dt.date | None, source: str = "",
                      source_date: dt.date | None = None) -> FileValues:
    """``values`` with the token policy set (``last_day`` None: back to the announced default)."""
    if last_day is None:
        return replace(values, token_last_day=None, token_source="", token_source_date=None)
    return replace(values, token_last_day=last_day, token_source=source.strip()[:200], token_source_date=source_date)
