"""Where the Formance ledger is and how to talk to it: :class:`LedgerConnection`.

A frozen value. What it holds comes from the settings
(:mod:`loyalty_accounts.settings`); :func:`loyalty_accounts.app.ledger_connection`
builds it from them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..settings import LEDGER_NAME, is_ledger_url, shown_url

__all__ = ["LedgerConnection", "DEFAULT_URL", "DEFAULT_LEDGER", "SDK_PATH_PREFIX"]

DEFAULT_URL = "http://127.0.0.1:3068"
DEFAULT_LEDGER = "loyalty"
SDK_PATH_PREFIX = "/api/ledger"
"""formance-sdk-python hard-codes this gateway prefix in front of every ledger route."""
DEFAULT_TIMEOUT_S = 10.0
"""Seconds one HTTP request may take (setting ``ledger_timeout``)."""
DEFAULT_RETRY_BUDGET_S = 45.0
"""Seconds transient failures are retried for (setting ``ledger_retry_budget``): a ledger or
PostgreSQL restart takes several seconds to about 30."""



class LedgerConnection(BaseModel):
    """Where the ledger is and how to talk to it.

    ``gateway=True`` means a Formance Stack gateway that serves the ledger under
    ``/api/ledger`` (``url`` is the gateway root); ``False`` means a standalone
    ``ledger serve`` with routes at ``/v2/...``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = DEFAULT_URL
    ledger: str = DEFAULT_LEDGER
    gateway: bool = False
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    token_url: str | None = None
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    """Seconds one HTTP request may take before it counts as a (transient) failure."""
    retry_budget_s: float = Field(default=DEFAULT_RETRY_BUDGET_S, ge=0)
    """Seconds after a request's first attempt during which transient failures are retried (0: no retry)."""
    max_attempts: int | None = Field(default=None, ge=1)
    """An optional cap on attempts per request, on top of the budget."""
    backoff_initial_s: float = Field(default=0.2, ge=0)
    backoff_max_s: float = Field(default=2.0, ge=0)

    @property
    def shown_url(self) -> str:
        """``url`` as messages show it: a password in it replaced by ``***``."""

        return shown_url(self.url)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not is_ledger_url(value):
            raise ValueError(f"ledger URL must be http(s)://host[:port][/path], got {value!r}")
        return value.rstrip("/")

    @field_validator("ledger")
    @classmethod
    def _check_ledger(cls, value: str) -> str:
        if not LEDGER_NAME.match(value):
            raise ValueError(f"ledger name must match {LEDGER_NAME.pattern}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_credentials(self) -> LedgerConnection:
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("OAuth2 needs both client_id and client_secret")
        return self

    @property
    def sdk_base_url(self) -> str:
        """The URL handed to the SDK, which appends ``/api/ledger/...`` itself."""
        if self.gateway and self.url.endswith(SDK_PATH_PREFIX):
            return self.url[: -len(SDK_PATH_PREFIX)]
        return self.url
