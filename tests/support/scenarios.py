"""Scripted scenarios whose answers must not depend on which ledger runs them.

``tests/integration/test_differential.py`` runs every scenario of
:data:`SCENARIOS` once on the in-memory ledger (``support.fake_ledger``) and
once on a real Formance server, each on a fresh ledger, and compares the two
lists of answers step by step. A scenario is a function of a :class:`Run`: it
drives the programme (every operation of :class:`LoyaltyProgram`) or the port
directly, and records each answer, refusals included, with :meth:`Run.check`.

Answers are reduced to plain data (:func:`Run.answer`) so that they compare
field by field: transaction ids, postings, metadata, the reverted and replayed
flags, volumes, balances, the class and code of every error. The only thing
normalised away is an instant the ledger chose itself (an undated posting, a
revert): it reads ``"<now>"`` when it falls inside the run. Instants the
scenarios set are all in 2025, well before any run.

Insertion-dated reads need instants between writes: :meth:`Run.mark` returns
one, a little after the last write and before the next, on each ledger's own
clock; the marks differ between the runs, the answers must not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any, Callable, Iterable, Mapping

from pydantic import BaseModel

from loyalty_accounts.errors import LoyaltyError
from loyalty_accounts.operations import (
    AdjustCommand,
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
)
from loyalty_accounts.ports import LedgerPort
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.types import PostedTransaction, TransactionPlan

from .programme import programme, usd

UTC = timezone.utc
T = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
"""The scenarios' day 0 (a Monday, outside every campaign of rules.yaml)."""
NOW = "<now>"
MARK_GAP_S = 0.05


def days(n: float) -> timedelta:
    return timedelta(days=n)


@dataclass
class Run:
    """One scenario on one ledger: the answers, in order."""

    ledger: LedgerPort
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    steps: list[tuple[str, Any]] = field(default_factory=list)

    def program(self, **policies: Any) -> LoyaltyProgram:
        return programme(self.ledger, **policies)

    def check(self, label: str, call: Callable[[], Any]) -> Any:
        """Record what ``call`` answers (or the error it raises); return the raw answer (None on error)."""

        try:
            value = call()
            if isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping, BaseModel, tuple, list)):
                value = list(value)
        except LoyaltyError as exc:
            self.steps.append((label, refusal(exc)))
            return None
        self.steps.append((label, self.answer(value)))
        return value

    def mark(self) -> datetime:
        """An instant strictly between the writes before and after it (on this machine's clock)."""

        time.sleep(MARK_GAP_S)
        instant = datetime.now(UTC)
        time.sleep(MARK_GAP_S)
        return instant

    def answer(self, value: Any) -> Any:
        """Plain data, comparable with ``==`` between two runs."""

        if isinstance(value, PostedTransaction):
            out = {name: self.answer(getattr(value, name)) for name in type(value).model_fields}
            return out
        if isinstance(value, BaseModel):
            out = {"type": type(value).__name__} | {
                name: self.answer(getattr(value, name)) for name in type(value).model_fields
            }
            return horizon_free(out)
        if isinstance(value, datetime):
            moment = value.astimezone(UTC)
            return NOW if self.started <= moment <= datetime.now(UTC) else moment.isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, (Decimal, Enum)):
            return str(value)
        if isinstance(value, Mapping):
            return {str(k): self.answer(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.answer(v) for v in value]
        return value


HORIZON = "<horizon>"


def horizon_free(answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` with the amounts of customers' horizons normalised away.

    A horizon moves to the instant of each transaction dated after it; an
    undated one (a void, "now") moves it by an amount that depends on when
    the run happened. tests/unit/services/test_horizon.py and
    tests/integration/test_time_rules.py check the horizons themselves.
    """

    addresses = [answer.get(key) for key in ("source", "destination", "account")]
    if any(isinstance(a, str) and a.endswith(":horizon") for a in addresses):
        return answer | {key: HORIZON for key in ("amount", "input", "output", "balance") if key in answer}
    return answer


def refusal(exc: LoyaltyError) -> dict[str, Any]:
    """An error as compared: its class and code, and for a bulk the references and codes it lists."""

    out: dict[str, Any] = {"refused": type(exc).__name__, "code": exc.code}
    details = exc.details if isinstance(exc.details, Mapping) else {}
    if "failures" in details:
        out["failures"] = [(f["reference"], f["code"]) for f in details["failures"]]
    return out


def earn(customer: str, order: str, amount: str, at: datetime, **extra: Any) -> EarnCommand:
    return EarnCommand(customer=customer, order_id=order, amount=usd(amount), ordered_at=at, **extra)


def plan(script: str, reference: str, command_hash: str = "h1", *, at: datetime | None = T, **variables: str) -> TransactionPlan:
    """A raw plan, for scenarios that talk to the port directly."""

    return TransactionPlan(
        operation="manual",
        template="manual",
        script=script,
        vars=variables,
        reference=reference,
        command_hash=command_hash,
        metadata={"purpose": "differential"},
        timestamp=at,
    )


MINT = """vars {
  monetary $amount
  account $to
}
send $amount (
  source = @world
  destination = $to
)
"""
SPEND = """vars {
  monetary $amount
  account $from
}
send $amount (
  source = $from
  destination = @program:points:redeemed
)
"""
C1 = "customers:c1:points:noexpiry"


def log_outline(ledger: LedgerPort) -> list[list[Any]]:
    """The ledger's log as [id, type, what it is about]: hashes and dates left aside."""

    out: list[list[Any]] = []
    for log in ledger.logs():
        data, kind = log.get("data") or {}, log.get("type")
        if kind == "NEW_TRANSACTION":
            subject: Any = data["transaction"]["id"]
        elif kind == "REVERTED_TRANSACTION":
            subject = [data["revertedTransaction"]["id"], data["transaction"]["id"]]
        elif kind == "SET_METADATA":
            subject = [data["targetType"], data["targetId"], data["metadata"]]
        elif kind == "INSERTED_SCHEMA":
            subject = data["schema"]["version"]
        else:
            subject = data
        out.append([log["id"], kind, subject])
    return out


# --------------------------------------------------------------------------
# The scenarios


def earn_release_redeem_as_of(run: Run) -> None:
    """Earns (one back-dated behind later ones), releases, a redemption; then every kind of read,
    as of instants before, between and after the postings, effective and by insertion."""

    p = run.program(pending_days=14, expiry_days=365)
    ledger = run.ledger
    run.check("earn o1", lambda: p.earn(earn("c1", "o1", "120.50", T, category="groceries")))
    run.check("earn o2", lambda: p.earn(earn("c1", "o2", "40", T + days(20))))
    run.check("earn o3 for c2", lambda: p.earn(earn("c2", "o3", "75", T + days(1))))
    first = run.mark()
    run.check("earn o0, dated before o1, posted after o2", lambda: p.earn(earn("c1", "o0", "30", T - days(10))))
    run.check("release as of T+14d", lambda: p.release(T + days(14)))
    run.check("release as of T+14d again", lambda: p.release(T + days(14)))
    second = run.mark()
    run.check("release as of T+40d", lambda: p.release(T + days(40)))
    run.check("redeem r1", lambda: p.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=100, at=T + days(41), reward="mug")))
    third = run.mark()

    for label, pit in [("now", None), ("T-11d", T - days(11)), ("T-10d", T - days(10)), ("T+5d", T + days(5)),
                       ("T+14d", T + days(14)), ("T+41d", T + days(41))]:
        run.check(f"balance c1 at {label}", lambda: p.balance("c1", pit=pit))
        run.check(f"accounts customers:c1:... at {label}", lambda: ledger.accounts("customers:c1:...", pit=pit))
        run.check(f"accounts customers::points: at {label}", lambda: ledger.accounts("customers::points:", pit=pit))
        run.check(f"account redeemed at {label}", lambda: ledger.account("program:points:redeemed", pit=pit))
        run.check(f"account o0's pending at {label}", lambda: ledger.account("customers:c1:pending:20250307:20260221", pit=pit))
        run.check(f"aggregate customers:... at {label}", lambda: ledger.aggregate_balances("customers:...", pit=pit))
        run.check(f"transactions at {label}", lambda: ledger.transactions(pit=pit))
    run.check("account never used", lambda: ledger.account("customers:ghost:credit"))
    run.check("balance of an unknown customer", lambda: p.balance("ghost"))

    for label, pit in [("first mark", first), ("second mark", second), ("third mark", third), ("T+41d", T + days(41))]:
        run.check(f"aggregate customers:... inserted by {label}",
                  lambda: ledger.aggregate_balances("customers:...", pit=pit, use_insertion_date=True))
        run.check(f"trial balance inserted by {label}", lambda: ledger.aggregate_balances("", pit=pit, use_insertion_date=True))
    run.check("trial balance", lambda: ledger.aggregate_balances(""))
    run.check("aggregate program:... at T+14d", lambda: ledger.aggregate_balances("program:...", pit=T + days(14)))

    run.check("volumes, all", lambda: ledger.volumes())
    run.check("volumes [T, T+14d], both ends on postings", lambda: ledger.volumes(start=T, end=T + days(14)))
    run.check("volumes from just after T", lambda: ledger.volumes(start=T + timedelta(microseconds=1), end=T + days(14)))
    run.check("volumes up to T+20d", lambda: ledger.volumes(end=T + days(20)))
    run.check("volumes from T+20d", lambda: ledger.volumes(start=T + days(20)))
    run.check("volumes customers::points: grouped by 2", lambda: ledger.volumes("customers::points:", group_by=2))
    run.check("volumes program:... grouped by 3 over [T-10d, T+14d]",
              lambda: ledger.volumes("program:...", start=T - days(10), end=T + days(14), group_by=3))
    run.check("volumes inserted between the first and second marks",
              lambda: ledger.volumes(start=first, end=second, insertion_date=True))
    run.check("volumes inserted after the second mark", lambda: ledger.volumes(start=second, insertion_date=True))
    run.check("volumes inserted by the first mark", lambda: ledger.volumes(end=first, insertion_date=True))
    run.check("volumes inserted in 2025 (none)", lambda: ledger.volumes(start=T, end=T + days(41), insertion_date=True))

    run.check("transactions of c1", lambda: ledger.transactions(account="customers:c1:..."))
    run.check("transactions of c2's buckets", lambda: ledger.transactions(account="customers:c2:points:"))
    run.check("release transactions", lambda: ledger.transactions(metadata={"operation": "release"}))
    run.check("transactions [T, T+20d)", lambda: ledger.transactions(start=T, end=T + days(20)))
    run.check("earns dated by T+5d", lambda: ledger.transactions(metadata={"operation": "earn"}, pit=T + days(5)))
    run.check("find earn:o1", lambda: ledger.find_by_reference("earn:o1"))
    run.check("find an unknown reference", lambda: ledger.find_by_reference("earn:nope"))
    run.check("transaction 1", lambda: ledger.get_transaction(1))
    run.check("transaction 999", lambda: ledger.get_transaction(999))
    run.check("tier of c1 at T+30d", lambda: p.tier("c1", T + days(30)))
    run.check("explain o1", lambda: p.explain("o1"))
    run.check("history of c1", lambda: p.history("c1"))

    reports = FinanceReports(ledger, p.chart, clock=lambda: T + days(60))
    run.check("liability at T+5d", lambda: reports.liability(T + days(5)))
    run.check("liability at T+41d", lambda: reports.liability(T + days(41)))
    run.check("activity [T, T+41d]", lambda: reports.activity(T, T + days(41)))
    run.check("statement c1", lambda: reports.statement("c1", T - days(30), T + days(41)))

    run.check("the log", lambda: log_outline(run.ledger))

def hold_capture_void(run: Run) -> None:
    """Holds captured, voided (a revert the ledger dates itself) and lapsed; reverting twice."""

    p = run.program(pending_days=0, expiry_days=365, hold_ttl_minutes=30)
    ledger = run.ledger
    run.check("earn o1", lambda: p.earn(earn("c1", "o1", "30", T)))
    run.check("earn o2", lambda: p.earn(earn("c1", "o2", "30", T + days(1))))
    run.check("hold h1", lambda: p.hold(HoldCommand(customer="c1", hold_id="h1", points=50, at=T + days(2))))
    run.check("capture 35 of h1", lambda: p.capture(CaptureCommand(customer="c1", hold_id="h1", points=35, at=T + days(2) + timedelta(minutes=5))))
    run.check("capture h1 again", lambda: p.capture(CaptureCommand(customer="c1", hold_id="h1", points=35, at=T + days(2) + timedelta(minutes=5))))
    run.check("hold h2", lambda: p.hold(HoldCommand(customer="c1", hold_id="h2", points=20, at=T + days(3))))
    run.check("hold beyond the balance", lambda: p.hold(HoldCommand(customer="c1", hold_id="h9", points=6, at=T + days(3))))
    run.check("void h2", lambda: p.void("c1", "h2"))
    run.check("void h2 again", lambda: p.void("c1", "h2"))
    run.check("capture the voided h2", lambda: p.capture(CaptureCommand(customer="c1", hold_id="h2", points=5, at=T + days(3))))
    run.check("void the captured h1", lambda: p.void("c1", "h1"))
    run.check("void an unknown hold", lambda: p.void("c1", "nope"))
    run.check("hold h3", lambda: p.hold(HoldCommand(customer="c1", hold_id="h3", points=10, at=T + days(4))))
    run.check("void lapsed as of T+4d+20m", lambda: p.void_lapsed(T + days(4) + timedelta(minutes=20)))
    run.check("void lapsed as of T+4d+31m", lambda: p.void_lapsed(T + days(4) + timedelta(minutes=31)))
    h2 = ledger.find_by_reference("hold:h2")
    run.check("revert h2's hold a second time",
              lambda: ledger.revert(h2.id if h2 else 0, schema_version=p.schema_version))
    run.check("revert transaction 999", lambda: ledger.revert(999, schema_version=p.schema_version))
    run.check("balance c1", lambda: p.balance("c1"))
    run.check("balance c1 at T+3d", lambda: p.balance("c1", pit=T + days(3)))
    run.check("holds accounts", lambda: ledger.accounts("customers:c1:holds:"))
    run.check("holds accounts at T+3d", lambda: ledger.accounts("customers:c1:holds:", pit=T + days(3)))
    run.check("transactions", lambda: ledger.transactions())
    run.check("transactions at T+3d (nothing reverted yet)", lambda: ledger.transactions(pit=T + days(3)))
    run.check("holds", lambda: ledger.transactions(metadata={"operation": "hold"}))
    run.check("volumes", lambda: ledger.volumes())
    run.check("trial balance", lambda: ledger.aggregate_balances(""))
    reports = FinanceReports(ledger, p.chart, clock=lambda: T + days(5))
    run.check("liability at T+3d", lambda: reports.liability(T + days(3)))
    run.check("statement c1 to T+5d", lambda: reports.statement("c1", T - days(1), T + days(5)))

    run.check("the log", lambda: log_outline(run.ledger))

def transfer_exchange_convert_adjust_engage(run: Run) -> None:
    """Transfers keep expiry, both partner directions, conversion to credit, adjustments, an engagement award."""

    p = run.program(pending_days=0, expiry_days=365)
    ledger = run.ledger
    run.check("earn a o1", lambda: p.earn(earn("a", "o1", "1000", T)))
    run.check("earn a o2", lambda: p.earn(earn("a", "o2", "50", T + days(5))))
    run.check("transfer a→b", lambda: p.transfer(TransferCommand(customer="a", to_customer="b", transfer_id="t1", points=1015, at=T + days(6))))
    run.check("transfer more than a has", lambda: p.transfer(TransferCommand(customer="a", to_customer="b", transfer_id="t2", points=36, at=T + days(6))))
    run.check("transfer t1 again", lambda: p.transfer(TransferCommand(customer="a", to_customer="b", transfer_id="t1", points=1015, at=T + days(6))))
    run.check("transfer t1 changed", lambda: p.transfer(TransferCommand(customer="a", to_customer="b", transfer_id="t1", points=5, at=T + days(6))))
    run.check("exchange out", lambda: p.exchange_out(ExchangeOutCommand(customer="b", exchange_id="x1", partner="skyway", partner_points=100, at=T + days(7))))
    run.check("exchange in", lambda: p.exchange_in(ExchangeInCommand(customer="b", exchange_id="x2", partner="skyway", partner_points=50, at=T + days(8))))
    run.check("convert", lambda: p.convert(ConvertCommand(customer="b", conversion_id="v1", points=300, at=T + days(9))))
    run.check("convert part of a unit", lambda: p.convert(ConvertCommand(customer="b", conversion_id="v2", points=150, at=T + days(9))))
    run.check("adjust credit", lambda: p.adjust(AdjustCommand(customer="b", adjustment_id="j1", direction="credit", points=5, reason="goodwill", at=T + days(10))))
    run.check("adjust debit", lambda: p.adjust(AdjustCommand(customer="b", adjustment_id="j2", direction="debit", points=12, reason="fraud-review", at=T + days(10))))
    run.check("adjust debit beyond the balance", lambda: p.adjust(AdjustCommand(customer="a", adjustment_id="j3", direction="debit", points=999, reason="fraud-review", at=T + days(10))))
    run.check("engage sign_up", lambda: p.engage("b", "sign_up", "k1", T + days(11)))
    run.check("engage sign_up again, same key", lambda: p.engage("b", "sign_up", "k1", T + days(11)))
    run.check("engage sign_up, another key", lambda: p.engage("b", "sign_up", "k2", T + days(12)))
    run.check("redeem everything b has", lambda: p.redeem(RedeemCommand(customer="b", redemption_id="r1", points=p.balance("b").spendable, at=T + days(13))))
    run.check("redeem one more", lambda: p.redeem(RedeemCommand(customer="b", redemption_id="r2", points=1, at=T + days(13))))
    for who in ("a", "b"):
        run.check(f"balance {who}", lambda: p.balance(who))
        run.check(f"balance {who} at T+7d", lambda: p.balance(who, pit=T + days(7)))
    run.check("programme accounts", lambda: p.programme_accounts())
    run.check("partner accounts at T+7d", lambda: ledger.accounts("partners:...", pit=T + days(7)))
    run.check("volumes grouped by 1", lambda: ledger.volumes(group_by=1))
    run.check("volumes [T+6d, T+9d] grouped by 2", lambda: ledger.volumes(start=T + days(6), end=T + days(9), group_by=2))
    run.check("trial balance", lambda: ledger.aggregate_balances(""))
    run.check("trial balance at T+8d", lambda: ledger.aggregate_balances("", pit=T + days(8)))
    run.check("transactions of b", lambda: ledger.transactions(account="customers:b:..."))
    reports = FinanceReports(ledger, p.chart, clock=lambda: T + days(20))
    run.check("liability at T+9d", lambda: reports.liability(T + days(9)))
    run.check("activity [T, T+20d]", lambda: reports.activity(T, T + days(20)))

    run.check("the log", lambda: log_outline(run.ledger))

def refund_clawback_expire(run: Run) -> None:
    """Refunds after spending (debt clawed back from the next earn), refunds too small for a point
    (recorded on the earn as metadata), expiry runs; metadata read as of a past instant."""

    p = run.program(pending_days=0, expiry_days=30, refund_shortfall="claw_back")
    ledger = run.ledger
    run.check("earn o1", lambda: p.earn(earn("c1", "o1", "100", T)))
    run.check("redeem r1", lambda: p.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=90, at=T + days(1))))
    run.check("refund f1", lambda: p.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("50"), at=T + days(2))))
    run.check("balance after f1", lambda: p.balance("c1"))
    run.check("earn o2 repays the debt", lambda: p.earn(earn("c1", "o2", "60", T + days(3))))
    run.check("refund f2", lambda: p.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f2", amount=usd("50"), at=T + days(4))))
    run.check("refund f3 beyond the order", lambda: p.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f3", amount=usd("1"), at=T + days(4))))
    run.check("refund of an unknown order", lambda: p.refund(RefundCommand(customer="c1", order_id="nope", refund_id="f9", amount=usd("1"), at=T + days(4))))
    run.check("earn o3", lambda: p.earn(earn("c1", "o3", "100", T + days(5))))
    run.check("small refund f4", lambda: p.refund(RefundCommand(customer="c1", order_id="o3", refund_id="f4", amount=usd("0.50"), at=T + days(6))))
    run.check("small refund f4 again", lambda: p.refund(RefundCommand(customer="c1", order_id="o3", refund_id="f4", amount=usd("0.50"), at=T + days(6))))
    run.check("small refund f4 changed", lambda: p.refund(RefundCommand(customer="c1", order_id="o3", refund_id="f4", amount=usd("0.60"), at=T + days(6))))
    run.check("refund f5 completes a point", lambda: p.refund(RefundCommand(customer="c1", order_id="o3", refund_id="f5", amount=usd("0.50"), at=T + days(7))))
    run.check("earn o3 now", lambda: ledger.find_by_reference("earn:o3"))
    run.check("earns as of T+10d (the small refund is recorded later)",
              lambda: ledger.transactions(metadata={"operation": "earn"}, pit=T + days(10)))
    run.check("earns now", lambda: ledger.transactions(metadata={"operation": "earn"}))
    run.check("expire as of T+29d", lambda: p.expire(T + days(29)))
    run.check("expire as of T+30d", lambda: p.expire(T + days(30)))
    run.check("expire as of T+30d again", lambda: p.expire(T + days(30)))
    run.check("expire as of T+40d", lambda: p.expire(T + days(40)))
    run.check("balance c1", lambda: p.balance("c1"))
    for label, pit in [("T+2d", T + days(2)), ("T+6d", T + days(6)), ("T+35d", T + days(35))]:
        run.check(f"balance c1 at {label}", lambda: p.balance("c1", pit=pit))
        run.check(f"clawback account at {label}", lambda: ledger.account("customers:c1:clawback", pit=pit))
    run.check("clawback account at T+1d (not used yet)", lambda: ledger.account("customers:c1:clawback", pit=T + days(1)))
    run.check("qualifying volumes", lambda: ledger.volumes("customers:c1:qualifying:"))
    run.check("trial balance", lambda: ledger.aggregate_balances(""))
    reports = FinanceReports(ledger, p.chart, clock=lambda: T + days(45))
    run.check("liability at T+10d", lambda: reports.liability(T + days(10)))
    run.check("activity [T, T+45d]", lambda: reports.activity(T, T + days(45)))
    run.check("breakage [T, T+45d]", lambda: reports.breakage(T, T + days(45)))
    run.check("statement c1", lambda: reports.statement("c1", T - days(1), T + days(45)))
    run.check("reconcile at T+45d (log chain aside)", lambda: [
        c for c in reports.reconcile(T + days(45)).checks if c.name != "log_chain"
    ])

    run.check("the log", lambda: log_outline(run.ledger))

def port_refusals_and_replays(run: Run) -> None:
    """The port itself: replays, a reused reference, overspending, the chart, schema versions,
    metadata, reverts (refused, forced, twice) and reads of what was reverted as of before."""

    p = run.program(pending_days=0)
    ledger, sv = run.ledger, p.schema_version
    run.check("init again", lambda: p.init())
    run.check("schema versions", lambda: ledger.list_schema_versions())
    run.check("mint 100 to c1", lambda: ledger.post(plan(MINT, "x:1", amount="PTS 100", to=C1), schema_version=sv))
    run.check("mint again", lambda: ledger.post(plan(MINT, "x:1", amount="PTS 100", to=C1), schema_version=sv))
    run.check("x:1 for another command", lambda: ledger.post(plan(MINT, "x:1", "h2", amount="PTS 5", to=C1), schema_version=sv))
    run.check("spend 101", lambda: ledger.post(plan(SPEND, "x:2", amount="PTS 101", **{"from": C1}), schema_version=sv))
    run.check("mint outside the chart", lambda: ledger.post(plan(MINT, "x:3", amount="PTS 1", to="nowhere:special"), schema_version=sv))
    run.check("mint to a bucket the pattern refuses", lambda: ledger.post(plan(MINT, "x:3b", amount="PTS 1", to="customers:c1:points:2025"), schema_version=sv))
    run.check("mint without a schema version", lambda: ledger.post(plan(MINT, "x:4", amount="PTS 1", to=C1)))
    run.check("mint under an unknown schema version", lambda: ledger.post(plan(MINT, "x:5", amount="PTS 1", to=C1), schema_version="v999"))
    run.check("a script that does not parse", lambda: ledger.post(plan("send [PTS 1] (\n", "x:6"), schema_version=sv))
    run.check("spend 30, undated", lambda: ledger.post(plan(SPEND, "x:7", at=None, amount="PTS 30", **{"from": C1}), schema_version=sv))
    run.check("metadata on x:1", lambda: ledger.add_transaction_metadata(1, {"note": "a"}, schema_version=sv))
    run.check("the same metadata again", lambda: ledger.add_transaction_metadata(1, {"note": "a"}, schema_version=sv))
    run.check("metadata on transaction 999", lambda: ledger.add_transaction_metadata(999, {"note": "a"}, schema_version=sv))
    run.check("metadata without a schema version", lambda: ledger.add_transaction_metadata(1, {"note": "b"}))
    run.check("x:1 after the metadata", lambda: ledger.get_transaction(1))
    run.check("mint replayed after the metadata", lambda: ledger.post(plan(MINT, "x:1", amount="PTS 100", to=C1), schema_version=sv))
    run.check("revert x:1 (c1 spent 30 of it)", lambda: ledger.revert(1, schema_version=sv))
    run.check("revert without a schema version", lambda: ledger.revert(1))
    run.check("revert x:1 forced", lambda: ledger.revert(1, force=True, metadata={"why": "test"}, schema_version=sv))
    run.check("revert x:1 again", lambda: ledger.revert(1, force=True, schema_version=sv))
    run.check("revert transaction 999", lambda: ledger.revert(999, schema_version=sv))
    run.check("mint replayed after the revert", lambda: ledger.post(plan(MINT, "x:1", amount="PTS 100", to=C1), schema_version=sv))
    run.check("find x:1", lambda: ledger.find_by_reference("x:1"))
    run.check("c1 after the forced revert", lambda: ledger.account(C1))
    run.check("c1 at T", lambda: ledger.account(C1, pit=T))
    run.check("transactions", lambda: ledger.transactions())
    run.check("transactions as of T", lambda: ledger.transactions(pit=T))
    run.check("transactions of c1 with note a", lambda: ledger.transactions(account=C1, metadata={"note": "a"}))
    run.check("transactions of c1 with note a as of T", lambda: ledger.transactions(account=C1, metadata={"note": "a"}, pit=T))
    run.check("mint after the refusals", lambda: ledger.post(plan(MINT, "x:8", amount="PTS 1", to=C1), schema_version=sv))
    run.check("volumes", lambda: ledger.volumes())
    run.check("trial balance", lambda: ledger.aggregate_balances(""))

    run.check("the log", lambda: log_outline(run.ledger))

def bulk_posting(run: Run) -> None:
    """post_many: replays, a refused element with and without ``atomic``, and what each left posted."""

    p = run.program(pending_days=0)
    ledger, sv = run.ledger, p.schema_version
    mint = lambda ref, n, to=C1, at=T: plan(MINT, ref, at=at, amount=f"PTS {n}", to=to)  # noqa: E731
    spend = lambda ref, n, at=T + days(1): plan(SPEND, ref, at=at, amount=f"PTS {n}", **{"from": C1})  # noqa: E731
    run.check("bulk of three", lambda: ledger.post_many([mint("b:1", 10), mint("b:2", 20, at=T - days(1)), spend("b:3", 25)], schema_version=sv))
    run.check("bulk with a replay and a repeat", lambda: ledger.post_many([mint("b:1", 10), mint("b:4", 1), mint("b:4", 1)], schema_version=sv))
    run.check("bulk reusing b:2 for another command", lambda: ledger.post_many([mint("b:5", 1), plan(MINT, "b:2", "h2", amount="PTS 2", to=C1)], schema_version=sv))
    run.check("bulk naming one reference twice differently", lambda: ledger.post_many([mint("b:6", 1), plan(MINT, "b:6", "h2", amount="PTS 2", to=C1)], schema_version=sv))
    run.check("bulk with an overspend in the middle", lambda: ledger.post_many([mint("b:7", 1), spend("b:8", 500), mint("b:9", 2)], schema_version=sv))
    run.check("atomic bulk with an overspend", lambda: ledger.post_many([mint("b:10", 3), spend("b:11", 500), mint("b:12", 4)], schema_version=sv, atomic=True))
    run.check("atomic bulk", lambda: ledger.post_many([mint("b:13", 5), spend("b:14", 5)], schema_version=sv, atomic=True))
    run.check("bulk with an account outside the chart", lambda: ledger.post_many([mint("b:15", 1, to="nowhere"), mint("b:16", 1)], schema_version=sv))
    run.check("single post after the bulks", lambda: ledger.post(mint("b:17", 1), schema_version=sv))
    run.check("transactions", lambda: ledger.transactions())
    run.check("c1", lambda: ledger.account(C1))
    run.check("c1 at T", lambda: ledger.account(C1, pit=T))
    run.check("trial balance", lambda: ledger.aggregate_balances(""))

    run.check("the log", lambda: log_outline(run.ledger))

SCENARIOS: dict[str, Callable[[Run], None]] = {
    fn.__name__: fn
    for fn in (
        earn_release_redeem_as_of,
        hold_capture_void,
        transfer_exchange_convert_adjust_engage,
        refund_clawback_expire,
        port_refusals_and_replays,
        bulk_posting,
    )
}
"""Every scenario the differential test compares, by name."""
