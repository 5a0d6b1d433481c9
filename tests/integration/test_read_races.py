"""On the real server: a refusal planned on reads another operation changed between them is planned again.

The server commits the other operation between the two listings (accounts,
then transactions dated after the instant); the operation must be read again
and posted, as the in-memory ledger shows (tests/unit/services/test_read_races.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from support.programme import T0, earn, programme, story_clock

from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import AdjustCommand, RedeemCommand

HOUR = timedelta(hours=1)


def credit(key: str, points: int, hours: float) -> AdjustCommand:
    return AdjustCommand(customer="c1", adjustment_id=key, direction="credit", points=points, reason="goodwill", at=T0 + hours * HOUR)


def racing(client: LedgerClient, method: str, meanwhile: Callable[[], object]) -> list[int]:
    """Run ``meanwhile`` once, as the first dated listing of transactions (``method``) is made."""

    fired: list[int] = []
    real = getattr(client, method)

    def listing(*args: Any, **kwargs: Any) -> Any:
        if not fired and kwargs.get("start") is not None:
            fired.append(1)
            meanwhile()
        return real(*args, **kwargs)

    setattr(client, method, listing)
    return fired


def test_a_back_dated_redeem_is_planned_again_after_a_credit_between_its_reads(client: LedgerClient) -> None:
    here, there = programme(client, clock=story_clock, pending_days=0), programme(client, clock=story_clock, pending_days=0)
    there.adjust(credit("seed", 100, -1))
    there.adjust(credit("later", 10, 1))
    fired = racing(client, "transactions", lambda: there.adjust(credit("race", 50, 1.5)))
    assert here.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=100, at=T0)).points == 100
    assert fired
    assert there.balance("c1").spendable == 60


def test_an_import_order_is_read_again_after_an_earn_between_its_book_reads(client: LedgerClient, tmp_path: Path) -> None:
    here, there = programme(client, clock=story_clock, pending_days=0), programme(client, clock=story_clock, pending_days=0)
    there.earn(earn("c1", "b1", "100.00", T0 + HOUR))
    path = tmp_path / "orders.csv"
    stamp = T0.isoformat().replace("+00:00", "Z")
    path.write_text(f"customer,order_id,amount,currency,ordered_at,category,channel\nc1,a1,40.00,USD,{stamp},,\n")
    fired = racing(client, "transactions_any", lambda: there.earn(earn("c1", "b2", "800.00", T0 + 2 * HOUR)))
    summary = here.import_orders(path, chunk_size=1)
    assert fired and (summary.posted, summary.refused) == (1, 0)
    assert client.find_by_reference("earn:a1") is not None
