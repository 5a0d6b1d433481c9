"""import_orders over the in-memory ledger: validation first, chunks of distinct customers, exactly once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme

from loyalty_accounts.operations import EarnCommand
from loyalty_accounts.services.import_chunks import chunks_by_customer

HEADER = "customer,order_id,amount,currency,ordered_at,category,channel"


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def orders_of(customers: str) -> list[EarnCommand]:
    return [earn(c, f"o{i}", "10.00") for i, c in enumerate(customers)]


def test_chunks_are_runs_of_the_file_with_one_order_per_customer() -> None:
    chunks = list(chunks_by_customer(orders_of("aabacbdeee"), 3))
    # a chunk ends where its customer comes again or it is full: the file's order is kept exactly
    assert [[o.order_id for o in chunk] for chunk in chunks] == [["o0"], ["o1", "o2"], ["o3", "o4", "o5"], ["o6", "o7"], ["o8"], ["o9"]]
    assert [o for chunk in chunks for o in chunk] == orders_of("aabacbdeee")


def test_a_file_of_one_customer_is_read_one_order_at_a_time() -> None:
    sizes = []
    seen = 0

    def stream():  # type: ignore[no-untyped-def]
        nonlocal seen
        for order in orders_of("z" * 500):
            seen += 1
            yield order

    for chunk in chunks_by_customer(stream(), 2):
        sizes.append(len(chunk))
        assert seen - sum(sizes) <= 1  # only the order that ended the chunk is held
    assert sizes == [1] * 500


def test_invalid_rows_stop_everything_and_skip_invalid_posts_the_rest(tmp_path: Path) -> None:
    ledger = FakeLedger()
    program = programme(ledger)
    path = write(
        tmp_path,
        [
            f"c1,o1,10.00,USD,{at(1)},,",
            f"c1,o2,10.00,GBP,{at(2)},,",
            f"c2,o1,20.00,USD,{at(3)},,",
            f"c2,o3,1.005,USD,{at(4)},,",
            f"c3,o4,5.00,USD,{(T0 + timedelta(days=3650)).isoformat()},,",
            f"c3,o5,25.00,USD,{at(5)},,",
        ],
    )
    stopped = program.import_orders(path)
    assert [line for line, _ in stopped.invalid] == [3, 4, 5, 6]
    assert "GBP" in stopped.invalid[0][1] and "line 2" in stopped.invalid[1][1] and "decimals" in stopped.invalid[2][1]
    assert "future" in stopped.invalid[3][1]
    assert stopped.stopped_for_invalid_rows and ledger.find_by_reference("earn:o1") is None

    skipped = program.import_orders(path, skip_invalid=True)
    assert (skipped.posted, skipped.orders, len(skipped.invalid)) == (2, 2, 4)
    assert skipped.points == program.balance("c1").total + program.balance("c3").total > 0


def test_an_order_id_earned_with_other_content_is_refused_and_the_rest_posted(tmp_path: Path) -> None:
    program = programme(FakeLedger())
    program.earn(earn("c9", "o2", "99.00"))
    path = write(tmp_path, [f"c1,o1,10.00,USD,{at(1)},,", f"c2,o2,10.00,USD,{at(1)},,", f"c3,o3,10.00,USD,{at(1)},,"])
    summary = program.import_orders(path)
    assert (summary.posted, summary.refused) == (2, 1)
    assert summary.refusals[0][0] == "o2" and "earn:o2" in summary.refusals[0][1]


def test_prices_match_single_earns_across_tiers_and_caps(tmp_path: Path) -> None:
    rows = [f"c{i % 2},o{i},{900 + 37 * i}.00,USD,{at(i)},,app" for i in range(14)]
    path = write(tmp_path, rows)
    imported, single = programme(FakeLedger()), programme(FakeLedger())
    summary = imported.import_orders(path, chunk_size=3)
    assert summary.posted == 14
    for i in range(14):
        single.earn(EarnCommand(customer=f"c{i % 2}", order_id=f"o{i}", amount=earn("x", "y", f"{900 + 37 * i}.00").amount,
                                ordered_at=T0 + timedelta(minutes=i), channel="app"))
    for i in range(14):
        ours = imported.ledger.find_by_reference(f"earn:o{i}")
        theirs = single.ledger.find_by_reference(f"earn:o{i}")
        assert ours is not None and theirs is not None and ours.metadata == theirs.metadata
    assert {imported.ledger.find_by_reference(f"earn:o{i}").metadata["tier_after"] for i in range(14)} == {"member", "silver"}  # type: ignore[union-attr]


def test_chunk_size_is_bounded_by_the_server_limit(tmp_path: Path) -> None:
    from loyalty_accounts.errors import InvalidCommand

    program = programme(FakeLedger())
    with pytest.raises(InvalidCommand, match="chunk size"):
        program.import_orders(write(tmp_path, []), chunk_size=101)


def test_an_order_the_rules_cannot_price_is_an_invalid_row_and_nothing_posts(tmp_path: Path) -> None:
    """An unknown channel or category is refused in the validation pass, as `earn` and `quote` refuse it."""

    ledger = FakeLedger()
    program = programme(ledger)
    path = write(tmp_path, [f"c1,o1,10.00,USD,{at(1)},books,web", f"c1,o2,10.00,USD,{at(2)},books,tv"])
    stopped = program.import_orders(path)
    assert [line for line, _ in stopped.invalid] == [3]
    assert "channel" in stopped.invalid[0][1] and "tv" in stopped.invalid[0][1]
    assert ledger.find_by_reference("earn:o1") is None


def test_a_byte_order_mark_before_the_header_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    ledger = FakeLedger()
    program = programme(ledger)
    path = tmp_path / "excel.csv"
    path.write_bytes(("\ufeff" + HEADER + "\r\n" + f"c1,o1,10.00,USD,{at(1)},books,web\r\n").encode("utf-8"))
    summary = program.import_orders(path)
    assert (summary.posted, summary.invalid) == (1, ())
    assert ledger.find_by_reference("earn:o1") is not None


def test_new_customers_controls_are_opened_by_a_bulk_of_their_own_before_the_orders(tmp_path: Path) -> None:
    ledger = FakeLedger()
    program = programme(ledger, pending_days=0)
    sent: list[tuple[list[str], bool]] = []
    post_many = ledger.post_many

    def recording(plans, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(([plan.reference for plan in plans], kwargs.get("looked_up", False)))
        return post_many(plans, **kwargs)

    ledger.post_many = recording  # type: ignore[method-assign]
    summary = program.import_orders(write(tmp_path, [f"n{i},o{i},10.00,USD,{at(i)},," for i in range(3)]))
    assert summary.posted == 3
    # the openings (each new customer's sequence counter; on a fresh ledger the closed-period mark too)
    # are a request of their own, not looked up first, answered before the orders are sent
    sequences = [f"open_control:{program.chart.sequence(f'n{i}')}" for i in range(3)]
    assert [refs for refs, _ in sent] == [
        [*sequences, f"open_control:{program.chart.period_closed()}"],
        ["earn:o0", "earn:o1", "earn:o2"],
    ]
    assert sent[0][1] is True
    # the counters the openings created were moved by the orders' sequence legs
    assert all(ledger.account(program.chart.sequence(f"n{i}")).balance(program.chart.control_asset) != 0 for i in range(3))


def test_customers_posted_on_by_earlier_chunks_are_planned_without_reads(tmp_path: Path) -> None:
    from test_horizon import CountingLedger

    ledger = CountingLedger()
    program = programme(ledger, pending_days=0)
    first = program.import_orders(write(tmp_path, [f"c{i},o{i},10.00,USD,{at(i)},," for i in range(4)]))
    assert first.posted == 4
    ledger.reads.clear()
    later = tmp_path / "later.csv"
    later.write_text("\n".join([HEADER, *(f"c{i},p{i},20.00,USD,{at(10 + i)},," for i in range(4))]) + "\n")
    second = program.import_orders(later)
    assert second.posted == 4
    assert ledger.reads["accounts"] == 0 and ledger.reads["history"] == 0
    assert [program.balance(f"c{i}").total for i in range(4)] == [30] * 4


def test_an_import_planned_on_a_stale_guess_is_read_again_and_posted_once(tmp_path: Path) -> None:
    from loyalty_accounts.operations import RedeemCommand

    ledger = FakeLedger()
    here, there = programme(ledger, pending_days=0), programme(ledger, pending_days=0)
    here.import_orders(write(tmp_path, [f"c1,o1,100.00,USD,{at(1)},,", f"c2,o2,100.00,USD,{at(1)},,"]))
    # another process spends c1's points and earns for c2: both guesses are stale now
    there.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=60, at=T0 + timedelta(minutes=2)))
    there.earn(earn("c2", "x1", "10.00", T0 + timedelta(minutes=2)))
    later = tmp_path / "later.csv"
    later.write_text("\n".join([HEADER, f"c1,o3,10.00,USD,{at(3)},,", f"c2,o4,10.00,USD,{at(3)},,"]) + "\n")
    summary = here.import_orders(later)
    assert (summary.posted, summary.refused) == (2, 0)
    assert here.balance("c1").total == 100 - 60 + 10
    assert here.balance("c2").total == 100 + 10 + 10
    assert here.import_orders(later).replayed == 2


def test_running_a_file_again_reads_nothing_but_the_references(tmp_path: Path) -> None:
    from test_horizon import CountingLedger

    ledger = CountingLedger()
    path = write(tmp_path, [f"c{i % 3},o{i},10.00,USD,{at(i)},," for i in range(9)])
    assert programme(ledger, pending_days=0).import_orders(path, chunk_size=2).posted == 9
    again = programme(ledger, pending_days=0)  # another process: nothing known of the customers
    ledger.reads.clear()
    summary = again.import_orders(path, chunk_size=2)
    assert (summary.posted, summary.replayed) == (0, 9)
    assert sum(ledger.reads.values()) == 0  # no guard, book or history read: the references settled it


def test_orders_inside_a_capped_campaign_are_planned_without_reads_too(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from test_horizon import CountingLedger

    black_friday = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)  # bf-2026 caps electronics, fashion, home

    def rows(prefix: str, category: str, start: int, amount: str = "100.00") -> list[str]:
        stamps = [(black_friday + timedelta(minutes=start + i)).isoformat().replace("+00:00", "Z") for i in range(3)]
        return [f"c{i},{prefix}{i},{amount},USD,{stamps[i]},{category}," for i in range(3)]

    ledger = CountingLedger()
    program = programme(ledger, pending_days=0, clock=lambda: black_friday + timedelta(days=1))
    program.import_orders(write(tmp_path, rows("a", "books", 0)))
    ledger.reads.clear()
    later = tmp_path / "later.csv"
    later.write_text("\n".join([HEADER, *rows("b", "books", 10)]) + "\n")
    assert program.import_orders(later).posted == 3
    assert sum(ledger.reads.values()) == 0  # no guard or book read
    capped = tmp_path / "capped.csv"
    capped.write_text("\n".join([HEADER, *rows("e", "electronics", 20)]) + "\n")
    assert program.import_orders(capped).posted == 3
    # The usage of bf-2026 is a balance the last post left: still no read, no listing of earns.
    assert sum(ledger.reads.values()) == 0
    chart = program.chart
    assert ledger.account(chart.campaign_usage("c0", "bf-2026")).balance(chart.campaign_asset) == 200


def test_an_import_holds_the_cap_from_the_usage_balances(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from loyalty_accounts.rules import EarnBreakdown

    black_friday = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)
    stamps = [(black_friday + timedelta(minutes=i)).isoformat().replace("+00:00", "Z") for i in range(6)]
    # Each order of 1500.00 electronics asks bf-2026 for 3000 (per order: 2000); the cap is 6000 per customer.
    path = write(tmp_path, [f"c1,o{i},1500.00,USD,{stamps[i]},electronics," for i in range(6)])
    ledger = FakeLedger()
    program = programme(ledger, pending_days=0, clock=lambda: black_friday + timedelta(days=1))
    assert program.import_orders(path, chunk_size=4).posted == 6
    chart = program.chart
    assert ledger.account(chart.campaign_usage("c1", "bf-2026")).balance(chart.campaign_asset) == 6000
    charged = [
        EarnBreakdown.from_metadata(ledger.find_by_reference(f"earn:o{i}").metadata).campaign_charges().get("bf-2026", 0)  # type: ignore[union-attr]
        for i in range(6)
    ]
    assert charged == [2000, 2000, 2000, 0, 0, 0]


def test_references_taken_between_the_lookup_and_the_post_are_settled_per_order(tmp_path: Path) -> None:
    class RacedLedger(FakeLedger):
        """Another process posts o2 (the same order) and o3 (other content) right after the chunk's lookup."""

        def find_by_references(self, references):  # type: ignore[no-untyped-def]
            found = super().find_by_references(references)
            if "earn:o2" in references and not self.raced:
                self.raced = True
                other = programme(self, pending_days=0)
                other.earn(earn("c2", "o2", "10.00", T0 + timedelta(minutes=1)))
                other.earn(earn("c9", "o3", "77.00", T0 + timedelta(minutes=1)))
            return found

    ledger = RacedLedger()
    ledger.raced = False
    program = programme(ledger, pending_days=0)
    path = write(tmp_path, [f"c1,o1,10.00,USD,{at(1)},,", f"c2,o2,10.00,USD,{at(1)},,", f"c3,o3,10.00,USD,{at(1)},,"])
    summary = program.import_orders(path)
    assert (summary.posted, summary.replayed, summary.refused) == (1, 1, 1)
    assert summary.refusals[0][0] == "o3" and "earn:o3" in summary.refusals[0][1]
    assert program.balance("c1").total == summary.points > 0
    assert program.balance("c3").total == 0 and program.balance("c2").total == program.balance("c1").total
    assert program.import_orders(path).replayed == 2
