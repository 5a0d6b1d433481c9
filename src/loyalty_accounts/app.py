"""The composition root: one :class:`~loyalty_accounts.settings.Settings` in, the programme out.

:class:`App` is the one place that turns settings into objects: the chart,
the earning rules (checked against the chart), the Numscript templates, the
ledger client, and the services on top of them, :class:`LoyaltyProgram` and
:class:`FinanceReports`. Each is built on first use and then kept, so a
command that only reads the rules never needs a ledger. The command line is a
thin user of it (``cli/context.py``); a Python caller writes::

    with create_app(ledger_url="http://127.0.0.1:3068") as app:
        app.program.balance("alice")

The member registry (:attr:`App.members`) is built the same way, from its own settings: the
database ``registry_url`` names (else what ``find_registry`` gives: the local stack's), sealed under
the registry key (``registry_key``, else ``registry_key_file``, else the local stack's key file).
It never needs the ledger, and the ledger never needs it. The delivery of the programme's events to
webhooks (:attr:`App.events`) keeps its progress in the same database, under the same key.

Errors: a chart, rules or template problem is ChartError, a malformed
setting InvalidCommand (both exit 2), no ledger to talk to LedgerUnavailable
(exit 3), no registry database RegistryUnavailable (exit 3).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from pydantic import ValidationError

from .chart import Chart, load_chart
from .errors import InvalidCommand, LedgerUnavailable, RegistryUnavailable
from .ledger import LedgerClient, LedgerConnection
from .ledger.connection import DEFAULT_LEDGER
from .numscript import Catalogue
from .ports import LedgerPort
from .program import LoyaltyProgram
from .reports import FinanceReports
from .rules import Rules, load_rules
from .settings import Settings, load_settings
from .vocabulary.personal_data import PersonalDataPort

if TYPE_CHECKING:  # the registry's modules (psycopg, cryptography) load when the registry is first used
    from .events import EventService, EventSource
    from .members import MemberRegistry, RegistryKey

__all__ = ["App", "LocalRegistry", "create_app", "ledger_connection", "open_events", "open_registry", "registry_location"]

_OAUTH_PAIR = "LOYALTY_OAUTH_CLIENT_ID / LOYALTY_OAUTH_CLIENT_SECRET"
"""The settings the connection's own check (both OAuth2 credentials or neither) is about."""


def ledger_connection(settings: Settings, *, url: str, ledger: str | None = None) -> LedgerConnection:
    """How to talk to the ledger at ``url`` named ``ledger`` (default: ``settings.ledger_name``, else ``loyalty``).

    Raises InvalidCommand when only one of the OAuth2 client id and secret is set, naming them, or when
    ``url`` or ``ledger`` is malformed. The settings' own URL, name and timeouts were checked when they were
    loaded, each error naming where its value came from; so a malformed ``url`` or ``ledger`` here is one the
    caller passed (the local stack's URL, a command's default ledger), and the error names no setting.
    """

    secret = settings.oauth_client_secret
    try:
        return LedgerConnection(
            url=url,
            ledger=ledger or settings.ledger_name or DEFAULT_LEDGER,
            gateway=settings.ledger_gateway,
            client_id=settings.oauth_client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            token_url=settings.oauth_token_url,
            timeout_s=settings.ledger_timeout,
            retry_budget_s=settings.ledger_retry_budget,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise InvalidCommand(reason if error["loc"] else f"{_OAUTH_PAIR}: {reason}") from None


class LocalRegistry(NamedTuple):
    """The registry a local stack offers when the settings name none: its database (created on first use)
    and the key file beside the stack's state (made on first use)."""

    url: str
    key_file: Path


def registry_key(settings: Settings, local_key_file: Path | None) -> tuple[RegistryKey, str]:
    """The registry key the settings give, and how messages name where it came from.

    ``registry_key``, else ``registry_key_file``, else ``local_key_file`` (made now if missing; only for
    the local stack's registry: a key made beside a database elsewhere would be lost with this folder).
    Raises InvalidCommand (exit 2) for a malformed key or none.
    """

    from .members import RegistryKey, key_file

    if settings.registry_key is not None:
        return RegistryKey.from_text(settings.registry_key.get_secret_value(), source="LOYALTY_REGISTRY_KEY"), "LOYALTY_REGISTRY_KEY"
    if settings.registry_key_file is not None:
        path = settings.registry_key_file
        return RegistryKey.from_file(path), f"registry key file {path}"
    if local_key_file is None:
        raise InvalidCommand(
            "the member registry at LOYALTY_REGISTRY_URL needs its key: set LOYALTY_REGISTRY_KEY (the base64 of 32 "
            "random bytes) or LOYALTY_REGISTRY_KEY_FILE"
        )
    key, made = key_file(local_key_file)
    return key, f"registry key file {local_key_file}" + (" (made now)" if made else "")


def registry_location(settings: Settings, find_registry: Callable[[], LocalRegistry] | None) -> tuple[str, Path | None, bool]:
    """Where the registry database is: its URL, the local stack's key file (None for a database of
    ``registry_url``), and whether to create the database when missing (the local stack's only).

    Raises RegistryUnavailable when the settings name none and there is no local stack to ask.
    """

    if settings.registry_url is not None:
        return settings.registry_url.get_secret_value(), None, False
    if find_registry is not None:
        local = find_registry()
        return local.url, local.key_file, True
    raise RegistryUnavailable("no member registry to use: set LOYALTY_REGISTRY_URL or registry_url in loyalty.toml")


def open_registry(settings: Settings, *, find_registry: Callable[[], LocalRegistry] | None = None) -> MemberRegistry:
    """The member registry the settings describe, its schema up to date.

    Raises RegistryUnavailable (no database named and no local one, or unreachable), InvalidCommand (the key).
    """

    from .members import MemberRegistry, RegistryStore
    from .registry import open_database

    url, local_key, create = registry_location(settings, find_registry)
    key, source = registry_key(settings, local_key)
    return MemberRegistry(RegistryStore(open_database(url, create=create)), key, key_source=source)


def open_events(
    settings: Settings, source: EventSource, *, find_registry: Callable[[], LocalRegistry] | None = None
) -> EventService:
    """The event delivery of ``source``'s programme, its progress in the registry database the settings describe
    (each deliverer opens a connection of its own; the schema is brought up to date on each).

    Raises RegistryUnavailable, InvalidCommand (the key) as :func:`open_registry`.
    """

    from .events import DeliveryStore, EventService
    from .registry import open_database

    url, local_key, create = registry_location(settings, find_registry)
    key, key_source = registry_key(settings, local_key)
    return EventService(source, lambda: DeliveryStore(open_database(url, create=create)), key, key_source=key_source)


class App:
    """The programme as ``settings`` describe it, each part built on first use.

    ``ledger`` supplies the ledger to post to and read from (default: a
    :class:`LedgerClient` for :meth:`connection`). ``find_ledger`` gives the
    ledger URL when the settings name none (the command line asks the local
    stack); without it, no URL is LedgerUnavailable. ``find_registry`` does
    the same for the member registry (RegistryUnavailable without it).
    ``default_ledger`` is the ledger name when the settings name none.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ledger: Callable[[], LedgerPort] | None = None,
        find_ledger: Callable[[], str] | None = None,
        find_registry: Callable[[], LocalRegistry] | None = None,
        local_registry_used: Callable[[], bool] | None = None,
        default_ledger: str = DEFAULT_LEDGER,
    ) -> None:
        self.settings = settings
        self._ledger_source = ledger
        self._find_ledger = find_ledger
        self._find_registry = find_registry
        self._local_registry_used = local_registry_used
        self._default_ledger = default_ledger
        self._client: LedgerClient | None = None
        self._members: MemberRegistry | None = None
        self._events: EventService | None = None

    @property
    def ledger_name(self) -> str:
        """The ledger's name: ``settings.ledger_name``, else ``default_ledger``."""
        return self.settings.ledger_name or self._default_ledger

    @cached_property
    def chart(self) -> Chart:
        """The chart of accounts at ``settings.chart``."""
        return load_chart(self.settings.chart)

    @cached_property
    def rules(self) -> Rules:
        """The earning rules at ``settings.rules``, checked against :attr:`chart`."""
        return load_rules(self.settings.rules, chart=self.chart)

    @cached_property
    def catalogue(self) -> Catalogue:
        """The Numscript templates of ``settings.numscript_dir``."""
        return Catalogue(self.settings.numscript_dir)

    def connection(self) -> LedgerConnection:
        """Where the ledger is: ``settings.ledger_url``, else what ``find_ledger`` says."""

        url = self.settings.ledger_url
        if not url:
            if self._find_ledger is None:
                raise LedgerUnavailable("no ledger to talk to: set LOYALTY_LEDGER_URL or ledger_url in loyalty.toml")
            url = self._find_ledger()
        return ledger_connection(self.settings, url=url, ledger=self.ledger_name)

    def client(self) -> LedgerClient:
        """The HTTP client of :meth:`connection`, opened once; :meth:`close` closes it."""

        if self._client is None:
            self._client = LedgerClient(self.connection())
        return self._client

    @cached_property
    def ledger(self) -> LedgerPort:
        """The ledger the services use: the one ``ledger`` supplies, else :meth:`client`."""
        return self._ledger_source() if self._ledger_source is not None else self.client()

    @property
    def clock_skew(self) -> timedelta:
        """How far after now an operation may be dated: ``settings.clock_skew_seconds``."""
        return timedelta(seconds=self.settings.clock_skew_seconds)

    @property
    def ledger_bucket(self) -> str:
        """The bucket a new ledger is created in: ``settings.ledger_bucket``, else one named after the ledger."""
        return self.settings.ledger_bucket or self.ledger_name

    @cached_property
    def program(self) -> LoyaltyProgram:
        """The loyalty programme on :attr:`ledger`, priced by :attr:`rules`, allowing :attr:`clock_skew`; its
        ``init`` creates the ledger in :attr:`ledger_bucket`."""
        return LoyaltyProgram(
            self.ledger, self.chart, self.catalogue, rules=self.rules, clock_skew=self.clock_skew,
            ledger_bucket=self.ledger_bucket, personal_data=self.personal_data(),
        )

    @cached_property
    def reports(self) -> FinanceReports:
        """The finance statements of :attr:`ledger`; reconcile holds the history to :attr:`rules`' limits and
        :attr:`clock_skew`."""
        return FinanceReports(
            self.ledger, self.chart, rules=self.rules, clock_skew=self.clock_skew, personal_data=self.personal_data(preload=True)
        )

    @property
    def registry_configured(self) -> bool:
        """Whether there is a member registry to screen against: ``registry_url`` is set, or the local
        stack's registry has a key file (it was used). Opens nothing."""

        if self.settings.registry_url is not None:
            return True
        return self._local_registry_used is not None and self._local_registry_used()

    def personal_data(self, *, preload: bool = False) -> PersonalDataPort | None:
        """The registry's check of what is written to the ledger (:class:`~.members.RegistryScreen`, opening
        the registry only when a value is screened), or None when :attr:`registry_configured` is not: then
        only the patterns (emails, phone numbers) are refused. ``preload``: for a scan of the whole ledger."""

        if not self.registry_configured:
            return None
        from .members import RegistryScreen

        return RegistryScreen(lambda: self.members, preload=preload)

    @property
    def event_source(self) -> EventSource:
        """The events of :attr:`ledger` (:class:`~.events.EventSource`), screened by the member registry when one is
        configured (:meth:`personal_data`); reading them needs no registry otherwise."""

        from .events import EventSource

        return EventSource(self.ledger, self.chart, self.ledger_name, personal_data=self.personal_data(preload=True))

    @property
    def events(self) -> EventService:
        """The delivery of :attr:`event_source` to webhooks (:func:`open_events`), made on first use; :meth:`close` closes it."""

        if self._events is None:
            self._events = open_events(self.settings, self.event_source, find_registry=self._find_registry)
        return self._events

    @property
    def members(self) -> MemberRegistry:
        """The member registry (:func:`open_registry`), opened on first use; :meth:`close` closes it."""

        if self._members is None:
            self._members = open_registry(self.settings, find_registry=self._find_registry)
        return self._members

    def close(self) -> None:
        """Close the HTTP client and the registry's connection if they were opened."""

        if self._client is not None:
            self._client.close()
            self._client = None
        if self._members is not None:
            self._members.close()
            self._members = None
        if self._events is not None:
            self._events.close()
            self._events = None

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def create_app(settings: Settings | None = None, *, ledger: LedgerPort | None = None, **overrides: Any) -> App:
    """An :class:`App` from ``settings`` (default: :func:`load_settings` with ``overrides``) on ``ledger`` if given.

    ``overrides`` are settings fields (``ledger_url=...``, ``rules=...``); None means not given.
    Raises TypeError naming an override that is no settings field, or when both ``settings`` and overrides are given.
    """

    if settings is None:
        settings = load_settings(**overrides)
    elif overrides:
        raise TypeError("create_app takes settings or overrides, not both")
    return App(settings, ledger=(lambda: ledger) if ledger is not None else None)
