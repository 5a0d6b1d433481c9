"""The epoch itself: the closed-period leg bounds the mark by an operation's instant in microseconds since
1970-01-01T00:00:00Z, and the mark's 0 means "nothing closed", so neither an operation nor a close can be
dated at the epoch. Both are refused as bad input before anything is posted (they used to be retried 30
times and reported as "concurrent spends", and a close through the epoch posted a close that closed nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from support.programme import earn, programme

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations.period_close import PeriodCloseCommand

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)


def test_an_operation_dated_at_the_epoch_is_bad_input_and_the_next_microsecond_posts(ledger) -> None:
    program = programme(ledger, pending_days=0)
    before = len(ledger.txs)
    with pytest.raises(InvalidCommand, match="after 1970-01-01T00:00:00Z"):
        program.earn(earn("c1", "o-epoch", "10.00", EPOCH))
    assert len(ledger.txs) == before
    assert program.earn(earn("c1", "o-next", "10.00", EPOCH + MICROSECOND)).points == 10
    with pytest.raises(InvalidCommand, match="after 1970-01-01T00:00:00Z"):
        program.release(EPOCH)


def test_a_close_through_the_epoch_is_bad_input_by_the_service_and_by_execute(ledger) -> None:
    program = programme(ledger)
    for close in (lambda: program.close_period(EPOCH), lambda: program.execute(PeriodCloseCommand(through=EPOCH))):
        with pytest.raises(InvalidCommand, match="a close must be through an instant after 1970-01-01T00:00:00Z"):
            close()
    assert program.period_closes() == [] and program.closed_through() is None
    program.close_period(EPOCH + MICROSECOND)
    assert program.closed_through() == EPOCH + MICROSECOND
    assert [c.through for c in program.period_closes()] == [EPOCH + MICROSECOND]


def test_a_close_through_the_present_or_future_is_refused_at_once_through_execute_too() -> None:
    from support.fake_ledger import FakeLedger

    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    ledger = FakeLedger()
    program = programme(ledger, pending_days=0, clock=lambda: now)
    for through in (now, now + timedelta(days=1)):
        with pytest.raises(InvalidCommand, match="it is not in the past"):
            program.execute(PeriodCloseCommand(through=through))
        with pytest.raises(InvalidCommand, match="it is not in the past"):
            program.close_period(through)
    assert ledger.posts == 0 and program.closed_through() is None
