"""Reconciliation: every check, each pass / fail / not_verified with the offending accounts or transactions.

All the checks are made as of one instant:

- trial balance: ``aggregate_balances("")`` (every account) is zero for
  every asset; only when it is not are the balances grouped by first
  segment read, to say where the difference sits;
- roll-forward over the whole history up to the as-of instant ties;
- customer accounts below zero: points and money only on clawback
  accounts, and only under the ``allow_negative`` or ``claw_back`` refund
  policy (listed); memo counters where the chart lets their kind go
  negative (engagement award counts);
- holds past their ``expires_at`` (from the hold transactions' metadata; a redemption held for
  review records its deadline there)
  whose hold account still holds points;
- pending accounts whose release date (address segment) is on or before
  the as-of date and that still hold points;
- points buckets whose expiry date (address segment) has come by the as-of
  date and that still hold points (the sweep is overdue);
- every transaction carries the metadata its operation writes (its
  registry entry's ``writes``, :class:`~loyalty_accounts.operations.Writes`,
  the one table of it);
- the log hash chain (:func:`~loyalty_accounts.reports.log_chain.read_log_chain`):
  all of it when no as-of instant is given, else as it stood at that instant,
  the logs in id order up to the first one dated after it (a prefix of a hash
  chain is a chain; later logs would make a report as of a closed instant
  change); in both cases only the logs after the checkpoint a previous pass
  left in the ledger's metadata, unless ``full_log_check``;
- over the whole history up to the as-of instant, not only at it
  (:mod:`.invariants`): no account the chart forbids to go negative below
  zero after any transaction, no clawback account above zero after any
  transaction, and the liability statement at the as-of instant ties;
- the limits, from what the operations recorded (:mod:`.limits`):
  engagement awards per customer and per day, campaign charges per
  customer, refunds per order (never beyond its amount, never dated before
  it);
- no personal data (:mod:`.personal_data`): no transaction's reference or metadata, nor any account
  address in its postings, looks like an email or a phone number, or holds a registered member's
  email, phone or name (when a member registry is wired in);
- time (:mod:`.periods`): no transaction inserted into a closed period
  after its close, closes monotonic and the closed-period mark agreeing with
  the latest; no transaction recorded by the as-of instant (those dated up to
  it, and those dated after it but inserted by then, read once more) dated
  more than the clock skew after the ledger recorded it.

The customer accounts are listed without ``pit`` (the current state, cheaper
to read) when no transaction is dated after the as-of instant, asked before
and after the listing; otherwise at ``pit``.

The metadata, history, limit and hold checks read every transaction once
(one listing serves them all): they grow with history. The log check reads
only the logs written since the last pass (plus two), or all of them when
asked (``full_log_check``) or when there is no usable checkpoint.
Everything else grows with the number of accounts and the window.

Reverts: the v2.4.12 server marks a reversal with the metadata key
``com.formance.spec/state/reverts`` = the original's id, and the original
reads ``reverted=True``. A transaction carrying that key, or (for ledgers
that do not add it) whose postings mirror an earlier reverted transaction,
is a revert: it is accepted and listed (a void is a revert of a hold),
never required to carry operation metadata. Any other transaction without
``operation`` metadata is a manual posting and fails the check
(:mod:`.reverts` recognises them).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Iterator, Mapping, Sequence

from ..chart import Chart, expiry_of, parse_date_segment
from ..errors import InvalidCommand
from ..operations import OPERATIONS, RESERVED_METADATA
from ..operations.fifo import is_spendable
from ..operations.redeem_review import is_review_hold
from ..ports import LedgerPort
from ..rules import Rules
from ..services.executor import CLOCK_SKEW
from ..types import AccountState, PostedTransaction, VolumeRow
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import parse_instant, utc
from ..vocabulary.personal_data import PersonalDataPort
from .check import Check
from .common import ONE_MICROSECOND, Clock, instant_or_now, kind_of, nothing_dated_after
from .invariants import balance_ranges, check_clawback_never_positive, check_liability_ties, check_never_negative
from .liability import liability_of
from .limits import check_campaign_caps, check_engagement_limits, check_order_refunds, check_refunds_after_orders
from .log_chain import read_log_chain
from .periods import check_closed_periods, check_future_dated
from .personal_data import check_personal_data
from .reverts import revert_targets
from .roll_forward import RollForward, read_roll_forward

__all__ = [
    "Reconciliation",
    "check_expired_holds",
    "check_negative_balances",
    "check_overdue_expiry",
    "check_overdue_pending",
    "check_roll_forward",
    "check_transaction_metadata",
    "check_trial_balance",
    "read_reconciliation",
]


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
        kind = kind_of(chart, account.address)
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

    as_of = utc(as_of)
    asset = chart.points_asset
    by_account: dict[str, PostedTransaction] = {}
    for tx in holds:
        for posting in tx.postings:
            if kind_of(chart, posting.destination) == "customer_hold":
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
            expires = parse_instant(raw, timezone.utc, what="expires_at") if raw else None
        except InvalidCommand:
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


def _holding_points(
    chart: Chart, accounts: Sequence[AccountState], kind: str
) -> Iterator[tuple[str, int, Mapping[str, str]]]:
    """(address, points, segment values) of each account of ``kind`` holding points, by address."""

    for account in sorted(accounts, key=lambda a: a.address):
        balance = account.balance(chart.points_asset)
        parsed = chart.parse(account.address)
        if balance > 0 and parsed is not None and parsed.kind == kind:
            yield account.address, balance, parsed.values


def check_overdue_pending(*, as_of: datetime, chart: Chart, pending_accounts: Sequence[AccountState]) -> Check:
    """Pending accounts whose release date has come must be empty (released)."""

    today = chart.local_date(utc(as_of))
    offending: list[str] = []
    waiting = overdue = 0
    for address, balance, values in _holding_points(chart, pending_accounts, "customer_pending"):
        release = parse_date_segment(values["release"])
        if release is not None and release <= today:
            offending.append(f"{address}: {balance} points, release date {release.isoformat()}")
            overdue += balance
        else:
            waiting += balance
    return Check(
        name="overdue_pending",
        status="fail" if offending else "pass",
        detail=(
            f"{overdue} points in {len(offending)} account(s) past their release date on {today}, not released "
            f"(run `loyalty release`); {waiting} points pending before their release date"
        ),
        offending=tuple(offending),
    )


def check_overdue_expiry(*, as_of: datetime, chart: Chart, bucket_accounts: Sequence[AccountState]) -> Check:
    """Points buckets whose expiry date has come must be empty (swept into the expired account).

    Points left in them are no longer spendable but still counted as owed
    (the liability's ``due`` line) until ``loyalty expire`` moves them.
    """

    today = chart.local_date(utc(as_of))
    offending: list[str] = []
    overdue = 0
    for address, balance, values in _holding_points(chart, bucket_accounts, "customer_points"):
        expiry = expiry_of(values["expiry"])
        if not is_spendable(expiry, today):
            offending.append(f"{address}: {balance} points, expired on {expiry.isoformat() if expiry else '?'}")
            overdue += balance
    return Check(
        name="overdue_expiry",
        status="fail" if offending else "pass",
        detail=f"{overdue} points in {len(offending)} bucket(s) past their expiry date on {today}, not swept (run `loyalty expire`)",
        offending=tuple(offending),
    )


def _metadata_problems(tx: PostedTransaction) -> str | None:
    meta = tx.metadata
    operation = meta.get("operation")
    if not operation:
        return f"#{tx.id}: no operation metadata (a posting made outside the operations)"
    info = OPERATIONS.get(operation)
    if info is None:
        return f"#{tx.id}: unknown operation {operation!r}"
    missing = sorted(key for key in RESERVED_METADATA | info.writes.required if not meta.get(key))
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


def read_reconciliation(
    ledger: LedgerPort,
    chart: Chart,
    as_of: datetime | None,
    *,
    clock: Clock,
    rules: Rules | None = None,
    clock_skew: timedelta = CLOCK_SKEW,
    full_log_check: bool = False,
    personal_data: PersonalDataPort | None = None,
) -> Reconciliation:
    """Every reconciliation check as of ``as_of`` (default: now).

    ``personal_data`` is the member registry's screen (None: the personal-data check uses patterns only).

    The limits are ``rules``' (None: not verified); ``clock_skew`` is how far
    after its insertion a transaction may be dated (the executor's).
    ``full_log_check`` verifies every log rather than those after the
    checkpoint (:func:`~loyalty_accounts.reports.log_chain.read_log_chain`,
    which also writes the checkpoint after a pass).
    """

    pit = instant_or_now(as_of, clock)
    # Recorded by the as-of instant but dated after it: what future_dated is about. When nothing at
    # all is dated after it, the current state is the state at pit, and cheaper to list.
    later = list(ledger.transactions(start=pit + ONE_MICROSECOND))
    customers = list(ledger.accounts(chart.customer_filter(), pit=pit if later else None))
    if not later and not nothing_dated_after(ledger, pit):  # a later-dated one was posted meanwhile
        customers = list(ledger.accounts(chart.customer_filter(), pit=pit))
    holds_kind = [a for a in customers if kind_of(chart, a.address) == "customer_hold"]
    pending_kind = [a for a in customers if kind_of(chart, a.address) == "customer_pending"]
    bucket_kind = [a for a in customers if kind_of(chart, a.address) == "customer_points"]
    transactions = list(ledger.transactions(pit=pit))
    hold_txs = [tx for tx in transactions if tx.metadata.get("operation") == "hold" or is_review_hold(tx)]
    totals = ledger.aggregate_balances("", pit=pit)
    roots = ledger.volumes(None, end=pit, group_by=1) if any(totals.values()) else []
    ranges = balance_ranges(transactions)
    mark = ledger.aggregate_balances(chart.period_closed(), pit=pit)
    ahead = [tx for tx in later if tx.inserted_at and tx.inserted_at <= pit]
    checks = (
        check_trial_balance(totals, roots),
        check_roll_forward(read_roll_forward(ledger, chart, None, pit, clock=clock)),
        check_negative_balances(chart=chart, accounts=customers),
        check_expired_holds(as_of=pit, chart=chart, holds=hold_txs, hold_accounts=holds_kind),
        check_overdue_pending(as_of=pit, chart=chart, pending_accounts=pending_kind),
        check_overdue_expiry(as_of=pit, chart=chart, bucket_accounts=bucket_kind),
        check_transaction_metadata(transactions),
        read_log_chain(ledger, until=None if as_of is None else pit, full=full_log_check),
        check_never_negative(chart=chart, ranges=ranges, transactions=len(transactions), accounts=customers),
        check_clawback_never_positive(chart=chart, ranges=ranges),
        check_liability_ties(liability_of(ledger, chart, pit, customers)),
        check_engagement_limits(rules, transactions),
        check_campaign_caps(rules, transactions, chart),
        check_order_refunds(transactions),
        check_refunds_after_orders(transactions),
        check_closed_periods(transactions, mark.get(chart.control_asset, 0)),
        check_future_dated([*transactions, *ahead], clock_skew),
        check_personal_data(transactions, personal_data),
    )
    return Reconciliation(as_of=pit, checks=checks)
