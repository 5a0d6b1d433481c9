"""The log hash chain as a reconciliation check, incremental from a checkpoint kept in the ledger.

The hashes themselves are recomputed by the ledger adapter
(:mod:`loyalty_accounts.ledger.log_chain`, which documents what Formance
Ledger v2.4.12 hashes and the checkpoint); this module turns its verdict into
a :class:`Check`, and :func:`read_log_chain` decides what to read:

- with a checkpoint in the ledger's metadata, only the logs from the
  checkpoint's anchor on (the checkpointed log must still carry the recorded
  hash and still hash to it); a pass moves the checkpoint to the last log
  read. Its cost is the logs written since the last pass, not the history;
- without one, with one that cannot be read, with ``full=True``, or when the
  checkpointed log is dated after the as-of instant: every log (up to that
  instant), and a pass leaves a checkpoint (one up to an as-of instant never
  moves it back; a full pass over the whole chain replaces it);
- a checkpoint the log disagrees with (the checkpointed log gone, moved or
  carrying another hash) fails the check, which then checks every log; that
  checkpoint is left in place as evidence until a ``full`` check passes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from ..errors import LoyaltyError
from ..ledger.log_chain import (
    LogChainVerification,
    LogCheckpoint,
    checkpoint_from_metadata,
    checkpoint_metadata,
    verify_log_chain,
)
from ..ports import LedgerPort
from ..operations.refund import SMALL_REFUND_PREFIX
from .check import Check, Status

__all__ = ["LOG_CHAIN_SCOPE", "check_log_chain", "log_chain_check", "read_log_chain"]

LOG_CHAIN_SCOPE = (
    "recomputes every log's SHA-256 from its type, payload (the fields the server hashes), date and "
    "idempotency key, chained to the previous log's stored hash, and compares with the stored hash; "
    "proves the log as served is unaltered and unbroken since it was written, but not that the "
    "balances tables agree with the log; and that no posted transaction's metadata was rewritten afterwards "
    "(only a small refund's note on its order's earn is added later)"
)


def check_log_chain(logs: Iterable[Mapping[str, Any]], *, until: datetime | None = None) -> Check:
    """Verify the whole hash chain, oldest log first, up to the last log dated at or before ``until``."""

    return log_chain_check(verify_log_chain(logs, until=until))


def amendment_problems(chain: LogChainVerification) -> tuple[str, ...]:
    """The logs that changed a posted transaction's metadata other than as the programme does: only a refund
    too small to reverse a point is noted on its order's earn afterwards (``small_refund:*``, set, never
    deleted). Anything else (an approved estimate's rate, an earn's amount) rewrote what was posted."""

    out = []
    for a in chain.amendments:
        foreign = [k for k in a.keys if a.deleted or not k.startswith(SMALL_REFUND_PREFIX)]
        if foreign:
            verb = "deleted" if a.deleted else "set"
            out.append(f"log {a.log_id}: metadata {', '.join(foreign)} of transaction #{a.transaction_id} {verb} after it was posted")
    return tuple(out)


def log_chain_check(chain: LogChainVerification, *, notes: tuple[str, ...] = (), problems: tuple[str, ...] = ()) -> Check:
    """The check from a verification; ``problems`` (checkpoint disagreements) and metadata rewritten after
    posting (:func:`amendment_problems`) fail it, ``notes`` are info."""

    problems = problems + amendment_problems(chain)

    count = chain.logs
    resumed = chain.resume == "resumed"
    scope = (
        f"resumed at the checkpoint (log {chain.resumed_at}), the logs before it verified by an earlier "
        "check and not read again (a full check re-reads them); " if resumed and chain.resumed_at is not None
        else ""
    ) + LOG_CHAIN_SCOPE
    if count == 0 and not problems:
        return Check(name="log_chain", status="pass", detail="the ledger has no logs yet; " + LOG_CHAIN_SCOPE, info=notes)
    if count and chain.unhashed == count and not problems:
        return Check(
            name="log_chain",
            status="not_verified",
            detail=f"{count} log(s) carry no hash: the ledger does not hash its logs synchronously (HASH_LOGS)",
            info=notes,
        )
    info = notes + tuple(f"{n} log(s) matched the {v} form" for v, n in sorted(chain.matched.items()))
    unverifiable = list(chain.unverifiable)
    if chain.unhashed:
        unverifiable.append(f"{chain.unhashed} log(s) carry no hash")
    if chain.mismatched or problems:
        status: Status = "fail"
    elif unverifiable:
        status = "not_verified"
    else:
        status = "pass"
    return Check(
        name="log_chain",
        status=status,
        detail=f"{count} log(s) read: {scope}",
        offending=problems + chain.mismatched + tuple(unverifiable),
        info=info,
    )


def read_log_chain(ledger: LedgerPort, *, until: datetime | None = None, full: bool = False) -> Check:
    """The log-chain check (see the module docstring); ``until`` bounds it to the logs dated by then.

    Reads the ledger's metadata (one request) unless ``full``, the logs it
    needs, and writes the checkpoint after a pass that got further.
    """

    notes: list[str] = []
    problems: tuple[str, ...] = ()
    recorded: LogCheckpoint | None = None
    try:
        recorded = checkpoint_from_metadata(ledger.ledger_metadata())
    except ValueError as exc:
        notes.append(f"the checkpoint cannot be read ({exc}): every log read")
    checkpoint = None if full else recorded
    if full:
        notes.append("full check asked for: every log read, the checkpoint not used")
    elif recorded is None and not notes:
        notes.append("no checkpoint yet: every log read")
    chain: LogChainVerification | None = None
    if checkpoint is not None:
        start = checkpoint.previous_id if checkpoint.previous_id is not None else checkpoint.log_id
        chain = verify_log_chain(ledger.logs(from_id=start), resume=checkpoint, until=until)
        if chain.resume == "mismatch":
            problems = (f"the log disagrees with the checkpoint in the ledger's metadata ({chain.resume_note}): "
                        "the log or the checkpoint was altered; every log read",)
            chain = None
        elif chain.resume == "beyond":
            notes.append(f"the checkpoint (log {checkpoint.log_id}) is dated after the as-of instant: every log up to it read")
            chain = None
    if chain is None:
        chain = verify_log_chain(ledger.logs(), until=until)
    check = log_chain_check(chain, notes=tuple(notes), problems=problems)
    last = chain.last
    if check.status == "pass" and last is not None and last != recorded:
        # A full pass over the whole chain replaces any checkpoint; any other pass only moves it on.
        if recorded is None or last.log_id > recorded.log_id or (full and until is None):
            try:
                ledger.set_ledger_metadata(checkpoint_metadata(last))
            except LoyaltyError as exc:  # the verdict stands; the next check resumes from the old checkpoint
                return check.model_copy(update={"info": check.info + (f"checkpoint not written: {exc.message}",)})
    return check
