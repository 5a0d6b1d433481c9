"""Where the Formance ledger is and how to talk to it: :class:`LedgerConnection`.

The settings are a frozen value; :meth:`LedgerConnection.from_env` is the one
place that reads them from the environment.
"""

from __future__ import annotations

import os
import re
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InvalidCommand

__all__ = ["LedgerConnection", "DEFAULT_URL", "DEFAULT_LEDGER", "SDK_PATH_PREFIX"]

DEFAULT_URL = "http://127.0.0.1:3068"
DEFAULT_LEDGER = "loyalty"
SDK_PATH_PREFIX = "/api/ledger"
"""formance-sdk-python hard-codes this gateway prefix in front of every ledger route."""
DEFAULT_TIMEOUT_S = 10.0
"""Seconds one HTTP request may take (``LOYALTY_LEDGER_TIMEOUT``)."""
DEFAULT_RETRY_BUDGET_S = 45.0
"""Seconds transient failures are retried for (``LOYALTY_LEDGER_RETRY_BUDGET``): a ledger or
PostgreSQL restart takes several seconds to about 30."""

_LEDGER_NAME = re.compile(r"^[0-9a-zA-Z_-]{1,63}$")


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

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parsed = httpx.URL(value)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"ledger URL must be http(s)://host[:port][/path], got {value!r}")
        return value.rstrip("/")

    @field_validator("ledger")
    @classmethod
    def _check_ledger(cls, value: str) -> str:
        if not _LEDGER_NAME.match(value):
            raise ValueError(f"ledger name must match {_LEDGER_NAME.pattern}, got {value!r}")
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

    @classmethod
    def from_env(cls, ledger: str | None = None) -> LedgerConnection:
        """Settings from ``LOYALTY_LEDGER_*`` / ``LOYALTY_OAUTH_*`` environment variables.

        ``LOYALTY_LEDGER_TIMEOUT`` (seconds per request, > 0) and
        ``LOYALTY_LEDGER_RETRY_BUDGET`` (seconds of retrying, >= 0) are decimal
        numbers of seconds; InvalidCommand names the variable when one is not.
        This is the only place the ledger settings are read from the environment.
        """
        env = os.environ
        timing: dict[str, Any] = {}  # seconds, by setting name
        for name, setting in (("LOYALTY_LEDGER_TIMEOUT", "timeout_s"), ("LOYALTY_LEDGER_RETRY_BUDGET", "retry_budget_s")):
            text = env.get(name, "").strip()
            if not text:
                continue
            try:
                timing[setting] = float(text)
            except ValueError:
                raise InvalidCommand(f"{name} must be a number of seconds, got {text!r}") from None
        try:
            return cls(
                url=env.get("LOYALTY_LEDGER_URL") or DEFAULT_URL,
                ledger=ledger or env.get("LOYALTY_LEDGER_NAME") or DEFAULT_LEDGER,
                gateway=env.get("LOYALTY_LEDGER_GATEWAY", "").strip().lower() in ("1", "true", "yes", "on"),
                client_id=env.get("LOYALTY_OAUTH_CLIENT_ID") or None,
                client_secret=env.get("LOYALTY_OAUTH_CLIENT_SECRET") or None,
                token_url=env.get("LOYALTY_OAUTH_TOKEN_URL") or None,
                **timing,
            )
        except ValidationError as exc:
            raise InvalidCommand(f"invalid ledger settings in the environment: {exc}") from exc
