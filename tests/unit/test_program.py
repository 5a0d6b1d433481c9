"""The LoyaltyProgram facade: today's public API, and every bare identifier checked before anything is read.

What each operation does is tested per family in tests/unit/services/.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme, story_clock

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations import HoldCommand, OpenCounterCommand, ReleaseCommand, VoidCommand
from loyalty_accounts.program import LoyaltyProgram


class Recording:
    """A ledger port that records the name of every call it passes on to an in-memory ledger."""

    def __init__(self, inner: FakeLedger) -> None:
        self.inner = inner
        self.calls: list[str] = []

    @property
    def ledger(self) -> str:
        return self.inner.ledger

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attr(*args, **kwargs)

        return call


PUBLIC_API = {
    "init": [],
    "execute": ["command"],
    "earn": ["command"],
    "quote": ["command"],
    "engage": ["customer", "event", "key", "at"],
    "hold": ["command"],
    "capture": ["command"],
    "void": ["customer", "hold_id"],
    "void_lapsed": ["as_of", "progress"],
    "redeem": ["command"],
    "transfer": ["command"],
    "exchange_out": ["command"],
    "exchange_in": ["command"],
    "convert": ["command"],
    "adjust": ["command"],
    "refund": ["command"],
    "release": ["as_of", "customer", "progress"],
    "expire": ["as_of", "customer", "progress"],
    "catch_up_usage": ["as_of", "customer", "progress"],
    "tier": ["customer", "as_of"],
    "qualification_days": ["as_of"],
    "qualifying_points": ["customer", "as_of"],
    "explain": ["order_id"],
    "balance": ["customer", "pit"],
    "history": ["customer"],
    "programme_accounts": [],
    "close_period": ["through"],
    "closed_through": [],
    "period_closes": [],
    "import_orders": ["source", "skip_invalid", "chunk_size", "progress", "file_format"],
    "rewards": [],
    "reward": ["sku"],
    "restock": ["command"],
    "reviews": ["as_of", "include_decided"],
    "review": ["redemption_id", "decision", "operator", "reason", "at"],
    "lapse_reviews": ["as_of", "progress"],
}


def test_the_public_api_is_todays_plus_execute() -> None:
    methods = {name for name, _ in inspect.getmembers(LoyaltyProgram, inspect.isfunction) if not name.startswith("_")}
    assert methods == set(PUBLIC_API)
    for name, params in PUBLIC_API.items():
        assert list(inspect.signature(getattr(LoyaltyProgram, name)).parameters)[1:] == params, name


# Every public method taking a bare identifier, called with a bad one in that place.
BARE_IDS: dict[str, Callable[[LoyaltyProgram, str], object]] = {
    "balance": lambda p, bad: p.balance(bad),
    "balance as of": lambda p, bad: p.balance(bad, pit=T0),
    "history": lambda p, bad: p.history(bad),
    "tier": lambda p, bad: p.tier(bad, T0),
    "qualifying_points": lambda p, bad: p.qualifying_points(bad, T0),
    "void (customer)": lambda p, bad: p.void(bad, "h1"),
    "void (hold)": lambda p, bad: p.void("c1", bad),
    "release": lambda p, bad: p.release(T0, customer=bad),
    "expire": lambda p, bad: p.expire(T0, customer=bad),
    "explain": lambda p, bad: p.explain(bad),
    "engage (customer)": lambda p, bad: p.engage(bad, "sign_up", "k1", T0),
    "engage (key)": lambda p, bad: p.engage("c1", "sign_up", bad, T0),
    "reward": lambda p, bad: p.reward(bad),
    "review (redemption)": lambda p, bad: p.review(bad, "approve", operator="ops-7", reason="verified_with_member", at=T0),
    "review (operator)": lambda p, bad: p.review("r-1", "approve", operator=bad, reason="verified_with_member", at=T0),
}


@pytest.mark.parametrize("bad", ["", " ", "c1:...", "a:b", "c 1", "x" * 101])
@pytest.mark.parametrize("method", sorted(BARE_IDS))
def test_a_bad_identifier_is_refused_before_anything_is_read(method: str, bad: str) -> None:
    ledger = Recording(FakeLedger())
    program = programme(ledger, pending_days=0)  # type: ignore[arg-type]
    program.earn(earn("c1", "o1", "10"))
    ledger.calls.clear()
    with pytest.raises(InvalidCommand, match="is not valid") as refused:
        BARE_IDS[method](program, bad)
    assert refused.value.exit_code == 2
    assert ledger.calls == []


def test_a_well_formed_identifier_is_read() -> None:
    # The control: the same recording ledger sees the reads of a valid call.
    ledger = Recording(FakeLedger())
    program = programme(ledger, clock=story_clock, pending_days=0)  # type: ignore[arg-type]
    program.earn(earn("c1", "o1", "10"))
    ledger.calls.clear()
    assert program.balance("c1").spendable == 10
    assert ledger.calls == ["accounts"]


def test_execute_runs_any_registered_command_and_refuses_one_without_an_entry() -> None:
    ledger = FakeLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "10"))
    held = program.execute(HoldCommand(customer="c1", hold_id="h1", points=4, at=T0))
    assert (held.operation, held.reference, held.points, held.replayed) == ("hold", "hold:h1", 4, False)
    assert program.execute(HoldCommand(customer="c1", hold_id="h1", points=4, at=T0)).replayed
    opened = program.execute(OpenCounterCommand(customer="c1", event="sign_up"))
    assert opened.reference == "open_counter:sign_up:c1" and opened.posted
    voided = program.execute(VoidCommand(customer="c1", hold_id="h1"))
    assert (voided.operation, voided.reference, voided.points) == ("void", "void:h1", 4)
    assert program.balance("c1").spendable == 10
    with pytest.raises(InvalidCommand, match="ReleaseCommand"):
        program.execute(ReleaseCommand(customer="c1", as_of=T0))
