"""Ledger ports that lose races the way the real server makes them lose, for unit tests of the services.

Kept apart from the in-memory ledger (``fake_ledger``), which stays a plain
model of the books: these only change the order of its checks or let another
caller in first.
"""

from __future__ import annotations

from typing import Callable

from loyalty_accounts.errors import InsufficientPoints
from loyalty_accounts.types import PostedTransaction, TransactionPlan

from .fake_ledger import FakeLedger
from .interpreter import ScriptFailed, run_script


class FundsBeforeReference(FakeLedger):
    """The real server's order of checks: the script's funds first, then the reference.

    Formance v2.4.12 runs the script (and its balance checks) before the
    reference's uniqueness is checked, so the losing twin of two identical
    spends of the whole balance is refused with INSUFFICIENT_FUND, not as a
    duplicate. With ``twin`` set to an operation name, the next post of that
    operation is preceded by the same plan posted by another caller (or, with
    ``twin_hash``, by another command under the same reference): our call
    loses the race.
    """

    def __init__(self) -> None:
        super().__init__()
        self.twin: str | None = None
        self.twin_hash: str | None = None

    def post(self, plan: TransactionPlan, *, schema_version: str | None = None) -> PostedTransaction:
        if self.twin == plan.operation:
            self.twin = None
            theirs = plan if self.twin_hash is None else plan.model_copy(update={"command_hash": self.twin_hash})
            super().post(theirs, schema_version=schema_version)
        try:
            run_script(plan.script, plan.vars, self._balances())
        except ScriptFailed as exc:
            if exc.missing_funds:
                raise InsufficientPoints(str(exc), code="INSUFFICIENT_FUND") from None
        return super().post(plan, schema_version=schema_version)


class TwinAfterLookup(FakeLedger):
    """Another caller's twin commits right after our first lookup of its reference missed.

    Set ``reference`` and ``twin`` (a callable running the same command through
    another path): the twin runs once, just after a lookup of ``reference``
    found nothing, so the reads our plan is then built from already include it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reference: str | None = None
        self.twin: Callable[[], object] | None = None

    def find_by_reference(self, reference: str) -> PostedTransaction | None:
        found = super().find_by_reference(reference)
        if found is None and reference == self.reference and self.twin is not None:
            twin, self.twin = self.twin, None
            twin()
        return found
