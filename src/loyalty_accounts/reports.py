"""Finance reports read from the ledger: liability, roll-forward, breakage, reconciliation, statements.

Every figure here comes from the ledger's own aggregation (aggregate balances
and volumes, at a point in time or over a window); nothing is replayed in
Python. The module has two layers:

- pure functions (``liability_statement``, ``roll_forward``,
  ``breakage_report``, the ``check_*`` functions, ``customer_statement``)
  that turn fetched numbers into frozen report values with
  ``int`` points and exact ``Decimal`` money;
- :class:`FinanceReports`, which does the reads through a
  :class:`~loyalty_accounts.ports.LedgerPort` and calls them.

Instants and windows
    An *as-of* instant ``T`` means "every transaction whose effective date
    (its timestamp) is at or before ``T``", whenever it was posted: balances
    and account positions are read with ``pit=T``, which the port answers
    effective at ``T`` (a back-dated earn posted later is in a report as of
    a day after its date).
    A window ``(T1, T2]`` holds the transactions after ``T1`` up to and
    including ``T2``; volumes are read with ``startTime = T1 + 1µs`` and
    ``endTime = T2``, which the v2.4.12 server applies inclusively at both
    ends, at the database's microsecond precision. Opening (pit ``T1``),
    flows (the window) and closing (pit ``T2``) therefore partition the
    history exactly. Reports without an as-of use the current instant, so
    all the reads of one report see the same cut.

Roll-forward, worked example
    Every asset sums to zero over all accounts, so whatever the customers'
    points gained in a window, the non-customer accounts lost, and the other
    way round: Δ(customer liability) = Σ over non-customer PTS accounts of
    (output − input). Each line of the roll-forward is one group of those
    accounts. Window (2026-01-01, 2026-05-01], opening liability 120::

        opening (customers:..., pit 2026-01-01)                     120
        + issued     program:points:issued:*    output              350
        − reversed   program:points:issued:*    input               −70
        − redeemed   program:points:redeemed    input − output      −30
        − expired    program:points:expired     input − output     −120
        − converted  program:points:converted                         0
        ± adjusted   program:points:adjustments output − input        0
        ± exchanged  partners:*:exchanged       output − input        0
        ± written_off program:points:written_off output − input       0
        = expected closing                                          250
        closing (customers:..., pit 2026-05-01)                     260
        difference                                                   10
          world      (unexplained)              output − input       10

    Movements against ``world`` or any account outside the groups above are
    listed as unexplained lines and are *not* part of the expected closing:
    a manual posting therefore makes the roll-forward not tie, by exactly
    its amount, and names the accounts it touched. ``residual`` is the part
    of the difference the unexplained lines do not account for; it is zero
    unless the reads were inconsistent (for instance a write landing between
    them). Earn, engagement awards and exchange-in all issue points from the
    issuance shards, so they show in ``issued``; ``exchanged`` is the points
    customers gave up to partners. Only the points asset is rolled forward:
    memo assets (qualifying points, award counters) and money are not
    liability points.

Breakage method
    Realised breakage over a window is the net input of
    ``program:points:expired``. The estimate for outstanding points uses earn
    cohorts (the programme-calendar month of the earn). A bucket's cohort is
    its expiry date minus ``policies.expiry_days`` (so it follows points
    through transfers, holds and captures, which keep expiry dates). For the
    most recent ``rate_cohorts`` cohorts whose buckets have all passed their
    expiry date: issued = points out of the issuance shards and the
    adjustments account with an effective date in the month, less points
    that repaid clawback debt in that month; expired = points the expiry runs
    moved out of that cohort's buckets (read from the expire transactions'
    ``expires_at`` and postings, one per expired bucket, so bounded by the
    number of bucket accounts) plus points still sitting in those due
    buckets. The rate is Σ expired ÷ Σ issued over those cohorts, and the
    estimate for each open cohort is its not-yet-due points (buckets and
    pending, by expiry date) × the rate, rounded half-even to whole points.
    Points already due but not yet swept are reported apart as
    ``awaiting_expiry`` (they will expire for certain). Held points carry no
    expiry date and ``noexpiry`` buckets never expire: neither is estimated.
    With no closed cohort that issued anything the report says so and gives
    no rate.

Reconciliation
    Checks, each pass / fail / not_verified with the offending accounts or
    transactions, all as of one instant:

    - trial balance: ``aggregate_balances("")`` (every account) is zero for
      every asset; only when it is not are the balances grouped by first
      segment read, to say where the difference sits;
    - roll-forward over the whole history up to the as-of instant ties;
    - customer accounts below zero: points and money only on clawback
      accounts, and only under the ``allow_negative`` or ``claw_back`` refund
      policy (listed); memo counters where the chart lets their kind go
      negative (engagement award counts);
    - holds past their ``expires_at`` (from the hold transactions' metadata)
      whose hold account still holds points;
    - pending accounts whose release date (address segment) is on or before
      the as-of date and that still hold points;
    - every transaction carries the metadata its operation writes
      (:data:`OPERATION_METADATA`, the one table of it);
    - the log hash chain (:func:`check_log_chain`).

    The metadata, hold and log checks read every transaction / log: they
    inherently grow with history. Everything else grows with the number of
    accounts and the window.

    Reverts: the v2.4.12 server marks a reversal with the metadata key
    ``com.formance.spec/state/reverts`` = the original's id, and the original
    reads ``reverted=True``. A transaction carrying that key, or (for ledgers
    that do not add it) whose postings mirror an earlier reverted transaction,
    is a revert: it is accepted and listed (a void is a revert of a hold),
    never required to carry operation metadata. Any other transaction without
    ``operation`` metadata is a manual posting and fails the check.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, Inexact, localcontext
from fractions import Fraction
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

from .chart import Chart, parse_date_segment
from .errors import InvalidCommand
from .ledger.log_chain import verify_log_chain
from .operations import OPERATIONS
from .ports import LedgerPort
from .types import AccountState, PostedTransaction, VolumeRow
from .vocabulary.frozen import Frozen

__all__ = [
    "BASE_METADATA",
    "OPERATION_METADATA",
    "REVERT_METADATA_KEY",
    "MetadataRule",
    "AccountBalance",
    "LiabilityLine",
    "LiabilityStatement",
    "RollForwardLine",
    "RollForward",
    "CohortRow",
    "BreakageReport",
    "Check",
    "Reconciliation",
    "StatementLine",
    "ExpiringPoints",
    "CustomerStatement",
    "FinanceReports",
    "money_value",
    "kind_filter",
    "cohort_of",
    "closed_cohorts",
    "liability_statement",
    "roll_forward",
    "breakage_report",
    "breakage_method",
    "revert_targets",
    "check_trial_balance",
    "check_roll_forward",
    "check_negative_balances",
    "check_expired_holds",
    "check_overdue_pending",
    "check_transaction_metadata",
    "check_log_chain",
    "customer_statement",
]

ONE_MICROSECOND = timedelta(microseconds=1)
REVERT_METADATA_KEY = "com.formance.spec/state/reverts"
"""Metadata the v2.4.12 server writes on a reversal: the id of the transaction it reverts."""

DEFAULT_RATE_COHORTS = 12
DEFAULT_HORIZON_DAYS = 30

Status = Literal["pass", "fail", "not_verified"]


# --------------------------------------------------------------------------
# What each operation writes (the one table)


@dataclass(frozen=True)
class MetadataRule:
    """Metadata keys an operation's plans always write, may write, and which one is its business key.

    ``optional_prefixes`` admits families of keys (an earn's pricing
    breakdown, ``r_*``, whose number of keys depends on the campaigns).
    Keys are optional when the plans write them only in some cases, or when
    transactions posted by earlier versions of the plans lack them.
    """

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    business_key: str | None = None
    optional_prefixes: tuple[str, ...] = ()

    def allows(self, key: str) -> bool:
        return (
            key in BASE_METADATA
            or key in self.required
            or key in self.optional
            or any(key.startswith(prefix) for prefix in self.optional_prefixes)
        )


BASE_METADATA = frozenset({"operation", "template", "command_hash"})
"""Keys :meth:`TransactionPlan.all_metadata` adds to every plan."""

OPERATION_METADATA: Mapping[str, MetadataRule] = {
    "earn": MetadataRule(
        frozenset({"customer", "order_id", "amount", "currency", "points", "ordered_at", "expires_at"}),
        frozenset({"release_at", "repaid", "qualifying_on", "tier_after", "tier_change"}),
        "order_id",
        optional_prefixes=("r_",),
    ),
    "release": MetadataRule(frozenset({"customer", "release_at", "expires_at", "as_of"})),
    "hold": MetadataRule(frozenset({"customer", "hold_id", "points", "expires_at"}), business_key="hold_id"),
    "capture": MetadataRule(frozenset({"customer", "hold_id", "points", "returned"}), business_key="hold_id"),
    "redeem": MetadataRule(frozenset({"customer", "redemption_id", "points"}), frozenset({"reward"}), "redemption_id"),
    "expire": MetadataRule(frozenset({"customer", "expires_at", "as_of"})),
    "transfer": MetadataRule(
        frozenset({"customer", "to_customer", "transfer_id", "points"}), business_key="transfer_id"
    ),
    "exchange_out": MetadataRule(
        frozenset(
            {"customer", "exchange_id", "partner", "points", "partner_points", "partner_asset", "settlement", "currency"}
        ),
        business_key="exchange_id",
    ),
    "exchange_in": MetadataRule(
        frozenset(
            {
                "customer",
                "exchange_id",
                "partner",
                "points",
                "partner_points",
                "partner_asset",
                "settlement",
                "currency",
                "expires_at",
            }
        ),
        business_key="exchange_id",
    ),
    "convert": MetadataRule(
        frozenset({"customer", "conversion_id", "points", "credit", "currency"}), business_key="conversion_id"
    ),
    "refund": MetadataRule(
        frozenset(
            {"customer", "order_id", "refund_id", "amount", "currency", "points", "refunded_total", "shortfall_policy"}
        ),
        business_key="refund_id",
    ),
    "adjust": MetadataRule(
        frozenset({"customer", "adjustment_id", "direction", "points", "reason"}),
        frozenset({"expires_at"}),
        "adjustment_id",
    ),
    "engage": MetadataRule(
        frozenset({"customer", "event", "key", "points", "awarded_at", "awarded_on", "expires_at", "rules_version"}),
        frozenset({"repaid"}),
        "key",
    ),
    "open_counter": MetadataRule(frozenset({"customer", "event"}), frozenset({"day"})),
}
"""Per operation: the metadata keys its plans write (besides :data:`BASE_METADATA`).

Release, expire and open_counter have no business key of their own: their reference
(run instant, customer, dates) identifies them.
"""


# --------------------------------------------------------------------------
# Small exact helpers


def money_value(points: int, point_value: Decimal) -> Decimal:
    """``points × point_value``, exactly (a local context wide enough that nothing rounds)."""

    digits = len(str(abs(points))) + len(point_value.as_tuple().digits) + 2
    with localcontext() as ctx:
        ctx.prec = max(28, digits)
        ctx.traps[Inexact] = True
        return Decimal(points) * point_value


def _rate_decimal(rate: Fraction) -> Decimal:
    """A rate for display: 6 decimals, half-even (the computation keeps the exact fraction)."""

    with localcontext() as ctx:
        ctx.prec = 60
        value = Decimal(rate.numerator) / Decimal(rate.denominator)
    return value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)


def kind_filter(chart: Chart, kind: str) -> str:
    """The Formance address filter matching every account of a chart kind.

    ``customers:{customer}:points:{expiry}`` → ``customers::points:`` (an empty
    segment matches any one segment).
    """

    spec = chart.kinds[kind]
    return ":".join("" if seg.variable else seg.text for seg in spec.segments)


def _customer_of(chart: Chart, address: str) -> str:
    parsed = chart.parse(address)
    if parsed is not None and "customer" in parsed.values:
        return parsed.values["customer"]
    parts = address.split(":")
    return parts[1] if len(parts) > 1 else address


def _kind_of(chart: Chart, address: str) -> str | None:
    parsed = chart.parse(address)
    return parsed.kind if parsed is not None else None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidCommand(f"instant {moment.isoformat()} has no time zone")
    return moment.astimezone(timezone.utc)


def _parse_instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return value.astimezone(timezone.utc)


def _local_midnight(chart: Chart, day: date) -> datetime:
    """The instant a programme-calendar day starts, in UTC."""

    return datetime(day.year, day.month, day.day, tzinfo=chart.timezone).astimezone(timezone.utc)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + (month.month - 1) + count
    return date(index // 12, index % 12 + 1, 1)


def _month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def cohort_of(expiry: date, expiry_days: int) -> date:
    """The earn cohort (first day of the earn month) of a bucket dated ``expiry``."""

    return _month_start(expiry - timedelta(days=expiry_days))


def closed_cohorts(as_of: date, expiry_days: int, count: int) -> tuple[date, ...]:
    """The ``count`` most recent cohorts whose buckets have all passed expiry on ``as_of``, oldest first.

    A cohort (month *m*) is closed when the bucket of its last day,
    ``last_day(m) + expiry_days``, is due: that date ≤ ``as_of``.
    """

    latest_earn = as_of - timedelta(days=expiry_days)
    last = _month_start(latest_earn)
    if _month_end(last) > latest_earn:
        last = _add_months(last, -1)
    return tuple(_add_months(last, -i) for i in range(count - 1, -1, -1))


def _month_label(month: date) -> str:
    return month.strftime("%Y-%m")


# --------------------------------------------------------------------------
# Liability


STATES: tuple[str, ...] = ("spendable", "pending", "held", "negative", "other")
_STATE_OF_KIND: Mapping[str, str] = {
    "customer_points": "spendable",
    "customer_pending": "pending",
    "customer_hold": "held",
    "customer_clawback": "negative",
}
_STATE_ACCOUNTS: Mapping[str, str] = {
    "spendable": "customers:{customer}:points:{expiry}",
    "pending": "customers:{customer}:pending:{release}:{expiry}",
    "held": "customers:{customer}:holds:{hold}",
    "negative": "customers:{customer}:clawback and any customer account below zero",
    "other": "customer accounts the chart does not declare as points accounts",
}


class LiabilityLine(Frozen):
    state: str
    points: int
    value: Decimal
    customers: int
    """Customers with a non-zero balance in this state."""
    accounts: str


class AccountBalance(Frozen):
    address: str
    asset: str
    balance: int


class LiabilityStatement(Frozen):
    """Outstanding points by state at an instant, valued at the chart's point value."""

    as_of: datetime
    points_asset: str
    currency: str
    point_value: Decimal
    lines: tuple[LiabilityLine, ...]
    total_points: int
    total_value: Decimal
    ledger_total_points: int
    """aggregate_balances("customers:...") at the same instant."""
    listed_total_points: int
    """Sum of the customer accounts listed one by one at the same instant."""
    customers_with_position: int
    accounts_below_zero: tuple[AccountBalance, ...]

    @property
    def ties(self) -> bool:
        return self.total_points == self.ledger_total_points == self.listed_total_points

    @property
    def difference(self) -> int:
        return self.total_points - self.ledger_total_points

    def rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {
                "as_of": self.as_of,
                "state": line.state,
                "points": line.points,
                "value": line.value,
                "currency": self.currency,
                "customers": line.customers,
            }
            for line in self.lines
        ]
        rows.append(
            {
                "as_of": self.as_of,
                "state": "total",
                "points": self.total_points,
                "value": self.total_value,
                "currency": self.currency,
                "customers": self.customers_with_position,
            }
        )
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "liability",
            "as_of": self.as_of,
            "points_asset": self.points_asset,
            "currency": self.currency,
            "point_value": self.point_value,
            "lines": self.rows(),
            "total_points": self.total_points,
            "total_value": self.total_value,
            "ledger_total_points": self.ledger_total_points,
            "listed_total_points": self.listed_total_points,
            "ties": self.ties,
            "difference": self.difference,
            "customers_with_position": self.customers_with_position,
            "accounts_below_zero": [a.model_dump() for a in self.accounts_below_zero],
        }


def liability_statement(
    *,
    as_of: datetime,
    chart: Chart,
    by_kind: Mapping[str, int],
    ledger_total: int,
    accounts: Sequence[AccountState],
) -> LiabilityStatement:
    """The liability statement from per-kind aggregates, the subtree total and the listed accounts.

    ``by_kind`` holds the points balance of every customer points kind
    (``customer_points``, ``customer_pending``, ``customer_hold``,
    ``customer_clawback``), each an aggregate over its address filter;
    ``ledger_total`` the aggregate over ``customers:...``; ``accounts`` every
    customer account with its volumes, all at ``as_of``. A negative balance
    in a spendable, pending or hold account is moved to the ``negative``
    line (so the other lines are what the programme owes); points in
    customer accounts of no declared points kind form the ``other`` line.
    """

    asset = chart.points_asset
    negative_part = {"spendable": 0, "pending": 0, "held": 0}
    other = 0
    listed = 0
    in_state: dict[str, set[str]] = {state: set() for state in STATES}
    position: dict[str, int] = defaultdict(int)
    below_zero: list[AccountBalance] = []
    for account in accounts:
        if asset not in account.volumes:
            continue
        balance = account.balance(asset)
        listed += balance
        customer = _customer_of(chart, account.address)
        position[customer] += balance
        state = _STATE_OF_KIND.get(_kind_of(chart, account.address) or "", "other")
        if balance < 0:
            below_zero.append(AccountBalance(address=account.address, asset=asset, balance=balance))
        if state == "other":
            other += balance
        elif balance < 0 and state in negative_part:
            negative_part[state] += balance
            state = "negative"
        if balance != 0:
            in_state[state].add(customer)

    points = {
        "spendable": by_kind.get("customer_points", 0) - negative_part["spendable"],
        "pending": by_kind.get("customer_pending", 0) - negative_part["pending"],
        "held": by_kind.get("customer_hold", 0) - negative_part["held"],
        "negative": by_kind.get("customer_clawback", 0) + sum(negative_part.values()),
        "other": other,
    }
    value = chart.point_value
    lines = tuple(
        LiabilityLine(
            state=state,
            points=points[state],
            value=money_value(points[state], value),
            customers=len(in_state[state]),
            accounts=_STATE_ACCOUNTS[state],
        )
        for state in STATES
    )
    total = sum(points.values())
    return LiabilityStatement(
        as_of=_utc(as_of),
        points_asset=asset,
        currency=chart.money_currency,
        point_value=value,
        lines=lines,
        total_points=total,
        total_value=money_value(total, value),
        ledger_total_points=ledger_total,
        listed_total_points=listed,
        customers_with_position=sum(1 for p in position.values() if p != 0),
        accounts_below_zero=tuple(sorted(below_zero, key=lambda a: a.address)),
    )


# --------------------------------------------------------------------------
# Roll-forward


# (line name, chart kind, sign convention) in the order the statement prints them.
# "out" lines count an account's output (issued), "in" its input (reversed);
# "net_in" lines count input − output and reduce the liability; "net_out"
# lines count output − input and are signed.
_FLOW_LINES: tuple[tuple[str, str, str], ...] = (
    ("issued", "points_issued", "out"),
    ("reversed", "points_issued", "in"),
    ("redeemed", "points_redeemed", "net_in"),
    ("expired", "points_expired", "net_in"),
    ("converted", "points_converted", "net_in"),
    ("adjusted", "points_adjustments", "net_out"),
    ("exchanged", "partner_exchanged", "net_out"),
    ("written_off", "points_written_off", "net_out"),
)
_FLOW_KINDS = frozenset(kind for _, kind, _ in _FLOW_LINES)


def _root(chart: Chart, kind: str) -> str:
    return chart.kinds[kind].segments[0].text


def _customer_root(chart: Chart) -> str:
    """First segment of the customer accounts (``customers``): the liability is that subtree."""

    return _root(chart, "customer_points")


def _detailed_roots(chart: Chart) -> tuple[str, ...]:
    """Roots holding the roll-forward's account groups (``partners``, ``program``), read account by account."""

    return tuple(sorted({_root(chart, kind) for kind in _FLOW_KINDS}))


class RollForwardLine(Frozen):
    line: str
    account: str
    points: int
    """Signed effect on the customer liability."""
    value: Decimal
    explained: bool


class RollForward(Frozen):
    """Opening + movements = closing, over the window ``(start, end]``."""

    start: datetime | None
    end: datetime
    points_asset: str
    currency: str
    point_value: Decimal
    opening_points: int
    closing_points: int
    lines: tuple[RollForwardLine, ...]

    @property
    def explained_points(self) -> int:
        return sum(line.points for line in self.lines if line.explained)

    @property
    def unexplained_points(self) -> int:
        return sum(line.points for line in self.lines if not line.explained)

    @property
    def expected_closing_points(self) -> int:
        return self.opening_points + self.explained_points

    @property
    def difference(self) -> int:
        """closing − (opening + explained movements); zero when the roll-forward ties."""

        return self.closing_points - self.expected_closing_points

    @property
    def residual(self) -> int:
        """The part of the difference no unexplained line accounts for (inconsistent reads)."""

        return self.difference - self.unexplained_points

    @property
    def ties(self) -> bool:
        return self.difference == 0

    def _value(self, points: int) -> Decimal:
        return money_value(points, self.point_value)

    def rows(self) -> list[dict[str, Any]]:
        def row(line: str, account: str, points: int, explained: bool | None = None) -> dict[str, Any]:
            return {
                "from": self.start,
                "to": self.end,
                "line": line,
                "account": account,
                "points": points,
                "value": self._value(points),
                "currency": self.currency,
                "explained": explained,
            }

        out = [row("opening", "customers:...", self.opening_points)]
        out.extend(row(line.line, line.account, line.points, line.explained) for line in self.lines)
        out.append(row("expected_closing", "customers:...", self.expected_closing_points))
        out.append(row("closing", "customers:...", self.closing_points))
        out.append(row("difference", "customers:...", self.difference))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "activity",
            "from": self.start,
            "to": self.end,
            "points_asset": self.points_asset,
            "currency": self.currency,
            "point_value": self.point_value,
            "opening_points": self.opening_points,
            "opening_value": self._value(self.opening_points),
            "lines": self.rows(),
            "expected_closing_points": self.expected_closing_points,
            "closing_points": self.closing_points,
            "closing_value": self._value(self.closing_points),
            "ties": self.ties,
            "difference": self.difference,
            "difference_value": self._value(self.difference),
            "unexplained_points": self.unexplained_points,
            "residual": self.residual,
        }


def roll_forward(
    *,
    start: datetime | None,
    end: datetime,
    chart: Chart,
    opening: int,
    closing: int,
    accounts: Sequence[VolumeRow],
    roots: Sequence[VolumeRow],
) -> RollForward:
    """The roll-forward from opening/closing liability and the window's volumes.

    ``accounts`` are per-account volume rows of the ``program`` and
    ``partners`` subtrees over the window; ``roots`` the volumes of every
    account grouped by first segment (``group_by=1``) over the same window.
    Rows in other assets are ignored.
    """

    asset = chart.points_asset
    totals = {name: 0 for name, _, _ in _FLOW_LINES}
    unexplained: dict[str, int] = defaultdict(int)
    for row in accounts:
        if row.asset != asset:
            continue
        kind = _kind_of(chart, row.account)
        if kind not in _FLOW_KINDS:
            unexplained[row.account] += row.output - row.input
            continue
        for name, line_kind, sign in _FLOW_LINES:
            if line_kind != kind:
                continue
            if sign == "out":
                totals[name] += row.output
            elif sign == "in":
                totals[name] -= row.input
            elif sign == "net_in":
                totals[name] -= row.input - row.output
            else:
                totals[name] += row.output - row.input
    skipped = {_customer_root(chart), *_detailed_roots(chart)}
    for row in roots:
        if row.asset != asset or row.account in skipped:
            continue
        unexplained[row.account] += row.output - row.input

    def group(kind: str) -> str:
        return ":".join("*" if seg.variable else seg.text for seg in chart.kinds[kind].segments)

    value = chart.point_value
    lines = [
        RollForwardLine(line=name, account=group(kind), points=totals[name], value=money_value(totals[name], value), explained=True)
        for name, kind, _ in _FLOW_LINES
    ]
    for account in sorted(unexplained, key=lambda a: (a != "world", a)):
        points = unexplained[account]
        if points == 0:
            continue
        lines.append(
            RollForwardLine(
                line="world" if account == "world" else "unexplained",
                account=account,
                points=points,
                value=money_value(points, value),
                explained=False,
            )
        )
    return RollForward(
        start=_utc(start) if start is not None else None,
        end=_utc(end),
        points_asset=asset,
        currency=chart.money_currency,
        point_value=value,
        opening_points=opening,
        closing_points=closing,
        lines=tuple(lines),
    )


# --------------------------------------------------------------------------
# Breakage


class CohortRow(Frozen):
    cohort: str
    """Earn month, ``YYYY-MM``."""
    status: Literal["closed", "open"]
    first_expiry: date
    last_expiry: date
    issued: int | None = None
    expired: int | None = None
    rate: Decimal | None = None
    outstanding: int = 0
    """Open cohorts: points not yet due (buckets and pending)."""
    awaiting_expiry: int = 0
    """Points already due but not yet moved to expired."""
    estimated: int | None = None
    """Open cohorts: estimated breakage points."""
    value: Decimal | None = None
    """Money value of ``estimated``."""


class BreakageReport(Frozen):
    start: datetime | None
    end: datetime
    points_asset: str
    currency: str
    point_value: Decimal
    realised_points: int
    realised_value: Decimal
    method: str
    rate: Decimal | None
    rate_cohorts: tuple[str, ...]
    cohorts: tuple[CohortRow, ...]
    awaiting_expiry_points: int
    awaiting_expiry_value: Decimal
    estimated_points: int | None
    estimated_value: Decimal | None
    note: str | None = None
    """Why there is no estimate, when there is none."""

    def rows(self) -> list[dict[str, Any]]:
        def row(line: str, **fields: Any) -> dict[str, Any]:
            base = {
                "line": line,
                "cohort": None,
                "status": None,
                "first_expiry": None,
                "last_expiry": None,
                "issued": None,
                "expired": None,
                "rate": None,
                "outstanding": None,
                "awaiting_expiry": None,
                "points": None,
                "value": None,
                "currency": self.currency,
                "note": None,
            }
            base.update(fields)
            return base

        out = [row("realised", points=self.realised_points, value=self.realised_value, note=self._window())]
        for c in self.cohorts:
            out.append(
                row(
                    "cohort",
                    cohort=c.cohort,
                    status=c.status,
                    first_expiry=c.first_expiry,
                    last_expiry=c.last_expiry,
                    issued=c.issued,
                    expired=c.expired,
                    rate=c.rate,
                    outstanding=c.outstanding if c.status == "open" else None,
                    awaiting_expiry=c.awaiting_expiry,
                    points=c.estimated,
                    value=c.value,
                )
            )
        out.append(
            row(
                "awaiting_expiry",
                awaiting_expiry=self.awaiting_expiry_points,
                points=self.awaiting_expiry_points,
                value=self.awaiting_expiry_value,
            )
        )
        out.append(
            row(
                "estimate",
                rate=self.rate,
                points=self.estimated_points,
                value=self.estimated_value,
                note=self.note or self.method,
            )
        )
        return out

    def _window(self) -> str:
        start = self.start.isoformat() if self.start else "beginning"
        return f"expired in ({start}, {self.end.isoformat()}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "breakage",
            "from": self.start,
            "to": self.end,
            "points_asset": self.points_asset,
            "currency": self.currency,
            "point_value": self.point_value,
            "realised_points": self.realised_points,
            "realised_value": self.realised_value,
            "method": self.method,
            "rate": self.rate,
            "rate_cohorts": list(self.rate_cohorts),
            "awaiting_expiry_points": self.awaiting_expiry_points,
            "awaiting_expiry_value": self.awaiting_expiry_value,
            "estimated_points": self.estimated_points,
            "estimated_value": self.estimated_value,
            "note": self.note,
            "lines": self.rows(),
        }


def breakage_method(rate_cohorts: int) -> str:
    return (
        f"rate = expired / issued over the {rate_cohorts} most recent earn cohorts (programme-calendar month "
        "of the earn) whose buckets have all passed expiry; issued = points out of the issuance shards and "
        "the adjustments account dated in the month, less clawback repayments; expired = points the expiry "
        "runs took from the cohort's buckets plus points still in them; a bucket's cohort is its expiry date "
        "minus policies.expiry_days. Estimate = each open cohort's not-yet-due points (buckets and pending) "
        "x rate, rounded half-even; held and noexpiry points are not estimated; due but unswept points are "
        "reported as awaiting expiry."
    )


def breakage_report(
    *,
    start: datetime | None,
    end: datetime,
    chart: Chart,
    realised: int,
    positions: Sequence[AccountState],
    expired_by_expiry: Mapping[date, int],
    issued_by_cohort: Mapping[date, int],
    rate_cohorts: int = DEFAULT_RATE_COHORTS,
) -> BreakageReport:
    """Realised breakage and the cohort estimate (see the module docstring for the method).

    ``positions``: every customer points bucket and pending account at
    ``end``; ``expired_by_expiry``: points the expiry runs moved to expired,
    by the bucket's expiry date; ``issued_by_cohort``: issued points of each
    closed cohort in :func:`closed_cohorts` (keyed by the month's first day).
    """

    value = chart.point_value
    end = _utc(end)
    days = chart.policies.expiry_days
    common: dict[str, Any] = {
        "start": _utc(start) if start is not None else None,
        "end": end,
        "points_asset": chart.points_asset,
        "currency": chart.money_currency,
        "point_value": value,
        "realised_points": realised,
        "realised_value": money_value(realised, value),
        "method": breakage_method(rate_cohorts),
    }
    if days is None:
        return BreakageReport(
            **common,
            rate=None,
            rate_cohorts=(),
            cohorts=(),
            awaiting_expiry_points=0,
            awaiting_expiry_value=money_value(0, value),
            estimated_points=None,
            estimated_value=None,
            note="points never expire under this chart (policies.expiry_days is null): no breakage to estimate",
        )

    today = chart.local_date(end)
    closed = closed_cohorts(today, days, rate_cohorts)
    closed_set = set(closed)
    not_due: dict[date, int] = defaultdict(int)
    due: dict[date, int] = defaultdict(int)
    asset = chart.points_asset
    for account in positions:
        balance = account.balance(asset)
        if balance <= 0:
            continue
        parsed = chart.parse(account.address)
        if parsed is None or parsed.kind not in ("customer_points", "customer_pending"):
            continue
        expiry = parse_date_segment(parsed.values["expiry"])
        if expiry is None:
            continue
        cohort = cohort_of(expiry, days)
        if expiry <= today:
            due[cohort] += balance
        else:
            not_due[cohort] += balance

    expired_by_cohort: dict[date, int] = defaultdict(int)
    for expiry, points in expired_by_expiry.items():
        expired_by_cohort[cohort_of(expiry, days)] += points

    issued_total = sum(issued_by_cohort.get(m, 0) for m in closed)
    expired_total = sum(expired_by_cohort.get(m, 0) + due.get(m, 0) for m in closed)
    rate = Fraction(expired_total, issued_total) if issued_total > 0 else None

    rows: list[CohortRow] = []
    for month in closed:
        issued = issued_by_cohort.get(month, 0)
        expired = expired_by_cohort.get(month, 0) + due.get(month, 0)
        if issued == 0 and expired == 0:
            continue
        rows.append(
            CohortRow(
                cohort=_month_label(month),
                status="closed",
                first_expiry=month + timedelta(days=days),
                last_expiry=_month_end(month) + timedelta(days=days),
                issued=issued,
                expired=expired,
                rate=_rate_decimal(Fraction(expired, issued)) if issued else None,
                awaiting_expiry=due.get(month, 0),
            )
        )
    estimated_total = 0
    for month in sorted((set(not_due) | set(due)) - closed_set):
        if _month_end(month) + timedelta(days=days) <= today:
            # Closed, but older than the cohorts the rate uses: only what is left to sweep.
            rows.append(
                CohortRow(
                    cohort=_month_label(month),
                    status="closed",
                    first_expiry=month + timedelta(days=days),
                    last_expiry=_month_end(month) + timedelta(days=days),
                    awaiting_expiry=due.get(month, 0),
                )
            )
            continue
        outstanding = not_due.get(month, 0)
        estimate = round(outstanding * rate) if rate is not None else None
        estimated_total += estimate or 0
        rows.append(
            CohortRow(
                cohort=_month_label(month),
                status="open",
                first_expiry=month + timedelta(days=days),
                last_expiry=_month_end(month) + timedelta(days=days),
                outstanding=outstanding,
                awaiting_expiry=due.get(month, 0),
                estimated=estimate,
                value=money_value(estimate, value) if estimate is not None else None,
            )
        )
    awaiting = sum(due.values())
    note = None
    if rate is None:
        first_close = _month_end(closed[-1]) if closed else today
        note = (
            "too little history to estimate breakage: no earn cohort whose buckets have all passed expiry "
            f"issued any points (the {rate_cohorts} most recent closed cohorts end with "
            f"{_month_label(closed[-1]) if closed else 'none'}; cohorts earned after "
            f"{first_close.isoformat()} are still open)"
        )
    return BreakageReport(
        **common,
        rate=_rate_decimal(rate) if rate is not None else None,
        rate_cohorts=tuple(_month_label(m) for m in closed),
        cohorts=tuple(sorted(rows, key=lambda r: r.cohort)),
        awaiting_expiry_points=awaiting,
        awaiting_expiry_value=money_value(awaiting, value),
        estimated_points=estimated_total if rate is not None else None,
        estimated_value=money_value(estimated_total, value) if rate is not None else None,
        note=note,
    )


# --------------------------------------------------------------------------
# Reconciliation checks


class Check(Frozen):
    name: str
    status: Status
    detail: str
    offending: tuple[str, ...] = ()
    info: tuple[str, ...] = ()


class Reconciliation(Frozen):
    as_of: datetime
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    def check(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "as_of": self.as_of,
                "check": c.name,
                "status": c.status,
                "detail": c.detail,
                "offending": "; ".join(c.offending),
                "info": "; ".join(c.info),
            }
            for c in self.checks
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "reconcile",
            "as_of": self.as_of,
            "ok": self.ok,
            "checks": [
                {
                    "check": c.name,
                    "status": c.status,
                    "detail": c.detail,
                    "offending": list(c.offending),
                    "info": list(c.info),
                }
                for c in self.checks
            ],
        }


def check_trial_balance(totals: Mapping[str, int], roots: Sequence[VolumeRow] = ()) -> Check:
    """Every asset sums to zero over all accounts.

    ``totals`` is ``aggregate_balances("")`` (every account); ``roots``, the
    balances grouped by first address segment, names where the difference sits
    when an asset does not sum to zero.
    """

    by_asset: dict[str, list[str]] = defaultdict(list)
    for row in roots:
        if row.balance:
            by_asset[row.asset].append(f"{row.account}={row.balance}")
    broken = sorted(asset for asset, total in totals.items() if total != 0)
    offending = tuple(
        f"{asset}: sums to {totals[asset]}" + (f" ({', '.join(by_asset[asset])})" if by_asset[asset] else "")
        for asset in broken
    )
    assets = ", ".join(f"{a}={totals[a]}" for a in sorted(totals)) or "no assets"
    return Check(
        name="trial_balance",
        status="fail" if broken else "pass",
        detail=f"sum of all balances per asset: {assets}",
        offending=offending,
    )


def check_roll_forward(report: RollForward) -> Check:
    """The roll-forward over the whole history ties."""

    offending = tuple(
        f"{line.account}: {line.points:+d} {report.points_asset} ({line.line})"
        for line in report.lines
        if not line.explained
    )
    if report.residual:
        offending += (f"residual {report.residual:+d} {report.points_asset} not explained by any account group",)
    detail = (
        f"opening {report.opening_points} + explained movements {report.explained_points} = "
        f"{report.expected_closing_points}; closing {report.closing_points}; difference {report.difference}"
    )
    return Check(name="roll_forward", status="pass" if report.ties else "fail", detail=detail, offending=offending)


def check_negative_balances(*, chart: Chart, accounts: Sequence[AccountState]) -> Check:
    """No customer account below zero, except clawback accounts where the refund policy allows debt.

    Points and money may be negative only there. Memo counters (assets other
    than points and money, such as engagement award counts) may be negative
    where the chart declares their account kind ``may_go_negative``: that is
    how they count.
    """

    policy = chart.policies.refund_shortfall
    debt_allowed = policy in ("allow_negative", "claw_back")
    value_assets = {chart.points_asset, chart.money_asset}
    offending: list[str] = []
    allowed: list[str] = []
    counters = 0
    for account in accounts:
        kind = _kind_of(chart, account.address)
        for asset in sorted(account.volumes):
            balance = account.balance(asset)
            if balance >= 0:
                continue
            text = f"{account.address} {balance} {asset}"
            if debt_allowed and kind == "customer_clawback" and asset == chart.points_asset:
                allowed.append(text)
            elif asset not in value_assets and kind is not None and chart.kinds[kind].may_go_negative:
                counters += 1
            else:
                offending.append(text)
    detail = (
        f"refund policy {policy}: clawback debt is {'allowed' if debt_allowed else 'not allowed'}; "
        f"{len(allowed)} clawback account(s) in debt; {counters} memo counter(s) below zero by design"
    )
    return Check(
        name="negative_balances",
        status="fail" if offending else "pass",
        detail=detail,
        offending=tuple(offending),
        info=tuple(allowed),
    )


def check_expired_holds(
    *, as_of: datetime, chart: Chart, holds: Sequence[PostedTransaction], hold_accounts: Sequence[AccountState]
) -> Check:
    """Holds whose ``expires_at`` has passed must not hold points any more (they should have been voided)."""

    as_of = _utc(as_of)
    asset = chart.points_asset
    by_account: dict[str, PostedTransaction] = {}
    for tx in holds:
        for posting in tx.postings:
            if _kind_of(chart, posting.destination) == "customer_hold":
                by_account.setdefault(posting.destination, tx)
    offending: list[str] = []
    open_within_ttl = 0
    for account in sorted(hold_accounts, key=lambda a: a.address):
        balance = account.balance(asset)
        if balance <= 0:
            continue
        tx = by_account.get(account.address)
        if tx is None:
            offending.append(f"{account.address}: {balance} points, no hold transaction found")
            continue
        raw = tx.metadata.get("expires_at")
        try:
            expires = _parse_instant(raw) if raw else None
        except ValueError:
            expires = None
        if expires is None:
            offending.append(f"{account.address}: {balance} points, hold #{tx.id} has no valid expires_at")
        elif expires <= as_of:
            offending.append(f"{account.address}: {balance} points, lapsed at {raw} (hold #{tx.id})")
        else:
            open_within_ttl += 1
    return Check(
        name="expired_holds",
        status="fail" if offending else "pass",
        detail=f"{open_within_ttl} open hold(s) within their TTL; {len(offending)} holding points past it",
        offending=tuple(offending),
    )


def check_overdue_pending(*, as_of: datetime, chart: Chart, pending_accounts: Sequence[AccountState]) -> Check:
    """Pending accounts whose release date has come must be empty (released)."""

    today = chart.local_date(_utc(as_of))
    asset = chart.points_asset
    offending: list[str] = []
    waiting = 0
    for account in sorted(pending_accounts, key=lambda a: a.address):
        balance = account.balance(asset)
        parsed = chart.parse(account.address)
        if balance <= 0 or parsed is None or parsed.kind != "customer_pending":
            continue
        release = parse_date_segment(parsed.values["release"])
        if release is not None and release <= today:
            offending.append(f"{account.address}: {balance} points, release date {release.isoformat()}")
        else:
            waiting += balance
    return Check(
        name="overdue_pending",
        status="fail" if offending else "pass",
        detail=f"{waiting} points pending before their release date; {len(offending)} account(s) overdue on {today}",
        offending=tuple(offending),
    )


def _mirror_key(postings: Iterable[Any], *, swap: bool) -> tuple[tuple[str, str, int, str], ...]:
    return tuple(
        sorted(
            (p.destination, p.source, p.amount, p.asset) if swap else (p.source, p.destination, p.amount, p.asset)
            for p in postings
        )
    )


def revert_targets(transactions: Sequence[PostedTransaction]) -> dict[int, int]:
    """Reversing transaction id → id of the transaction it reverts.

    A transaction reverts another if it carries :data:`REVERT_METADATA_KEY`
    (what the server writes), or, not being one of the operations' own plans
    (no ``operation`` metadata, or one such as ``void`` that names a revert),
    its postings are the mirror image of an earlier transaction marked
    ``reverted`` that no other reversal claims.
    """

    targets: dict[int, int] = {}
    claimed: set[int] = set()
    for tx in transactions:
        marker = tx.metadata.get(REVERT_METADATA_KEY, "")
        if marker.isdigit():
            targets[tx.id] = int(marker)
            claimed.add(int(marker))
    originals: dict[tuple[tuple[str, str, int, str], ...], list[int]] = defaultdict(list)
    for tx in sorted(transactions, key=lambda t: t.id):
        if tx.reverted and tx.id not in claimed:
            originals[_mirror_key(tx.postings, swap=True)].append(tx.id)
    for tx in sorted(transactions, key=lambda t: t.id):
        if tx.id in targets or tx.metadata.get("operation") in OPERATION_METADATA:
            continue
        candidates = [i for i in originals.get(_mirror_key(tx.postings, swap=False), []) if i < tx.id and i not in claimed]
        if candidates:
            targets[tx.id] = candidates[0]
            claimed.add(candidates[0])
    return targets


def _metadata_problems(tx: PostedTransaction) -> str | None:
    meta = tx.metadata
    operation = meta.get("operation")
    if not operation:
        return f"#{tx.id}: no operation metadata (a posting made outside the operations)"
    rule = OPERATION_METADATA.get(operation)
    info = OPERATIONS.get(operation)
    if rule is None or info is None:
        return f"#{tx.id}: unknown operation {operation!r}"
    missing = sorted(key for key in BASE_METADATA | rule.required if not meta.get(key))
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    template = meta.get("template")
    if template and template not in info.templates:
        problems.append(f"template {template!r} is not one of {', '.join(info.templates)}")
    if problems:
        return f"#{tx.id} ({operation}): " + "; ".join(problems)
    return None


def check_transaction_metadata(transactions: Sequence[PostedTransaction]) -> Check:
    """Every transaction carries the metadata its operation writes; reverts are recognised and listed."""

    reverts = revert_targets(transactions)
    by_id = {tx.id: tx for tx in transactions}
    offending: list[str] = []
    info: list[str] = []
    for tx in sorted(transactions, key=lambda t: t.id):
        if tx.id in reverts:
            original = by_id.get(reverts[tx.id])
            what = original.metadata.get("operation", "no operation") if original else "not listed"
            label = tx.metadata.get("operation")
            info.append(f"#{tx.id} reverts #{reverts[tx.id]} ({what})" + (f" as {label}" if label else ""))
            continue
        problem = _metadata_problems(tx)
        if problem:
            offending.append(problem)
    return Check(
        name="transaction_metadata",
        status="fail" if offending else "pass",
        detail=f"{len(transactions)} transaction(s) checked, {len(reverts)} revert(s)",
        offending=tuple(offending),
        info=tuple(info),
    )


# --------------------------------------------------------------------------
# The log hash chain (recomputed by loyalty_accounts.ledger.log_chain)


LOG_CHAIN_SCOPE = (
    "recomputes every log's SHA-256 from its type, payload (the fields the server hashes), date and "
    "idempotency key, chained to the previous log's stored hash, and compares with the stored hash; "
    "proves the log as served is unaltered and unbroken since it was written, but not that the "
    "balances tables agree with the log"
)


def check_log_chain(logs: Iterable[Mapping[str, Any]]) -> Check:
    """Verify the ledger's hash chain, oldest log first (see :func:`~loyalty_accounts.ledger.log_chain.log_hash`)."""

    chain = verify_log_chain(logs)
    count = chain.logs
    if count == 0:
        return Check(name="log_chain", status="pass", detail="the ledger has no logs yet; " + LOG_CHAIN_SCOPE)
    if chain.unhashed == count:
        return Check(
            name="log_chain",
            status="not_verified",
            detail=f"{count} log(s) carry no hash: the ledger does not hash its logs synchronously (HASH_LOGS)",
        )
    notes = tuple(f"{n} log(s) matched the {v} form" for v, n in sorted(chain.matched.items()))
    unverifiable = list(chain.unverifiable)
    if chain.unhashed:
        unverifiable.append(f"{chain.unhashed} log(s) carry no hash")
    if chain.mismatched:
        status: Status = "fail"
    elif unverifiable:
        status = "not_verified"
    else:
        status = "pass"
    return Check(
        name="log_chain",
        status=status,
        detail=f"{count} log(s): {LOG_CHAIN_SCOPE}",
        offending=chain.mismatched + tuple(unverifiable),
        info=notes,
    )

# --------------------------------------------------------------------------
# Customer statement


class StatementLine(Frozen):
    timestamp: datetime
    transaction_id: int
    operation: str
    business_key: str
    reference: str | None
    points: int
    """Net change of the customer's points (all their points accounts)."""
    balance: int


class ExpiringPoints(Frozen):
    expires_on: date
    state: str
    points: int


class CustomerStatement(Frozen):
    customer: str
    start: datetime | None
    end: datetime
    points_asset: str
    currency: str
    point_value: Decimal
    opening_points: int
    closing_points: int
    lines: tuple[StatementLine, ...]
    expiring: tuple[ExpiringPoints, ...]
    horizon_days: int

    @property
    def difference(self) -> int:
        return self.closing_points - self.opening_points - sum(line.points for line in self.lines)

    @property
    def ties(self) -> bool:
        return self.difference == 0

    def rows(self) -> list[dict[str, Any]]:
        def row(line: str, **fields: Any) -> dict[str, Any]:
            base = {
                "customer": self.customer,
                "line": line,
                "timestamp": None,
                "transaction_id": None,
                "operation": None,
                "business_key": None,
                "points": None,
                "balance": None,
                "state": None,
                "expires_on": None,
            }
            base.update(fields)
            return base

        out = [row("opening", timestamp=self.start, balance=self.opening_points)]
        for line in self.lines:
            out.append(
                row(
                    "movement",
                    timestamp=line.timestamp,
                    transaction_id=line.transaction_id,
                    operation=line.operation,
                    business_key=line.business_key,
                    points=line.points,
                    balance=line.balance,
                )
            )
        out.append(row("closing", timestamp=self.end, balance=self.closing_points))
        for item in self.expiring:
            out.append(row("expiring", points=item.points, state=item.state, expires_on=item.expires_on))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "statement",
            "customer": self.customer,
            "from": self.start,
            "to": self.end,
            "points_asset": self.points_asset,
            "currency": self.currency,
            "opening_points": self.opening_points,
            "opening_value": money_value(self.opening_points, self.point_value),
            "closing_points": self.closing_points,
            "closing_value": money_value(self.closing_points, self.point_value),
            "ties": self.ties,
            "difference": self.difference,
            "horizon_days": self.horizon_days,
            "lines": self.rows(),
        }


def _business_key(tx: PostedTransaction) -> str:
    operation = tx.metadata.get("operation", "")
    rule = OPERATION_METADATA.get(operation)
    if rule is not None and rule.business_key and tx.metadata.get(rule.business_key):
        return tx.metadata[rule.business_key]
    return tx.reference or ""


def customer_statement(
    *,
    customer: str,
    start: datetime | None,
    end: datetime,
    chart: Chart,
    opening: int,
    closing: int,
    transactions: Sequence[PostedTransaction],
    originals: Mapping[int, PostedTransaction],
    positions: Sequence[AccountState],
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> CustomerStatement:
    """A customer's points between two instants, with what expires soon after ``end``.

    ``transactions`` touch the customer's accounts in ``(start, end]``;
    ``originals`` holds the transactions reverted by reversals among them;
    ``positions`` are the customer's buckets and pending accounts at ``end``.
    """

    asset = chart.points_asset
    prefix = f"{_customer_root(chart)}:{customer}:"
    reverts = revert_targets(list(transactions) + [t for t in originals.values() if t.id not in {x.id for x in transactions}])
    lines: list[StatementLine] = []
    running = opening
    for tx in sorted(transactions, key=lambda t: (t.timestamp, t.id)):
        delta = 0
        for p in tx.postings:
            if p.asset != asset:
                continue
            if p.destination.startswith(prefix):
                delta += p.amount
            if p.source.startswith(prefix):
                delta -= p.amount
        running += delta
        if tx.id in reverts:
            original = originals.get(reverts[tx.id]) or next((t for t in transactions if t.id == reverts[tx.id]), None)
            what = original.metadata.get("operation", "") if original else ""
            operation = f"revert of {what}" if what else "revert"
            key = f"#{reverts[tx.id]}" + (f" {_business_key(original)}" if original and _business_key(original) else "")
        else:
            operation = tx.metadata.get("operation") or "(none)"
            key = _business_key(tx)
        lines.append(
            StatementLine(
                timestamp=tx.timestamp,
                transaction_id=tx.id,
                operation=operation,
                business_key=key,
                reference=tx.reference,
                points=delta,
                balance=running,
            )
        )

    today = chart.local_date(_utc(end))
    limit = today + timedelta(days=horizon_days)
    expiring: dict[tuple[date, str], int] = defaultdict(int)
    for account in positions:
        balance = account.balance(asset)
        parsed = chart.parse(account.address)
        if balance <= 0 or parsed is None or parsed.values.get("customer") != customer:
            continue
        if parsed.kind not in ("customer_points", "customer_pending"):
            continue
        expiry = parse_date_segment(parsed.values["expiry"])
        if expiry is not None and today < expiry <= limit:
            state = "spendable" if parsed.kind == "customer_points" else "pending"
            expiring[(expiry, state)] += balance
    return CustomerStatement(
        customer=customer,
        start=_utc(start) if start is not None else None,
        end=_utc(end),
        points_asset=asset,
        currency=chart.money_currency,
        point_value=chart.point_value,
        opening_points=opening,
        closing_points=closing,
        lines=tuple(lines),
        expiring=tuple(ExpiringPoints(expires_on=d, state=s, points=p) for (d, s), p in sorted(expiring.items())),
        horizon_days=horizon_days,
    )


# --------------------------------------------------------------------------
# The service


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class FinanceReports:
    """The reports, read through a :class:`LedgerPort` and computed by the pure functions above."""

    def __init__(self, ledger: LedgerPort, chart: Chart, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.ledger = ledger
        self.chart = chart
        self._clock = clock

    # -- helpers ------------------------------------------------------------

    def _as_of(self, as_of: datetime | None) -> datetime:
        return _utc(as_of) if as_of is not None else _utc(self._clock())

    def _points(self, balances: Mapping[str, int]) -> int:
        return int(balances.get(self.chart.points_asset, 0))

    def _customer_total(self, pit: datetime | None) -> int:
        if pit is None:
            return 0
        return self._points(self.ledger.aggregate_balances(f"{_customer_root(self.chart)}:...", pit=pit))

    def _window(self, start: datetime | None, end: datetime) -> dict[str, datetime | None]:
        """Volume bounds for the window (start, end]: the server applies both bounds inclusively."""

        return {"start": start + ONE_MICROSECOND if start is not None else None, "end": end}

    # -- reports ------------------------------------------------------------

    def liability(self, as_of: datetime | None = None) -> LiabilityStatement:
        """Outstanding points by state at ``as_of`` (default: now), read at that point in time."""

        pit = self._as_of(as_of)
        by_kind = {
            kind: self._points(self.ledger.aggregate_balances(kind_filter(self.chart, kind), pit=pit))
            for kind in _STATE_OF_KIND
        }
        subtree = f"{_customer_root(self.chart)}:..."
        total = self._points(self.ledger.aggregate_balances(subtree, pit=pit))
        accounts = list(self.ledger.accounts(subtree, pit=pit))
        return liability_statement(as_of=pit, chart=self.chart, by_kind=by_kind, ledger_total=total, accounts=accounts)

    def activity(self, start: datetime | None, end: datetime | None = None) -> RollForward:
        """Roll-forward over ``(start, end]``; ``start=None`` means from the first transaction."""

        end = self._as_of(end)
        if start is not None:
            start = _utc(start)
            if start >= end:
                raise InvalidCommand(f"the window must start before it ends ({start.isoformat()} ≥ {end.isoformat()})")
        window = self._window(start, end)
        opening = self._customer_total(start)
        closing = self._customer_total(end)
        roots = self.ledger.volumes(None, group_by=1, **window)
        detailed: list[VolumeRow] = []
        for root in _detailed_roots(self.chart):
            detailed.extend(self.ledger.volumes(f"{root}:...", **window))
        return roll_forward(
            start=start, end=end, chart=self.chart, opening=opening, closing=closing, accounts=detailed, roots=roots
        )

    def breakage(
        self, start: datetime | None = None, end: datetime | None = None, *, rate_cohorts: int = DEFAULT_RATE_COHORTS
    ) -> BreakageReport:
        """Realised breakage over ``(start, end]`` and the cohort estimate as of ``end`` (default: now)."""

        if rate_cohorts < 1:
            raise InvalidCommand(f"rate_cohorts must be at least 1, got {rate_cohorts}")
        end = self._as_of(end)
        if start is not None:
            start = _utc(start)
            if start >= end:
                raise InvalidCommand(f"the window must start before it ends ({start.isoformat()} ≥ {end.isoformat()})")
        chart, asset = self.chart, self.chart.points_asset
        realised = sum(
            row.input - row.output
            for row in self.ledger.volumes(chart.expired(), **self._window(start, end))
            if row.asset == asset and row.account == chart.expired()
        )
        days = chart.policies.expiry_days
        positions: list[AccountState] = []
        expired_by_expiry: dict[date, int] = defaultdict(int)
        issued: dict[date, int] = {}
        if days is not None:
            for kind in ("customer_points", "customer_pending"):
                positions.extend(self.ledger.accounts(kind_filter(chart, kind), pit=end))
            months = closed_cohorts(chart.local_date(end), days, rate_cohorts)
            for month in months:
                issued[month] = self._issued_in(month)
            first_expiry = _local_midnight(chart, months[0] + timedelta(days=days))
            if first_expiry <= end:
                for tx in self.ledger.transactions(
                    metadata={"operation": "expire"}, start=first_expiry, end=end + ONE_MICROSECOND
                ):
                    if tx.reverted:
                        continue
                    try:
                        expiry = date.fromisoformat(tx.metadata.get("expires_at", ""))
                    except ValueError:
                        continue
                    expired_by_expiry[expiry] += sum(
                        p.amount for p in tx.postings if p.asset == asset and p.destination == chart.expired()
                    )
        return breakage_report(
            start=start,
            end=end,
            chart=chart,
            realised=realised,
            positions=positions,
            expired_by_expiry=expired_by_expiry,
            issued_by_cohort=issued,
            rate_cohorts=rate_cohorts,
        )

    def _issued_in(self, month: date) -> int:
        """Points issued in a programme-calendar month, less clawback repayments (see breakage_method)."""

        chart, asset = self.chart, self.chart.points_asset
        start = _local_midnight(chart, month)
        end = _local_midnight(chart, _add_months(month, 1)) - ONE_MICROSECOND
        issued = 0
        for row in self.ledger.volumes(f"{_root(chart, 'points_issued')}:...", start=start, end=end):
            if row.asset == asset and _kind_of(chart, row.account) in ("points_issued", "points_adjustments"):
                issued += row.output
        for row in self.ledger.volumes(kind_filter(chart, "customer_clawback"), start=start, end=end, group_by=1):
            if row.asset == asset:
                issued -= row.input
        return issued

    def reconcile(self, as_of: datetime | None = None) -> Reconciliation:
        """Every reconciliation check as of ``as_of`` (default: now)."""

        pit = self._as_of(as_of)
        chart = self.chart
        customers = list(self.ledger.accounts(f"{_customer_root(chart)}:...", pit=pit))
        holds_kind = [a for a in customers if _kind_of(chart, a.address) == "customer_hold"]
        pending_kind = [a for a in customers if _kind_of(chart, a.address) == "customer_pending"]
        transactions = list(self.ledger.transactions(pit=pit))
        hold_txs = [tx for tx in transactions if tx.metadata.get("operation") == "hold"]
        totals = self.ledger.aggregate_balances("", pit=pit)
        roots = self.ledger.volumes(None, end=pit, group_by=1) if any(totals.values()) else []
        checks = (
            check_trial_balance(totals, roots),
            check_roll_forward(self.activity(None, pit)),
            check_negative_balances(chart=chart, accounts=customers),
            check_expired_holds(as_of=pit, chart=chart, holds=hold_txs, hold_accounts=holds_kind),
            check_overdue_pending(as_of=pit, chart=chart, pending_accounts=pending_kind),
            check_transaction_metadata(transactions),
            check_log_chain(self.ledger.logs()),
        )
        return Reconciliation(as_of=pit, checks=checks)

    def statement(
        self,
        customer: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        horizon_days: int = DEFAULT_HORIZON_DAYS,
    ) -> CustomerStatement:
        """A customer's statement over ``(start, end]`` (default: from the beginning to now)."""

        chart = self.chart
        chart.credit(customer)  # validates the id against the chart's customer segment
        if horizon_days < 0:
            raise InvalidCommand(f"horizon must be zero or more days, got {horizon_days}")
        end = self._as_of(end)
        if start is not None:
            start = _utc(start)
            if start >= end:
                raise InvalidCommand(f"the window must start before it ends ({start.isoformat()} ≥ {end.isoformat()})")
        subtree = f"{_customer_root(chart)}:{customer}:..."
        opening = self._points(self.ledger.aggregate_balances(subtree, pit=start)) if start is not None else 0
        closing = self._points(self.ledger.aggregate_balances(subtree, pit=end))
        transactions = list(
            self.ledger.transactions(
                account=subtree,
                start=start + ONE_MICROSECOND if start is not None else None,
                end=end + ONE_MICROSECOND,
            )
        )
        listed = {tx.id for tx in transactions}
        originals: dict[int, PostedTransaction] = {}
        for tx in transactions:
            marker = tx.metadata.get(REVERT_METADATA_KEY, "")
            if marker.isdigit() and int(marker) not in listed:
                originals[int(marker)] = self.ledger.get_transaction(int(marker))
        positions: list[AccountState] = []
        for kind in ("customer_points", "customer_pending"):
            pattern = kind_filter(chart, kind).split(":")
            pattern[1] = customer
            positions.extend(self.ledger.accounts(":".join(pattern), pit=end))
        return customer_statement(
            customer=customer,
            start=start,
            end=end,
            chart=chart,
            opening=opening,
            closing=closing,
            transactions=transactions,
            originals=originals,
            positions=positions,
            horizon_days=horizon_days,
        )
