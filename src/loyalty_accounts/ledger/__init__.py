"""The adapter between loyalty-accounts and a Formance Ledger v2 server.

This is the only package that talks HTTP to Formance. Everything the rest of
the package knows about the ledger goes through :class:`LedgerClient`, which
implements :class:`~loyalty_accounts.ports.LedgerPort`. Keeping the wire
format, the error codes and the retry policy here means a server or SDK
upgrade touches one package, and service code can be tested with a fake port.

Modules, from the bottom up:

- :mod:`.connection`: :class:`LedgerConnection` (URL, ledger name, OAuth2,
  timeouts, retry budget) and its one reading of the environment;
- :mod:`.errors`: Formance error codes and HTTP statuses -> the project's
  errors (:mod:`loyalty_accounts.errors`);
- :mod:`.wire`: request bodies and the decoding of transactions, accounts
  and volumes into :mod:`loyalty_accounts.types` values;
- :mod:`.transport`: requests under the retry policy (tenacity),
  idempotency keys, paging; the hot path's requests are built by hand over
  the SDK's ``httpx`` client (OAuth2 still from the SDK), the cold ones
  (ledger, schemas, info) are SDK calls;
- :mod:`.reads`: the point-in-time reads (:class:`~.reads.LedgerReader`);
- :mod:`.exactly_once`: the transaction holding a reference and whether a
  call posted it (what ``replayed`` means);
- :mod:`.bulk`: posting through ``/_bulk`` in chunks;
- :mod:`.client`: :class:`LedgerClient`, the reads plus the writes;
- :mod:`.log_chain`: the log hash chain recomputed (pure; no HTTP).

Layering: nothing in ``ledger/`` imports ``program``, ``services``,
``reports``, ``rules``, ``operations`` or ``cli``; it may import
:mod:`loyalty_accounts.errors`, :mod:`loyalty_accounts.types`,
:mod:`loyalty_accounts.ports` and the ground floor
(:mod:`loyalty_accounts.vocabulary`). Those higher layers import this
package, never the other way round.
"""

from __future__ import annotations

from .client import LedgerClient
from .connection import LedgerConnection
from .log_chain import LogChainVerification, log_hash, verify_log_chain
from .transport import idempotency_key

__all__ = [
    "LedgerClient",
    "LedgerConnection",
    "LogChainVerification",
    "idempotency_key",
    "log_hash",
    "verify_log_chain",
]
