"""Every setting loyalty-accounts reads, as one typed model.

:class:`Settings` holds each knob once, with its type, unit and default.
Values come from, highest precedence first:

1. values passed to :func:`load_settings` (the command line's global options);
2. the environment: ``LOYALTY_<FIELD>`` (``LOYALTY_LEDGER_URL`` for
   ``ledger_url``...), and ``XDG_STATE_HOME`` / ``XDG_CACHE_HOME`` for the two
   XDG base folders. An empty variable counts as unset (``LOYALTY_LEDGER_URL=``
   sets no URL), whereas an empty value given to :func:`load_settings` or written
   in the file is a value like any other, refused where the field's rule
   refuses it (``--ledger-url ''`` or ``--ledger ''``: exit 2);
3. one optional TOML file of ``field = value`` lines: ``$LOYALTY_CONFIG``
   (which must then exist), else ``./loyalty.toml`` in the working directory,
   else ``$XDG_CONFIG_HOME/loyalty-accounts/loyalty.toml``
   (``~/.config/loyalty-accounts/loyalty.toml``); the first found is the only
   one read. A relative path in the file is taken from the file's folder;
4. the defaults below: the programme's data files shipped in the package
   (:data:`DEFAULTS`; ``loyalty init --example DIR`` copies them out to edit).

A malformed file, an unknown key in it or a malformed value (the ledger URL
and name included) raises :class:`~loyalty_accounts.errors.InvalidCommand`
(exit 2) in one line naming where the value came from: the command-line
option and its variable (``--ledger-url / LOYALTY_LEDGER_URL``) for a value
given to :func:`load_settings`, the variable for one from the environment,
the file and its key for one from the file. Nothing here reads a file other than
the settings file, nor connects anywhere: the settings only say where things
are, and :mod:`loyalty_accounts.app` builds them.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import httpx
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .errors import InvalidCommand

DEFAULTS = Path(__file__).resolve().parent / "defaults"
"""The programme's default data files, inside the package: the chart, the rules, the Numscript templates and
the ``ledger-server`` module. In a source checkout they are links to the repository's top-level files (the
one copy of each); a built wheel carries the files themselves."""

ENV_PREFIX = "LOYALTY_"
CONFIG_VARIABLE = "LOYALTY_CONFIG"
CONFIG_NAME = "loyalty.toml"
APP_FOLDER = "loyalty-accounts"

MAX_TIMEOUT_S = 3600.0
"""The longest ``ledger_timeout``: one request waiting over an hour is a hung ledger, not a slow one."""
MAX_RETRY_BUDGET_S = 86400.0
"""The longest ``ledger_retry_budget``: a day; retrying for ever is not a budget."""
MAX_CLOCK_SKEW_S = 86400
"""The largest ``clock_skew_seconds``: a day; beyond that a date in the future is not a clock difference."""
REGISTRY_KEY_BYTES = 32
"""The registry key's length: an AES-256 key."""
OPERATOR_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
"""What an operator id may be: a staff or service account id, never a name or an email (no space, '@' or '.')."""

LEDGER_NAME = re.compile(r"^[0-9a-zA-Z_-]{1,63}$")
"""What a ledger name may be."""
BUCKET_NAME = re.compile(r"^[0-9a-zA-Z_-]{1,63}$")
"""What a bucket name may be: the v2.4.12 server's ``bucketNameFormat`` (``internal/ledger.go``)."""
RESERVED_BUCKETS = ("_system", "public")
"""PostgreSQL schemas a bucket must not be (a bucket is the schema of its name): the server's own
``_system`` store (``internal/storage/system``) and PostgreSQL's ``public``; names starting ``pg_`` are
PostgreSQL's too."""

OPTIONS = {
    "ledger_url": "--ledger-url", "ledger_name": "--ledger", "chart": "--chart", "rules": "--rules",
    "state_dir": "--state-dir",
}
"""The command line's global option for a field: what an error names a value given to :func:`load_settings` by."""

_PATH_FIELDS = (
    "chart", "rules", "numscript_dir", "xdg_state_home", "xdg_cache_home", "state_dir", "cache_dir",
    "ledger_bin", "ledger_server_src", "registry_key_file",
)
"""Fields holding a path: ``~`` is expanded, and a relative one in the settings file is taken from its folder."""
_SECRET_FIELDS = ("oauth_client_secret", "postgres_uri", "registry_url", "registry_key")
"""Fields whose value an error message never repeats."""
OTHER_VARIABLES = (CONFIG_VARIABLE, "LOYALTY_VENV")
"""Variables with the ``LOYALTY_`` prefix that are no field: the settings file's path, and the virtualenv
``scripts/bootstrap.sh`` installs into."""


def _xdg_state() -> Path:
    return Path.home() / ".local" / "state"


def _xdg_cache() -> Path:
    return Path.home() / ".cache"


class Settings(BaseSettings):
    """Where the ledger and the programme's files are, and how patient to be with the ledger."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", frozen=True, populate_by_name=True
    )

    # -- the ledger ---------------------------------------------------------

    ledger_url: str | None = None
    """Base URL of the Formance Ledger, ``http(s)://host[:port][/path]``; None: the one ``loyalty ledger up``
    started (command line only)."""
    ledger_name: str | None = None
    """The ledger's name, matching ``^[0-9a-zA-Z_-]{1,63}$``; None: ``loyalty`` (``loyalty demo``: ``demo``)."""
    ledger_bucket: str | None = None
    """The bucket (a PostgreSQL schema of its own) ``loyalty init`` creates the ledger in, matching
    ``^[0-9a-zA-Z_-]{1,63}$`` and neither ``_system``, ``public`` nor ``pg_...``; None: a bucket named
    after the ledger. ``_default`` shares the server's default bucket with every ledger created without one.

    Why a bucket of its own: v2.4.12 adds per-ledger triggers to the tables of a bucket
    (``internal/storage/bucket/default_bucket.go`` ``AddLedger``), and every insert into them evaluates the
    triggers of all the bucket's ledgers; alone in its bucket the server also skips the ``ledger = ?``
    predicate on reads (``cmd/serve.go``, ``disable-ledger-scope-optimization``). Only read when the ledger
    is created: an existing ledger stays where it is."""
    ledger_gateway: bool = False
    """True: ``ledger_url`` is a Formance Stack gateway serving the ledger under ``/api/ledger``."""
    ledger_timeout: float = Field(default=10.0, gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)
    """Seconds one HTTP request to the ledger may take before it counts as a (transient) failure.

    A finite number above 0 and at most 3600 (an hour): ``inf`` or ``nan`` is refused."""
    ledger_retry_budget: float = Field(default=45.0, ge=0, le=MAX_RETRY_BUDGET_S, allow_inf_nan=False)
    """Seconds transient failures are retried for (enough for a ledger or PostgreSQL restart; 0: no retry).

    A finite number from 0 to 86400 (a day): ``inf`` or ``nan`` is refused."""
    oauth_client_id: str | None = None
    """OAuth2 client id for a Stack / Cloud deployment (with ``oauth_client_secret``)."""
    oauth_client_secret: SecretStr | None = None
    """OAuth2 client secret (never printed)."""
    oauth_token_url: str | None = None
    """OAuth2 token endpoint; None: the SDK's default for the gateway."""

    # -- the programme's rules of time ----------------------------------------

    clock_skew_seconds: int = Field(default=120, ge=0, le=MAX_CLOCK_SKEW_S)
    """Seconds after this machine's clock an operation may be dated (clocks of callers differ a little); a
    later one is refused (exit 2), and ``reconcile`` fails a transaction dated more than this after the
    ledger recorded it. A whole number from 0 to 86400 (a day)."""

    # -- the programme's files ------------------------------------------------

    chart: Path = DEFAULTS / "chart_of_accounts.yaml"
    """The chart of accounts (YAML)."""
    rules: Path = DEFAULTS / "rules.yaml"
    """The earning rules (YAML), checked against the chart when loaded."""
    numscript_dir: Path = DEFAULTS / "numscript"
    """The folder of ``*.num`` transaction templates."""

    # -- the local stack (``loyalty ledger up``) ------------------------------

    xdg_state_home: Path = Field(
        default_factory=lambda: _xdg_state(),
        validation_alias=AliasChoices("XDG_STATE_HOME", "xdg_state_home"),
    )
    """The XDG state base folder (``XDG_STATE_HOME``, unprefixed)."""
    xdg_cache_home: Path = Field(
        default_factory=lambda: _xdg_cache(),
        validation_alias=AliasChoices("XDG_CACHE_HOME", "xdg_cache_home"),
    )
    """The XDG cache base folder (``XDG_CACHE_HOME``, unprefixed)."""
    state_dir: Path = Field(default_factory=lambda data: data.get("xdg_state_home", _xdg_state()) / APP_FOLDER)
    """Where the local PostgreSQL and ledger keep their state; default ``$XDG_STATE_HOME/loyalty-accounts``."""
    cache_dir: Path = Field(default_factory=lambda data: data.get("xdg_cache_home", _xdg_cache()) / APP_FOLDER)
    """Where built tools are cached; default ``$XDG_CACHE_HOME/loyalty-accounts``."""
    ledger_bin: Path | None = None
    """A ledger server binary to run as given (no version check); None: look for one."""
    ledger_server_src: Path = DEFAULTS / "ledger-server"
    """The ``ledger-server`` module folder ``loyalty ledger up`` falls back on."""
    postgres_uri: SecretStr | None = None
    """A PostgreSQL for ``loyalty ledger up`` to use instead of creating a private cluster (carries a password)."""

    # -- the member registry (personal data, outside the ledger) ---------------

    registry_url: SecretStr | None = None
    """The member registry's PostgreSQL database, ``postgresql://user:password@host:port/database`` (an
    existing database; its tables are made on first use). None: the database ``loyalty_registry`` in the
    local stack's PostgreSQL (``LOYALTY_POSTGRES_URI``'s server when set), created on first use."""
    registry_key: SecretStr | None = None
    """The key-encryption key of the member registry: the base64 of 32 random bytes (``openssl rand -base64
    32``). Never printed. Losing it loses every member's profile; changing it makes them unreadable."""
    registry_key_file: Path | None = None
    """A file holding ``registry_key`` (its base64 text), read when ``registry_key`` is not set. None, for the
    local stack's registry only: ``<state_dir>/registry.key``, made with mode 0600 on first use."""
    operator: str | None = None
    """Who runs ``member forget`` and ``member export``, as their audit records say: an operator id matching
    ``^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`` (a staff id, never a name); ``--operator`` overrides it."""

    @field_validator(*_PATH_FIELDS)
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("ledger_url")
    @classmethod
    def _check_ledger_url(cls, value: str | None) -> str | None:
        if value is not None and not is_ledger_url(value):
            raise ValueError("ledger URL must be http(s)://host[:port][/path]")
        return value

    @field_validator("registry_url")
    @classmethod
    def _check_registry_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not is_postgres_url(value.get_secret_value()):
            raise ValueError("registry URL must be postgresql://[user[:password]@]host[:port]/database[?options]")
        return value

    @field_validator("registry_key")
    @classmethod
    def _check_registry_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_registry_key(value.get_secret_value())
        return value

    @field_validator("operator")
    @classmethod
    def _check_operator(cls, value: str | None) -> str | None:
        if value is not None and not OPERATOR_PATTERN.match(value):
            raise ValueError(f"operator id must match {OPERATOR_PATTERN.pattern} (an id, not a name or an email)")
        return value

    @field_validator("ledger_name")
    @classmethod
    def _check_ledger_name(cls, value: str | None) -> str | None:
        if value is not None and not LEDGER_NAME.match(value):
            raise ValueError(f"ledger name must match {LEDGER_NAME.pattern}")
        return value

    @field_validator("ledger_bucket")
    @classmethod
    def _check_ledger_bucket(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not BUCKET_NAME.match(value):
            raise ValueError(f"bucket name must match {BUCKET_NAME.pattern}")
        if value in RESERVED_BUCKETS or value.startswith("pg_"):
            raise ValueError(f"bucket name {value!r} is reserved (_system, public and pg_... are PostgreSQL's or the server's)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls)


def is_ledger_url(value: str) -> bool:
    """True when ``value`` is ``http(s)://host[:port][/path]``: no blank, no query, no fragment, a port in 1..65535."""

    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:  # a port that is not a number, a control character...
        return False
    return (
        url.scheme in ("http", "https") and bool(url.host) and not any(char.isspace() for char in value)
        and (url.port is None or 0 < url.port <= 65535) and not url.query and not url.fragment
    )


def is_postgres_url(value: str) -> bool:
    """True when ``value`` is a ``postgresql://`` (or ``postgres://``) URL naming a database, without blanks."""

    scheme, _, rest = value.partition("://")
    location, _, database = rest.partition("/")
    database = database.split("?", 1)[0]
    return scheme in ("postgresql", "postgres") and bool(location) and bool(database) and not any(
        char.isspace() for char in value
    )


def decode_registry_key(text: str) -> bytes:
    """The 32 bytes of a registry key written as base64 (surrounding blanks ignored).

    Raises ValueError saying what is wrong, never repeating the key: not base64, or not 32 bytes.
    """

    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"registry key must be the base64 of {REGISTRY_KEY_BYTES} bytes: this is not base64") from None
    if len(key) != REGISTRY_KEY_BYTES:
        raise ValueError(f"registry key must be the base64 of {REGISTRY_KEY_BYTES} bytes, got {len(key)} bytes")
    return key


def shown_url(url: str) -> str:
    """A URL as a message or a listing shows it: the password of its user info, if any, replaced by ``***``."""

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    if not parsed.password:
        return url
    return str(parsed.copy_with(username=parsed.username, password="***"))


def variable_name(field: str) -> str:
    """The environment variable of ``field``: ``LOYALTY_LEDGER_URL`` for ``ledger_url``."""

    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{ENV_PREFIX}{field.upper()}"


def config_file() -> Path | None:
    """The settings file to read: ``$LOYALTY_CONFIG``, else ``./loyalty.toml``, else the user's; None if none exists.

    Raises InvalidCommand when ``$LOYALTY_CONFIG`` names no file.
    """

    named = os.environ.get(CONFIG_VARIABLE)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise InvalidCommand(f"{CONFIG_VARIABLE}={named}: no such settings file")
        return path
    user_base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    for candidate in (Path.cwd() / CONFIG_NAME, user_base / APP_FOLDER / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """The table of a settings file, relative paths taken from its folder.

    Raises InvalidCommand naming the file when it cannot be read, is not UTF-8 text or not valid TOML.
    """

    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle)
    except OSError as exc:
        raise InvalidCommand(f"{path}: cannot read the settings file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8 text; tomllib decodes the bytes before it parses
        reason = f"not UTF-8: {exc.reason} at byte {exc.start}"
        raise InvalidCommand(f"{path}: not a valid TOML settings file ({reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidCommand(f"{path}: not a valid TOML settings file ({exc})") from None
    for key, value in table.items():
        if _FIELD_OF_ALIAS.get(key, key) in _PATH_FIELDS and isinstance(value, str):
            value_path = Path(value).expanduser()
            table[key] = str(value_path if value_path.is_absolute() else path.parent / value_path)
    return table


def load_settings(**overrides: Any) -> Settings:
    """The settings from ``overrides`` (None: not given), the environment and the settings file.

    An empty string in ``overrides`` is given, not a way to fall back: ``ledger_url=""`` is refused as no URL.

    Raises InvalidCommand, in one line naming the variable or the file and key, when a value is malformed;
    TypeError naming a keyword that is no field of :class:`Settings` (a caller's mistake, whatever its value).
    """

    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"unknown setting {unknown[0]!r}: the settings are the fields of Settings")
    check_environment(os.environ)
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise InvalidCommand(_describe(exc.errors()[0], given)) from None


class _FileSource(PydanticBaseSettingsSource):
    """The settings file's table (see :func:`config_file`), below the environment."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ hands over the whole table

    def __call__(self) -> dict[str, Any]:
        path = config_file()
        return read_config_file(path) if path is not None else {}


_FIELD_OF_ALIAS = {variable_name(name): name for name in Settings.model_fields}


def _in_environment(variable: str) -> bool:
    """The environment sets ``variable`` (any case, as pydantic-settings reads it; empty counts as unset)."""

    return any(name.upper() == variable and text for name, text in os.environ.items())


def _describe(error: Mapping[str, Any], given: Mapping[str, Any]) -> str:
    """One line for a settings error: where the value came from, what is wrong with it."""

    key = str(error["loc"][0]) if error["loc"] else ""
    field = _FIELD_OF_ALIAS.get(key, key)
    reason = str(error["msg"]).removeprefix("Value error, ")
    path = config_file()
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown setting {key!r}"
    shown = f", got {error['input']!r}" if "input" in error and field not in _SECRET_FIELDS else ""
    if field in given:
        source = f"{OPTIONS[field]} / {variable_name(field)}" if field in OPTIONS else f"setting {field}"
        return f"{source}: {reason}{shown}"
    variable = variable_name(field) if field in Settings.model_fields else key
    if _in_environment(variable):
        return f"{variable}: {reason}{shown}"
    return f"{path}: {field}: {reason}{shown}"


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse a ``LOYALTY_*`` variable that is no setting (a misspelt one would silently fall back).

    Raises InvalidCommand naming the variable and the closest setting's variable.
    """

    known = {variable_name(name) for name in Settings.model_fields} | set(OTHER_VARIABLES)
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise InvalidCommand(f"{name}: no such setting{hint}; `loyalty config show` lists them")


UNSET_MEANS = {
    "ledger_url": "(none: the ledger `loyalty ledger up` started)",
    "ledger_name": "(none: loyalty; `loyalty demo` uses demo)",
    "ledger_bucket": "(none: a bucket named after the ledger)",
    "ledger_bin": "(none: an installed v2.4.12 on PATH or in ~/.local/bin, else the cached build, else a build)",
    "oauth_client_id": "(not set)",
    "oauth_token_url": "(none: the SDK's default for the gateway)",
    "registry_url": "(none: database loyalty_registry in the local stack's PostgreSQL)",
    "registry_key": "(none: registry_key_file)",
    "registry_key_file": "(none: for the local stack's registry, <state_dir>/registry.key, made on first use)",
    "operator": "(none: give --operator to member forget and member export)",
}
"""What a setting left unset means, as ``loyalty config show`` says it."""


class SettingSource(NamedTuple):
    """One setting as ``loyalty config show`` lists it: its value (secrets hidden) and where it came from."""

    setting: str
    variable: str
    value: str
    source: str


def explain_settings(**overrides: Any) -> list[SettingSource]:
    """Every setting's value and its source: the command line option, the environment, the settings file or
    the default. Secrets are never shown, only whether they are set.

    Raises InvalidCommand as :func:`load_settings` does.
    """

    settings = load_settings(**overrides)
    path = config_file()
    in_file = {_FIELD_OF_ALIAS.get(key, key) for key in (read_config_file(path) if path is not None else {})}
    rows = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        variable = variable_name(name)
        if name in _SECRET_FIELDS:
            shown = UNSET_MEANS.get(name, "(not set)") if value is None else "(set, not shown)"
        elif isinstance(value, bool):
            shown = "true" if value else "false"
        elif name in ("ledger_url", "oauth_token_url") and value is not None:
            shown = shown_url(value)
        else:
            shown = UNSET_MEANS.get(name, "(not set)") if value is None else str(value)
        if overrides.get(name) is not None:
            source = OPTIONS.get(name, "argument")
        elif _in_environment(variable):
            source = f"environment {variable}"
        elif name in in_file:
            source = str(path)
        else:
            source = "default"
        rows.append(SettingSource(setting=name, variable=variable, value=shown, source=source))
    return rows
