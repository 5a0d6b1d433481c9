"""Time over the whole history: closed periods stay closed, nothing dated in the future; pure, then through reconcile."""

from __future__ import annotations

from datetime import timedelta

from support.fake_ledger import FakeLedger
from support.finance_books import Books, at
from support.programme import earn, programme

from loyalty_accounts.errors import PeriodClosed
from loyalty_accounts.operations.guard import microseconds
from loyalty_accounts.reports import FinanceReports, check_closed_periods, check_future_dated
from loyalty_accounts.reports.check import SHOWN
from loyalty_accounts.types import PostedTransaction

THROUGH = "2026-03-31T23:59:59.999999"
LATER = "2026-04-30T23:59:59.999999"
SKEW = timedelta(minutes=2)


def tx(
    tx_id: int,
    dated: str,
    *,
    operation: str = "earn",
    inserted: str | None = None,
    reverted: bool = False,
    **metadata: str,
) -> PostedTransaction:
    return PostedTransaction(
        id=tx_id,
        timestamp=at(dated),
        postings=(),
        metadata={"operation": operation, **metadata},
        reverted=reverted,
        inserted_at=at(inserted) if inserted else None,
    )


def close(tx_id: int, through: str, dated: str = "2026-04-02T09:00:00", **extra: object) -> PostedTransaction:
    return tx(tx_id, dated, operation="period_close", closed_through=through + "Z", **extra)  # type: ignore[arg-type]


def mark(through: str) -> int:
    return -microseconds(at(through))


def test_a_history_posted_around_its_closes_passes_and_says_what_it_checked() -> None:
    history = [
        tx(1, "2026-03-10T10:00:00"),
        tx(2, "2026-03-31T23:59:59.999999"),  # the last instant of the period, posted before the close
        close(3, THROUGH),
        tx(4, "2026-04-01T00:00:00"),  # the first instant after it
        close(5, LATER, "2026-05-02T09:00:00"),
        tx(6, "2026-05-01T00:00:00"),
    ]
    result = check_closed_periods(list(reversed(history)), mark(LATER))
    assert result.status == "pass" and result.count == 0, result
    assert result.detail == (
        "2 close(s), closed through 2026-04-30T23:59:59.999999Z by #5; mark -1777593599999999; "
        "3 transaction(s) inserted after a close checked against the instant it closed through"
    )
    nothing = check_closed_periods([tx(1, "2026-03-10T10:00:00")], 0)
    assert nothing.status == "pass" and nothing.detail.startswith("0 close(s), nothing closed; mark 0;")


def test_a_transaction_inserted_after_a_close_dated_in_its_period_fails_naming_both() -> None:
    history = [
        tx(1, "2026-03-10T10:00:00"),
        close(2, THROUGH),
        tx(3, "2026-03-31T23:59:59.999999", operation="redeem"),  # exactly the closed-through instant
        tx(4, "2026-04-01T00:00:00"),
        tx(5, "2026-01-01T00:00:00", operation="adjust"),
    ]
    result = check_closed_periods(history, mark(THROUGH))
    assert result.status == "fail" and result.count == 2
    assert result.offending == (
        "#3 (redeem, dated 2026-03-31T23:59:59.999999Z) was inserted after close #2 and is dated at or before "
        "2026-03-31T23:59:59.999999Z, the instant it closed the books through",
        "#5 (adjust, dated 2026-01-01T00:00:00Z) was inserted after close #2 and is dated at or before "
        "2026-03-31T23:59:59.999999Z, the instant it closed the books through",
    )


def test_a_later_close_is_held_to_the_period_it_closed() -> None:
    # dated in April: fine after the first close, not after the second
    history = [close(1, THROUGH), close(2, LATER, "2026-05-02T09:00:00"), tx(3, "2026-04-15T00:00:00")]
    result = check_closed_periods(history, mark(LATER))
    assert result.count == 1 and result.offending[0].startswith("#3 (earn, dated 2026-04-15T00:00:00Z) was inserted after close #2")


def test_closes_must_go_forward_and_stand() -> None:
    backwards = check_closed_periods([close(1, LATER), close(2, THROUGH, "2026-05-03T00:00:00")], mark(THROUGH))
    assert backwards.status == "fail"
    assert backwards.offending[0] == (
        "close #2 through 2026-03-31T23:59:59.999999Z does not go past close #1 through 2026-04-30T23:59:59.999999Z"
    )
    again = check_closed_periods([close(1, THROUGH), close(2, THROUGH, "2026-05-03T00:00:00")], mark(THROUGH))
    assert again.count == 1 and "does not go past close #1" in again.offending[0]
    reverted = check_closed_periods([close(1, THROUGH, reverted=True)], mark(THROUGH))
    assert reverted.offending == ("close #1 through 2026-03-31T23:59:59.999999Z was reverted: the mark moved back",)
    unreadable = check_closed_periods([tx(1, "2026-04-02T00:00:00", operation="period_close", closed_through="March")], 0)
    assert unreadable.offending == ("close #1: closed_through 'March' is not an instant",)


def test_the_mark_must_hold_minus_the_latest_closed_through_instant() -> None:
    behind = check_closed_periods([close(1, THROUGH), close(2, LATER, "2026-05-02T09:00:00")], mark(THROUGH))
    assert behind.offending == (
        "the closed-period mark holds -1775001599999999 (closed through 2026-03-31T23:59:59.999999Z), "
        "the closes say -1777593599999999 (closed through 2026-04-30T23:59:59.999999Z)",
    )
    unrecorded = check_closed_periods([tx(1, "2026-03-10T10:00:00")], mark(THROUGH))
    assert unrecorded.count == 1 and unrecorded.offending[0].endswith("the closes say 0 (closed through nothing)")
    moved_by_hand = check_closed_periods([close(1, THROUGH)], 0)
    assert moved_by_hand.offending[0].startswith("the closed-period mark holds 0 (closed through nothing)")


def test_offending_transactions_are_counted_all_and_listed_first_few() -> None:
    history = [close(1, THROUGH)] + [tx(n, "2026-02-01T00:00:00") for n in range(2, 2 + SHOWN + 3)]
    result = check_closed_periods(history, mark(THROUGH))
    assert (result.count, len(result.offending)) == (SHOWN + 3, SHOWN)


def test_future_dated_within_the_skew_passes_beyond_it_fails() -> None:
    history = [
        tx(1, "2026-03-10T10:00:00", inserted="2026-04-01T00:00:00"),  # back-dated: fine
        tx(2, "2026-04-01T00:02:00", inserted="2026-04-01T00:00:00"),  # exactly the skew ahead
        tx(3, "2026-04-01T00:02:00.000001", inserted="2026-04-01T00:00:00", operation="engage"),
        tx(4, "2030-01-01T00:00:00", inserted="2026-04-01T00:00:00"),
    ]
    result = check_future_dated(history, SKEW)
    assert result.status == "fail" and result.count == 2
    assert result.offending == (
        "#3 (engage, dated 2026-04-01T00:02:00.000001Z) was inserted at 2026-04-01T00:00:00Z: dated 0:02:00.000001 "
        "after it, more than the clock skew 0:02:00",
        "#4 (earn, dated 2030-01-01T00:00:00Z) was inserted at 2026-04-01T00:00:00Z: dated 1371 days, 0:00:00 "
        "after it, more than the clock skew 0:02:00",
    )
    assert check_future_dated(history[:2], SKEW).status == "pass"
    assert check_future_dated(history, timedelta(days=1372)).status == "pass"
    assert check_future_dated(history, timedelta(0)).count == 3


def test_future_dated_judges_only_what_the_ledger_dated_on_insertion() -> None:
    unknown = [tx(1, "2030-01-01T00:00:00")]
    assert check_future_dated(unknown, SKEW).status == "not_verified"
    mixed = check_future_dated([*unknown, tx(2, "2026-03-10T10:00:00", inserted="2026-04-01T00:00:00")], SKEW)
    assert mixed.status == "pass" and mixed.detail.endswith("; 1 without an insertion instant, not judged")
    assert check_future_dated([], SKEW).status == "pass"


# -- through reconcile, on the in-memory ledger ---------------------------------

NOW = at("2026-06-01T12:00:00")


def programme_at_now() -> tuple[FakeLedger, FinanceReports, Books]:
    ledger = FakeLedger(clock=lambda: NOW)
    program = programme(ledger, clock=lambda: NOW)
    reports = FinanceReports(ledger, program.chart, clock=lambda: NOW, rules=program.rules)
    books = Books(ledger, program.chart, program.catalogue, schema_version=program.schema_version)
    program.earn(earn("c1", "o-1", "40.00", at("2026-03-10T10:00:00")))
    program.close_period(at(THROUGH))
    program.earn(earn("c1", "o-2", "40.00", at("2026-04-10T10:00:00")))
    try:
        program.earn(earn("c1", "o-3", "40.00", at("2026-03-20T10:00:00")))
    except PeriodClosed:
        pass
    else:
        raise AssertionError("the programme posted into the closed period")
    return ledger, reports, books


def test_reconcile_passes_a_closed_history_and_fails_one_forced_into_the_closed_period() -> None:
    ledger, reports, books = programme_at_now()
    clean = reports.reconcile()
    assert clean.check("closed_periods").status == "pass" and clean.check("future_dated").status == "pass"
    assert clean.check("closed_periods").detail.startswith("1 close(s), closed through 2026-03-31T23:59:59.999999Z by #")
    forced = books.earn("c1", "o-3", "40.00", "2026-03-20T10:00:00")  # the earn's own plan, without the guard
    result = reports.reconcile()
    assert not result.ok
    assert result.check("closed_periods").status == "fail"
    assert result.check("closed_periods").offending == (
        f"#{forced.id} (earn, dated 2026-03-20T10:00:00Z) was inserted after close #{close_id(ledger)} and is dated "
        "at or before 2026-03-31T23:59:59.999999Z, the instant it closed the books through",
    )


def test_reconcile_fails_a_transaction_forced_in_dated_beyond_the_skew() -> None:
    _, reports, books = programme_at_now()
    forced = books.earn("c2", "o-9", "10.00", "2030-01-01T00:00:00")
    result = reports.reconcile(at("2030-01-02T00:00:00"))
    assert result.check("future_dated").status == "fail"
    assert result.check("future_dated").offending[0].startswith(f"#{forced.id} (earn, dated 2030-01-01T00:00:00Z) was inserted at 2026-06-01T12:00:00Z")
    wider = FinanceReports(books.ledger, books.chart, clock=lambda: NOW, clock_skew=timedelta(days=2000))
    assert wider.reconcile(at("2030-01-02T00:00:00")).check("future_dated").status == "pass"
    as_of_now = reports.reconcile().check("future_dated")
    assert as_of_now.status == "fail", "recorded by now, though dated after it"
    assert as_of_now.offending == result.check("future_dated").offending
    before = reports.reconcile(at("2026-05-01T00:00:00")).check("future_dated")
    assert before.status == "pass", "as of an instant before it was recorded, it is not judged"


def close_id(ledger: FakeLedger) -> int:
    return next(t.id for t in ledger.txs if t.metadata.get("operation") == "period_close")

