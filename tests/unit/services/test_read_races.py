"""A refusal planned on reads that another operation changed between them is planned again, not final.

A back-dated spend reads the customer's accounts, then (another request) the
transactions dated after its instant; an import chunk's book does the same.
Another operation of the customer committing between the two mixes two
states (a balance without a transaction the history read has). These tests
make exactly that happen and check the operation is read again and posted,
while a refusal on reads nothing changed stands.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme, story_clock

from loyalty_accounts.errors import InsufficientPoints
from loyalty_accounts.operations import AdjustCommand, RedeemCommand
from loyalty_accounts.types import PostedTransaction

HOUR = timedelta(hours=1)


def credit(key: str, points: int, hours: float) -> AdjustCommand:
    return AdjustCommand(customer="c1", adjustment_id=key, direction="credit", points=points, reason="goodwill", at=T0 + hours * HOUR)


def racing(ledger: FakeLedger, meanwhile: Callable[[], object]) -> list[int]:
    """Run ``meanwhile`` once, inside the first history read of c1 (after its accounts were listed)."""

    fired: list[int] = []
    real = ledger.transactions

    def transactions(**kwargs: Any) -> Iterator[PostedTransaction]:
        account = kwargs.get("account") or ""
        if not fired and kwargs.get("start") is not None and account.startswith("customers:c1"):
            fired.append(1)
            meanwhile()
        return real(**kwargs)

    ledger.transactions = transactions  # type: ignore[method-assign]
    return fired


def test_a_back_dated_spend_refused_on_mixed_reads_is_planned_again() -> None:
    ledger = FakeLedger()
    here, there = programme(ledger, clock=story_clock, pending_days=0), programme(ledger, clock=story_clock, pending_days=0)
    there.adjust(credit("seed", 100, -1))
    there.adjust(credit("later", 10, 1))
    fired = racing(ledger, lambda: there.adjust(credit("race", 50, 1.5)))
    result = here.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=100, at=T0))
    assert fired and result.points == 100
    assert here.balance("c1").spendable == 100 + 10 + 50 - 100


def test_a_refusal_on_reads_nothing_changed_stands() -> None:
    ledger = FakeLedger()
    here, there = programme(ledger, clock=story_clock, pending_days=0), programme(ledger, clock=story_clock, pending_days=0)
    there.adjust(credit("seed", 100, -1))
    there.redeem(RedeemCommand(customer="c1", redemption_id="r0", points=50, at=T0 + HOUR))
    # at T0 the customer had 100, but 50 of them are spent later: only 50 can be taken back-dated
    with pytest.raises(InsufficientPoints):
        here.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=60, at=T0))
    assert ledger.find_by_reference("redeem:r1") is None


def test_an_import_order_refused_on_mixed_reads_is_read_again_and_posted(tmp_path: Path) -> None:
    ledger = FakeLedger()
    here, there = programme(ledger, clock=story_clock, pending_days=0), programme(ledger, clock=story_clock, pending_days=0)
    there.earn(earn("c1", "b1", "100.00", T0 + HOUR))
    path = tmp_path / "orders.csv"
    stamp = T0.isoformat().replace("+00:00", "Z")
    path.write_text(f"customer,order_id,amount,currency,ordered_at,category,channel\nc1,a1,40.00,USD,{stamp},,\n")
    fired = racing(ledger, lambda: there.earn(earn("c1", "b2", "800.00", T0 + 2 * HOUR)))
    summary = here.import_orders(path, chunk_size=1)
    assert fired and (summary.posted, summary.refused) == (1, 0)
    assert ledger.find_by_reference("earn:a1") is not None
