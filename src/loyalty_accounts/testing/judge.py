"""Judging a soak run: the ledger's history replayed through the model, each answer checked, invariants checked.

Linearisation: per customer, operations are serialised on the ledger, and
ledger transaction ids follow commit order for transactions touching a
common account; so the posted transactions replayed in id order are a
sequential history the model can follow. Each posted transaction must be one
the model allows at that point. Each answer that is not a post (a refusal,
"nothing to post", a replay) must be one the model gives at SOME point of the
operation's wall-clock window: the states after the transactions the server
inserted (``insertedAt``) between the call's start and end, widened by
:data:`TOLERANCE` for the two clocks. An unknown answer (OutcomeUnknown,
LedgerUnavailable) is resolved by looking the reference up in the final
history, and is never a violation by itself.

The invariants are checked on the final history itself, independently of
the model: no reference twice, no account the chart forbids to go negative
negative at any instant, no clawback account positive at any instant,
engagement counts, campaign caps and refunds per order within their limits,
every asset summing to zero, and the ledger's balances equal to the model's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from ..chart import Chart
from ..errors import (
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    LedgerUnavailable,
    LoyaltyError,
    OperationRefused,
    OutcomeUnknown,
    UnknownEntity,
)
from ..operations import Command, VoidCommand
from ..rules import EarnBreakdown, EngagementLimitReached, Rules
from .book import Entry, lowest_after, net_of
from .model import Decision, Nothing, Post, Programme, Refuse
from .workload import Op

__all__ = ["Outcome", "Posted", "Verdict", "judge", "VIOLATIONS", "TOLERANCE"]

TOLERANCE = timedelta(milliseconds=50)
VIOLATIONS = (
    "wrong_posting", "posted_refused", "bad_answer", "unexpected_error", "reference_twice",
    "negative", "clawback_positive", "limit_exceeded", "trial_balance", "balance_mismatch",
)
"""The violation kinds, one column each in the soak table; every one is expected to be 0."""


@dataclass(frozen=True)
class Outcome:
    """How one call ended: ``kind`` is posted, replayed, nothing, refused, unknown or error."""

    kind: str
    start: datetime
    end: datetime
    error: str | None = None
    """For refused: the error kind (funds, limit, unknown, refused, invalid, duplicate); for error: the class."""
    tx_ids: tuple[int, ...] = ()
    message: str = ""
    op: Op | None = None
    """The op as it was called (a live op dated then), when it differs from the generated one."""


@dataclass(frozen=True)
class Posted:
    """A transaction of the final history, with when the server inserted it."""

    entry: Entry
    inserted_at: datetime
    reverted: bool = False


@dataclass
class Verdict:
    """What judging found: counts of answers by kind, and every violation (kind, op index or None, text)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    violations: list[tuple[str, int | None, str]] = field(default_factory=list)

    def add(self, kind: str, index: int | None, text: str) -> None:
        self.violations.append((kind, index, text))

    def counts(self) -> dict[str, int]:
        c = Counter(kind for kind, _, _ in self.violations)
        return {kind: c.get(kind, 0) for kind in VIOLATIONS}

    @property
    def first_failing_op(self) -> int | None:
        indexes = [i for _, i, _ in self.violations if i is not None]
        return min(indexes) if indexes else None


def _allows(decision: Decision, outcome: Outcome) -> bool:
    if outcome.kind == "refused":
        return isinstance(decision, Refuse) and outcome.error in decision.kinds
    if outcome.kind == "nothing":
        return isinstance(decision, Nothing) or (isinstance(decision, Post) and decision.may_be_nothing)
    return False


class _Windows:
    """Answers still to be matched, each against the model states inside its window."""

    def __init__(self, ops: Sequence[Op], outcomes: Mapping[int, Outcome], inserted: Sequence[datetime]) -> None:
        self.open: dict[int, tuple[int, int]] = {}
        for index, outcome in outcomes.items():
            if outcome.kind in ("refused", "nothing", "replayed") and ops[index].command is not None:
                first = sum(1 for t in inserted if t < outcome.start - TOLERANCE)
                last = sum(1 for t in inserted if t <= outcome.end + TOLERANCE)
                self.open[index] = (first, last)
        self.matched: set[int] = set()

    def visit(self, state: int, model: Programme, ops: Sequence[Op], outcomes: Mapping[int, Outcome]) -> None:
        for index, (first, last) in self.open.items():
            if index in self.matched or not first <= state <= last:
                continue
            op, outcome = ops[index], outcomes[index]
            assert op.command is not None
            if _matches(model, op, outcome):
                self.matched.add(index)


def _matches(model: Programme, op: Op, outcome: Outcome) -> bool:
    command = op.command
    assert command is not None
    taken = model.references.get(op.reference) if op.reference else None
    if isinstance(command, VoidCommand):
        hold = model.holds.get(command.hold_id)
        if outcome.kind == "replayed":
            return hold is not None and hold.voided
        return _allows(model.decide(command, outcome.end), outcome)
    if outcome.kind == "replayed":
        return taken == op.fingerprint
    if taken is not None:
        return outcome.kind == "refused" and outcome.error == "duplicate" and taken != op.fingerprint
    return _allows(model.decide(command, outcome.end), outcome)


def _entry_command(entry: Entry, by_reference: Mapping[str, list[Op]], model: Programme) -> tuple[Command | None, int | None, str | None]:
    """The command a posted entry was made for, the op index, or why none is known."""

    meta = entry.metadata
    if meta.get("operation") == "void":
        hold = model.holds.get(meta.get("hold_id", ""))
        customer = hold.customer if hold is not None else meta.get("customer", "")
        return VoidCommand(customer=customer, hold_id=meta.get("hold_id", "")), None, None
    candidates = [op for op in by_reference.get(entry.reference or "", []) if op.fingerprint == meta.get("command_hash")]
    # Repeats share the fingerprint; the one dated as the entry is is the one posted.
    candidates.sort(key=lambda op: _dated(op) != entry.timestamp)
    for op in candidates:
        return op.command, op.index, None
    return None, None, f"{entry.reference}: no command sent has this reference and body"


def _dated(op: Op) -> datetime | None:
    return getattr(op.command, "ordered_at", None) or getattr(op.command, "at", None)


def judge(
    ops: Sequence[Op],
    outcomes: Mapping[int, Outcome],
    history: Sequence[Posted],
    *,
    chart: Chart,
    rules: Rules,
    ledger_balances: Mapping[tuple[str, str], int],
    small_refunds: Mapping[str, Decimal] = {},
) -> Verdict:
    """Replay ``history`` through a fresh model, check every answer in ``outcomes`` and the invariants."""

    verdict = Verdict()
    ops = [outcomes[i].op or op if i in outcomes else op for i, op in enumerate(ops)]  # type: ignore[union-attr]
    model = Programme(chart, rules, small=dict(small_refunds))
    history = sorted(history, key=lambda p: p.entry.id)
    by_reference: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        if op.reference:
            by_reference[op.reference].append(op)
    windows = _Windows(ops, outcomes, [p.inserted_at for p in history])
    for state, posted in enumerate(history):
        windows.visit(state, model, ops, outcomes)
        _replay_one(model, posted, by_reference, verdict)
    windows.visit(len(history), model, ops, outcomes)
    _check_answers(ops, outcomes, history, windows, verdict)
    _check_invariants(history, chart, rules, verdict)
    _check_balances(model, ledger_balances, verdict)
    return verdict


def _replay_one(model: Programme, posted: Posted, by_reference: Mapping[str, list[Op]], verdict: Verdict) -> None:
    entry = posted.entry
    operation = entry.metadata.get("operation", "")
    if operation in ("release", "expire"):
        for problem in model.check_sweep(entry, operation):
            verdict.add("wrong_posting", None, f"tx {entry.id}: {problem}")
        model.apply(entry, None)
        return
    if operation in ("open_counter", "open_control") or not entry.legs:
        # openings give an account its balance row: one unit there and back, nothing else
        if model.net(entry):
            verdict.add("wrong_posting", None, f"tx {entry.id}: {operation} is not net zero")
        model.apply(entry, None)
        return
    if entry.reference and entry.reference in model.references:
        verdict.add("reference_twice", None, f"tx {entry.id}: reference {entry.reference} posted again")
    command, index, unknown = _entry_command(entry, by_reference, model)
    if command is None:
        verdict.add("wrong_posting", None, f"tx {entry.id}: {unknown}")
        model.apply(entry, None)
        return
    decision = model.decide(command, posted.inserted_at)
    if isinstance(decision, Post):
        for problem in decision.check(entry):
            verdict.add("wrong_posting", index, f"tx {entry.id} ({entry.reference or operation}): {problem}")
    else:
        verdict.add("posted_refused", index, f"tx {entry.id} ({entry.reference or operation}): the model says {decision.why}")
    model.apply(entry, command)


def _check_answers(ops: Sequence[Op], outcomes: Mapping[int, Outcome], history: Sequence[Posted], windows: _Windows, verdict: Verdict) -> None:
    by_id = {p.entry.id: p.entry for p in history}
    references = {p.entry.reference for p in history if p.entry.reference}
    for index, outcome in sorted(outcomes.items()):
        op = ops[index]
        label = outcome.kind if outcome.kind != "refused" else f"refused:{outcome.error}"
        if outcome.kind == "unknown":
            label = "unknown→posted" if op.reference in references else "unknown→absent"
        verdict.outcomes[label] += 1
        if outcome.kind == "error":
            verdict.add("unexpected_error", index, f"{op.describe()}: {outcome.error}: {outcome.message}")
        elif outcome.kind == "posted" and op.command is not None:
            for tx_id in outcome.tx_ids:
                entry = by_id.get(tx_id)
                void = isinstance(op.command, VoidCommand)
                ok = entry is not None and (
                    entry.metadata.get("hold_id") == op.command.hold_id if void  # type: ignore[attr-defined]
                    else entry.reference == op.reference and entry.metadata.get("command_hash") == op.fingerprint
                )
                if not ok:
                    verdict.add("bad_answer", index, f"{op.describe()}: answered with tx {tx_id}, which is not its transaction")
        elif index in windows.open and index not in windows.matched:
            verdict.add("bad_answer", index, f"{op.describe()}: answered {label} ({outcome.message}), "
                                             "which the model never gives during the call")


def _moves(history: Iterable[Posted]) -> dict[tuple[str, str], list[tuple[datetime, int]]]:
    moves: dict[tuple[str, str], list[tuple[datetime, int]]] = defaultdict(list)
    for posted in history:
        for key, amount in net_of(posted.entry.legs).items():
            moves[key].append((posted.entry.timestamp, amount))
    return moves


def _check_invariants(history: Sequence[Posted], chart: Chart, rules: Rules, verdict: Verdict) -> None:
    seen: set[str] = set()
    for posted in history:
        reference = posted.entry.reference
        if reference and reference in seen:
            verdict.add("reference_twice", None, f"reference {reference} is on two transactions")
        seen.add(reference or "")
    totals: Counter[str] = Counter()
    for (account, asset), moves in _moves(history).items():
        totals[asset] += sum(a for _, a in moves)
        parsed = chart.parse(account)
        if parsed is None:
            continue  # an account of a chart this model does not know (a control account)
        if parsed.kind == "customer_clawback" and asset == chart.points_asset:
            highest = -lowest_after((w, -a) for w, a in moves)
            if highest > 0:
                verdict.add("clawback_positive", None, f"{account} reaches +{highest}")
        elif not chart.kind_of(account).may_go_negative:
            lowest = lowest_after(moves)
            if lowest < 0:
                verdict.add("negative", None, f"{account} {asset} reaches {lowest} at some instant")
    for asset, total in totals.items():
        if total:
            verdict.add("trial_balance", None, f"{asset} sums to {total}")
    _check_limits([p.entry for p in history], chart, rules, verdict)


def _check_limits(entries: Sequence[Entry], chart: Chart, rules: Rules, verdict: Verdict) -> None:
    awards: Counter[tuple[str, ...]] = Counter()
    campaign: Counter[tuple[str, str]] = Counter()
    credited: Counter[tuple[str, str]] = Counter()
    orders: dict[str, tuple[Decimal, int]] = {}
    refunded: dict[str, tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
    for entry in entries:
        meta, op = entry.metadata, entry.metadata.get("operation")
        for (account, asset), amount in net_of(entry.legs).items():
            parsed = chart.parse(account) if asset == chart.campaign_asset else None
            if parsed is not None and parsed.kind == "customer_campaign":
                credited[(parsed.values["customer"], parsed.values["campaign"])] += amount
        if op == "engage":
            awards[(meta["customer"], meta["event"])] += 1
            awards[(meta["customer"], meta["event"], meta.get("awarded_on", ""))] += 1
        elif op == "earn":
            orders[meta["order_id"]] = (Decimal(meta["amount"]), int(meta["points"]))
            if "r_ver" in meta:
                breakdown = EarnBreakdown.from_metadata(meta)
                for c in breakdown.campaigns:
                    cap = next((k.cap_per_order for k in rules.campaigns if k.id == c.campaign), None)
                    if cap is not None and c.charged > cap:
                        verdict.add("limit_exceeded", None, f"order {meta['order_id']}: {c.campaign} gave {c.charged} > {cap}")
                for name, charged in breakdown.campaign_charges().items():
                    campaign[(meta["customer"], name)] += charged
        elif op == "refund":
            total, points = refunded[meta["order_id"]]
            refunded[meta["order_id"]] = (max(total, Decimal(meta["refunded_total"])), points + int(meta["points"]))
    for key, count in awards.items():
        rule = rules.engagement[key[1]]
        limit = rule.per_customer if len(key) == 2 else rule.per_day
        if limit is not None and count > limit:
            verdict.add("limit_exceeded", None, f"{key[1]} awarded {count} times to {key[0]}{' on ' + key[2] if len(key) == 3 else ''} (limit {limit})")
    caps = {k.id: k.cap_per_customer for k in rules.campaigns}
    for (customer, name), used in campaign.items():
        if caps.get(name) is not None and used > caps[name]:  # type: ignore[operator]
            verdict.add("limit_exceeded", None, f"campaign {name} gave {customer} {used} > cap {caps[name]}")
    # The usage accounts the earns read their caps from hold exactly what the breakdowns charged.
    for key in sorted(set(credited) | {k for k in campaign if caps.get(k[1]) is not None}):
        if credited[key] != campaign[key]:
            verdict.add("balance_mismatch", None, f"campaign {key[1]} usage of {key[0]}: {credited[key]} credited, {campaign[key]} charged")
    for order_id, (total, points) in refunded.items():
        amount, earned = orders.get(order_id, (Decimal(0), 0))
        if total > amount or points > earned:
            verdict.add("limit_exceeded", None, f"order {order_id}: refunded {total} of {amount}, {points} of {earned} points")


def _check_balances(model: Programme, ledger: Mapping[tuple[str, str], int], verdict: Verdict) -> None:
    ours = {k: v for k, v in model.book.balances().items() if k[1] in model.assets}
    theirs = {k: v for k, v in ledger.items() if k[1] in model.assets and v}
    for key in sorted(set(ours) | set(theirs)):
        if ours.get(key, 0) != theirs.get(key, 0):
            verdict.add("balance_mismatch", None, f"{key[0]} {key[1]}: ledger {theirs.get(key, 0)}, model {ours.get(key, 0)}")


def error_kind(exc: BaseException) -> tuple[str, str | None]:
    """(outcome kind, error kind) of an exception a call raised."""

    if isinstance(exc, (OutcomeUnknown, LedgerUnavailable)):
        return "unknown", None
    for cls, kind in ((InsufficientPoints, "funds"), (EngagementLimitReached, "limit"), (UnknownEntity, "unknown"),
                      (DuplicateOperation, "duplicate"), (OperationRefused, "refused"), (InvalidCommand, "invalid")):
        if isinstance(exc, cls):
            return "refused", kind
    return "error", type(exc).__name__ if isinstance(exc, LoyaltyError) else f"crash:{type(exc).__name__}"
