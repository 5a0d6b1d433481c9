"""The log hash chain as a reconciliation check.

The hashes themselves are recomputed by the ledger adapter
(:mod:`loyalty_accounts.ledger.log_chain`, which documents what Formance
Ledger v2.4.12 hashes); this module turns its verdict into a :class:`Check`.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..ledger.log_chain import verify_log_chain
from .check import Check, Status

LOG_CHAIN_SCOPE = (
    "recomputes every log's SHA-256 from its type, payload (the fields the server hashes), date and "
    "idempotency key, chained to the previous log's stored hash, and compares with the stored hash; "
    "proves the log as served is unaltered and unbroken since it was written, but not that the "
    "balances tables agree with the log"
)


def check_log_chain(logs: Iterable[Mapping[str, Any]]) -> Check:
    """Verify the ledger's hash chain, oldest log first (see :func:`~loyalty_accounts.ledger.log_chain.log_hash`)."""

    chain = verify_log_chain(logs)
    count = chain.logs
    if count == 0:
        return Check(name="log_chain", status="pass", detail="the ledger has no logs yet; " + LOG_CHAIN_SCOPE)
    if chain.unhashed == count:
        return Check(
            name="log_chain",
            status="not_verified",
            detail=f"{count} log(s) carry no hash: the ledger does not hash its logs synchronously (HASH_LOGS)",
        )
    notes = tuple(f"{n} log(s) matched the {v} form" for v, n in sorted(chain.matched.items()))
    unverifiable = list(chain.unverifiable)
    if chain.unhashed:
        unverifiable.append(f"{chain.unhashed} log(s) carry no hash")
    if chain.mismatched:
        status: Status = "fail"
    elif unverifiable:
        status = "not_verified"
    else:
        status = "pass"
    return Check(
        name="log_chain",
        status=status,
        detail=f"{count} log(s): {LOG_CHAIN_SCOPE}",
        offending=chain.mismatched + tuple(unverifiable),
        info=notes,
    )
