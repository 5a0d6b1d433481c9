"""The sequential model of the programme a soak run is judged against (pure Python, no ledger).

:class:`Programme` holds what the programme should look like after a sequence
of transactions (a :class:`~.book.Book` of dated postings plus the orders,
holds, awards and campaign usage they made) and says, for one command at this
point, what the INTENDED programme (issue 10) does with it::

    decide(command) -> Post(check) | Nothing(why) | Refuse(kinds, why)

``Post.check(entry)`` lists what is wrong with the transaction the ledger
actually posted for it (empty: it is one the model allows); the judge then
applies it with :meth:`Programme.apply`. ``Refuse.kinds`` are the error kinds
(:data:`ERROR_KINDS`) a refusal may carry.

The intended rules modelled, for an operation dated at T:

- a spend (redeem, hold, convert, exchange out, adjust debit, transfer) takes
  from the customer's buckets spendable on T's programme day, and takes from
  each at most its LOWEST balance at any instant from T on, so no bucket is
  negative at any instant; the split between buckets is the implementation's
  (checked: the right customer's spendable buckets, the right total);
- an earn is priced with the tier of the qualifying points inside the
  window as of T and the campaign usage of every earn already posted
  (caps are budgets over the campaign's life) and credits each capped
  campaign's charge to the customer's usage account of it; under ``claw_back`` it repays
  exactly ``max(0, -highest clawback balance from T on)`` of debt, so the
  clawback account is never positive at any instant;
- engagement awards: at most ``per_customer`` ever and ``per_day`` per
  programme day of the award;
- capture: not after a void, not at or after the hold lapsed, not more than
  held; the rest goes back latest expiry first; void: not after a capture;
- refund: not of an unknown order, not dated before the order, never more
  in total than the order; reverses floor(earned x refunded_total / amount)
  minus what was reversed before (the total as the refund recorded it, which
  also counts refunds too small to post; see ``small``);
- release and expire: only accounts due on their day, at most what they hold;
- nothing dated more than ``skew`` after the moment it is judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Mapping

from ..chart import BONUS, Chart, parse_expiry_segment
from ..operations import (
    AdjustCommand,
    CaptureCommand,
    Command,
    ConvertCommand,
    EarnCommand,
    EngageCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
    VoidCommand,
)
from ..rules import EarnBreakdown, Order, Rules, quote, tier_for
from ..rules.tiers import qualification_window
from .book import Book, Entry, net_of
from .decisions import Decision, Hold, Nothing, Order_, Post, Refuse, compare, reverse

__all__ = ["Programme", "Post", "Nothing", "Refuse", "Decision", "ERROR_KINDS", "SPENDS"]

ERROR_KINDS = ("funds", "limit", "unknown", "refused", "invalid", "duplicate")
"""funds: InsufficientPoints; limit: EngagementLimitReached; unknown: UnknownEntity; refused: OperationRefused;
invalid: InvalidCommand; duplicate: DuplicateOperation."""
SPENDS = (RedeemCommand, HoldCommand, ConvertCommand, ExchangeOutCommand, TransferCommand)
_TICK = timedelta(microseconds=1)


@dataclass
class Programme:
    """The programme after the transactions applied so far (see the module docstring)."""

    chart: Chart
    rules: Rules
    skew: timedelta = timedelta(minutes=5)
    book: Book = field(default_factory=Book)
    references: dict[str, str] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    orders: dict[str, Order_] = field(default_factory=dict)
    awards: dict[tuple[str, ...], int] = field(default_factory=dict)
    usage: dict[tuple[str, str], int] = field(default_factory=dict)
    small: dict[str, Decimal] = field(default_factory=dict)
    """Per order, refunds answered as too small to post (they count towards the order's refunded total)."""

    # -- reads ------------------------------------------------------------------

    @property
    def assets(self) -> frozenset[str]:
        """The assets the model judges (the chart's; a control asset added elsewhere is ignored)."""

        c = self.chart
        partners = {p.asset for p in c.spec.partners.values()}
        return frozenset({c.points_asset, c.money_asset, c.qualifying_asset, c.awards_asset, c.campaign_asset, *partners})

    def net(self, entry: Entry) -> dict[tuple[str, str], int]:
        """The entry's net effect on the judged assets."""

        return {k: v for k, v in net_of(entry.legs).items() if k[1] in self.assets}

    def buckets(self, customer: str) -> dict[tuple[date | None, str], str]:
        """The customer's bucket accounts that ever held points, by expiry and kind of point."""

        out: dict[tuple[date | None, str], str] = {}
        for account in self.book.accounts(self.chart.points_asset):
            parsed = self.chart.parse(account)
            if parsed is not None and parsed.kind == "customer_points" and parsed.values["customer"] == customer:
                out[self.chart.bucket_of(account)[1:]] = account
        return out

    def spendable(self, customer: str, at: datetime) -> dict[str, int]:
        """Per bucket spendable on ``at``'s day, what a spend at ``at`` can take from it (its lowest balance from then)."""

        day = self.chart.local_date(at)
        return {
            account: max(0, self.book.lowest_from(account, self.chart.points_asset, at))
            for (expiry, _), account in self.buckets(customer).items()
            if expiry is None or day < expiry
        }

    def debt(self, customer: str, at: datetime) -> int:
        """The clawback debt an issue at ``at`` repays: what keeps the account at or below 0 at every instant from then."""

        if self.chart.policies.refund_shortfall != "claw_back":
            return 0
        return max(0, -self.book.highest_from(self.chart.clawback(customer), self.chart.points_asset, at))

    def qualifying(self, customer: str, at: datetime) -> int:
        """Qualifying points inside the tier window at ``at``, counting transactions dated before ``at``."""

        start, end = qualification_window(self.rules, at)
        first: date | None = None
        if start is not None:
            local = start.astimezone(self.chart.timezone)
            first = local.date() + (timedelta(days=1) if local.time() != time(0) else timedelta(0))
        total = 0
        for account in self.book.accounts(self.chart.qualifying_asset):
            parsed = self.chart.parse(account)
            if parsed is None or parsed.kind != "customer_qualifying" or parsed.values["customer"] != customer:
                continue
            day = datetime.strptime(parsed.values["day"], "%Y%m%d").date()
            if first is None or day >= first:
                total += self.book.balance(account, self.chart.qualifying_asset, end - _TICK)
        return total

    # -- deciding -------------------------------------------------------------------

    def decide(self, command: Command, now: datetime) -> Decision:
        """What the intended programme does with ``command`` at this point (its reference not taken yet)."""

        handler = getattr(self, f"_decide_{command.operation}")
        decision: Decision = handler(command)
        at = getattr(command, "ordered_at", None) or getattr(command, "at", None)
        if at is not None and at > now + self.skew:
            # Refused as a future date, or for any reason it would be refused anyway.
            also = decision.kinds if isinstance(decision, Refuse) else frozenset()
            return Refuse(frozenset({"refused", "invalid"}) | also, "dated in the future beyond the clock skew")
        return decision

    def _spend(self, command: Command, customer: str, points: int, at: datetime, dest: Mapping[tuple[str, str], int]) -> Decision:
        room = self.spendable(customer, at)
        if sum(room.values()) < points:
            # A customer the ledger has never seen may be named as such.
            kinds = {"funds"} if self.book.knows(f"customers:{customer}:") else {"funds", "unknown"}
            return Refuse(frozenset(kinds), f"{customer} can spend {sum(room.values())} at {at}, {points} needed")
        pts = self.chart.points_asset

        def check(entry: Entry) -> list[str]:
            net = self.net(entry)
            expected = dict(dest)
            taken = 0
            for (account, asset), amount in net.items():
                if asset == pts and account in room and amount < 0:
                    if -amount > room[account]:
                        return [f"took {-amount} from {account}, which can give {room[account]} at {at}"]
                    expected[(account, asset)] = amount
                    taken -= amount
            if taken != points:
                return [f"took {taken} points from {customer}'s spendable buckets, not {points}"]
            if isinstance(command, TransferCommand):
                for (account, asset), amount in list(expected.items()):
                    if account in room and amount < 0:
                        _, expiry, kind = self.chart.bucket_of(account)
                        received = self.chart.transferred(expiry, kind, self.chart.local_date(command.at))
                        key = (self.chart.bucket(command.to_customer, *received), pts)
                        expected[key] = expected.get(key, 0) - amount
            return compare(net, expected)

        return Post(check)

    def _decide_redeem(self, c: RedeemCommand) -> Decision:
        return self._spend(c, c.customer, c.points, c.at, {(self.chart.redeemed(), self.chart.points_asset): c.points})

    def _decide_hold(self, c: HoldCommand) -> Decision:
        return self._spend(c, c.customer, c.points, c.at, {(self.chart.hold(c.customer, c.hold_id), self.chart.points_asset): c.points})

    def _decide_transfer(self, c: TransferCommand) -> Decision:
        return self._spend(c, c.customer, c.points, c.at, {})

    def _decide_convert(self, c: ConvertCommand) -> Decision:
        ch, money = self.chart, self.chart.money_asset
        if c.points % ch.policies.conversion.points_per_unit:
            return Refuse(frozenset({"invalid"}), "points do not buy a whole number of money units")
        credit = c.points // ch.policies.conversion.points_per_unit * 100
        return self._spend(c, c.customer, c.points, c.at, {
            (ch.converted(), ch.points_asset): c.points,
            (ch.credit_issued(), money): -credit,
            (ch.credit(c.customer), money): credit,
        })

    def _settlement(self, partner_points: int, price: Decimal) -> int:
        return int((Decimal(partner_points) * price * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))

    def _decide_exchange_out(self, c: ExchangeOutCommand) -> Decision:
        ch = self.chart
        partner = ch.partner(c.partner)
        points = c.partner_points * partner.outbound.points_per_partner_point
        cents = self._settlement(c.partner_points, partner.outbound.price_per_partner_point)
        return self._spend(c, c.customer, points, c.at, {
            (ch.partner_account(c.partner, "exchanged"), ch.points_asset): points,
            (ch.partner_account(c.partner, "issued"), partner.asset): -c.partner_points,
            (ch.partner_account(c.partner, "delivered"), partner.asset): c.partner_points,
            (ch.partner_account(c.partner, "settlement"), ch.money_asset): -cents,
            (ch.exchange_cost(), ch.money_asset): cents,
        })

    def _decide_exchange_in(self, c: ExchangeInCommand) -> Decision:
        ch = self.chart
        partner = ch.partner(c.partner)
        points = c.partner_points * partner.inbound.points_per_partner_point
        cents = self._settlement(c.partner_points, partner.inbound.price_per_partner_point)
        expiry = ch.expiry_for(ch.local_date(c.at))
        return _exact({
            (ch.partner_account(c.partner, "issued"), partner.asset): -c.partner_points,
            (ch.partner_account(c.partner, "received"), partner.asset): c.partner_points,
            (ch.issued_shard(c.customer), ch.points_asset): -points,
            (ch.bucket(c.customer, expiry), ch.points_asset): points,
            (ch.exchange_revenue(), ch.money_asset): -cents,
            (ch.partner_account(c.partner, "settlement"), ch.money_asset): cents,
        }, self)

    def _decide_adjust(self, c: AdjustCommand) -> Decision:
        ch, pts = self.chart, self.chart.points_asset
        if c.direction == "debit":
            return self._spend(c, c.customer, c.points, c.at, {(ch.adjustments(), pts): c.points})
        day = ch.local_date(c.at)
        expiry = c.expires_on if c.expires_on is not None else ch.expiry_for(day)
        if expiry is not None and expiry <= day:
            return Refuse(frozenset({"invalid"}), "credit born expired")
        return _exact({(ch.adjustments(), pts): -c.points, (ch.bucket(c.customer, expiry), pts): c.points}, self)

    def _issue(
        self, customer: str, points: int, at: datetime, destination: str, bonus: int = 0, bonus_destination: str = ""
    ) -> dict[tuple[str, str], int]:
        """Issue ``points``: a debt first, then the ``bonus`` part (what the debt left of it) to its own account."""

        ch, pts = self.chart, self.chart.points_asset
        repaid = min(points, self.debt(customer, at))
        bonus_kept = max(0, bonus - repaid)
        out = {(ch.issued_shard(customer), pts): -points, (destination, pts): points - repaid - bonus_kept}
        if bonus_kept:
            out[(bonus_destination, pts)] = bonus_kept
        if repaid:
            out[(ch.clawback(customer), pts)] = repaid
        return out

    def _decide_earn(self, c: EarnCommand) -> Decision:
        ch, rules = self.chart, self.rules
        category, channel = rules.order_fields(c.category, c.channel)
        order = Order(customer=c.customer, order_id=c.order_id, amount=c.amount.amount, currency=c.amount.currency,
                      category=category, channel=channel, ordered_at=c.ordered_at)
        # A history with negative qualifying points (a refund before its order) is reported as such;
        # the order is still priced, at the lowest tier.
        tier = tier_for(rules, max(0, self.qualifying(c.customer, c.ordered_at))).tier
        capped = {k.id for k in rules.campaigns_at(c.ordered_at) if k.cap_per_customer is not None and k.applies_to(order)}
        usage = {k: v for (who, k), v in self.usage.items() if who == c.customer and k in capped}
        breakdown = quote(rules, order, tier=tier, campaign_usage=usage)
        if breakdown.points <= 0:
            return Nothing("the order earns no points")
        points, day = breakdown.points, ch.local_date(c.ordered_at)
        expiry, release = ch.expiry_for(day), ch.release_for(day)
        destination = ch.pending(c.customer, release, expiry) if release else ch.bucket(c.customer, expiry)
        bonus = breakdown.bonus_points if BONUS in ch.point_kinds else 0
        bonus_expiry = ch.expiry_for(day, BONUS)
        bonus_destination = (
            ch.pending(c.customer, release, bonus_expiry, BONUS) if release else ch.bucket(c.customer, bonus_expiry, BONUS)
        )
        expected = self._issue(c.customer, points, c.ordered_at, destination, bonus, bonus_destination)
        expected[(ch.tiers_qualifying(), ch.qualifying_asset)] = -points
        expected[(ch.qualifying(c.customer, day), ch.qualifying_asset)] = points
        # Each capped campaign's charge is added to the customer's usage of it, in the same transaction.
        for campaign, charged in breakdown.campaign_charges().items():
            if campaign in capped and charged > 0:
                expected[(ch.campaign_charged(campaign), ch.campaign_asset)] = -charged
                expected[(ch.campaign_usage(c.customer, campaign), ch.campaign_asset)] = charged

        return _exact(expected, self)

    def _decide_engage(self, c: EngageCommand) -> Decision:
        ch = self.chart
        rule = self.rules.engagement.get(c.event)
        if rule is None:
            return Refuse(frozenset({"invalid"}), f"no event {c.event}")
        day = ch.local_date(c.at)
        ever, today = (c.customer, c.event), (c.customer, c.event, day.isoformat())
        if rule.per_customer is not None and self.awards.get(ever, 0) >= rule.per_customer:
            return Refuse(frozenset({"limit"}), f"{c.event} already awarded {rule.per_customer} time(s)")
        if rule.per_day is not None and self.awards.get(today, 0) >= rule.per_day:
            return Refuse(frozenset({"limit"}), f"{c.event} already awarded {rule.per_day} time(s) on {day}")
        expected = self._issue(c.customer, rule.points, c.at, ch.bucket(c.customer, ch.expiry_for(day, BONUS), BONUS))
        counters = [ch.engagement_counter(c.customer, c.event)] if rule.per_customer is not None else []
        if rule.per_day is not None:
            counters.append(ch.engagement_counter(c.customer, c.event, day))
        for counter in counters:
            expected[(counter, ch.awards_asset)] = -1
        if counters:
            expected[(ch.engagement_awarded(c.event), ch.awards_asset)] = len(counters)

        return _exact(expected, self)

    def _decide_capture(self, c: CaptureCommand) -> Decision:
        ch, pts = self.chart, self.chart.points_asset
        hold = self._hold(c)
        if isinstance(hold, Refuse):
            return hold
        if hold.voided:
            return Refuse(frozenset({"refused"}), "hold voided")
        if c.at >= hold.at + ch.hold_ttl:
            return Refuse(frozenset({"refused"}), "hold lapsed")
        held = sum(hold.taken.values())
        if c.points > held:
            return Refuse(frozenset({"invalid"}), f"capture {c.points} of {held} held")
        expected = {(ch.hold(c.customer, c.hold_id), pts): -held, (ch.redeemed(), pts): c.points}
        left = held - c.points
        rank = {"transferred": 0, "bonus": 1, "base": 2}
        for expiry, kind in sorted(hold.taken, key=lambda e: (e[0] is None, e[0] or date.max, rank[e[1]]), reverse=True):
            back = min(left, hold.taken[expiry, kind])
            if back:
                key = (ch.bucket(c.customer, expiry, kind), pts)
                expected[key] = expected.get(key, 0) + back
                left -= back

        return _exact(expected, self)

    def _hold(self, c: CaptureCommand | VoidCommand) -> Hold | Refuse:
        hold = self.holds.get(c.hold_id)
        if hold is None:
            return Refuse(frozenset({"unknown"}), f"no hold {c.hold_id}")
        if hold.customer != c.customer:
            return Refuse(frozenset({"invalid"}), "another customer's hold")
        return hold

    def _decide_void(self, c: VoidCommand) -> Decision:
        hold = self._hold(c)
        if isinstance(hold, Refuse):
            return hold
        if hold.captured:
            return Refuse(frozenset({"refused"}), "hold captured")
        if hold.voided:
            return Nothing("already voided")
        return _exact({key: -value for key, value in self.net(hold.entry).items()}, self)

    def _decide_refund(self, c: RefundCommand) -> Decision:
        ch = self.chart
        order = self.orders.get(c.order_id)
        if order is None:
            return Refuse(frozenset({"unknown"}), f"order {c.order_id} has no earn")
        if order.customer != c.customer or order.currency != c.amount.currency:
            return Refuse(frozenset({"invalid"}), "not this customer's order or currency")
        if c.at < order.ordered_at:
            return Refuse(frozenset({"invalid", "refused"}), "refund dated before its order")
        if order.refunded + c.amount.amount > order.amount:
            return Refuse(frozenset({"refused"}), f"refunds would total more than {order.amount}")
        upper = order.refunded + self.small.get(c.order_id, Decimal(0)) + c.amount.amount
        if reverse(order, min(upper, order.amount)) == 0:
            return Nothing("refund too small to reverse a point")
        customer_accounts = set(self.buckets(c.customer).values()) | {ch.clawback(c.customer)}
        pts, q = ch.points_asset, ch.qualifying_asset

        def check(entry: Entry) -> list[str]:
            total = Decimal(entry.metadata.get("refunded_total", "-1"))
            if not (order.refunded + c.amount.amount <= total <= min(upper, order.amount)):
                return [f"refunded_total {total} is not this refund ({c.amount.amount}) on {order.refunded} refunded before"]
            points = reverse(order, total)
            net = self.net(entry)
            expected = {(ch.issued_shard(c.customer), pts): points, (ch.qualifying(c.customer, order.day), q): -points,
                        (ch.tiers_qualifying(), q): points}
            taken = 0
            for (account, asset), amount in net.items():
                parsed = ch.parse(account)
                pending = parsed is not None and parsed.kind == "customer_pending" and parsed.values["customer"] == c.customer
                if asset == pts and amount < 0 and (account in customer_accounts or pending):
                    expected[(account, asset)] = amount
                    taken -= amount
            problems = [f"took {taken} points for the refund, not {points}"] if taken != points else []
            return problems + compare(net, expected)

        return Post(check, may_be_nothing=reverse(order, order.refunded + c.amount.amount) == 0)

    # -- sweeps -------------------------------------------------------------------

    def check_sweep(self, entry: Entry, operation: str) -> list[str]:
        """What is wrong with one release or expire transaction dated at its as-of instant."""

        ch, pts = self.chart, self.chart.points_asset
        day = ch.local_date(entry.timestamp)
        net = self.net(entry)
        sources = [(a, v) for (a, asset), v in net.items() if v < 0 and asset == pts]
        if not net:
            return []  # the account was emptied by a concurrent sweep between its read and this post: nothing moved
        if len(sources) != 1:
            return [f"{operation} moves from {len(sources)} accounts"]
        account, amount = sources[0]
        parsed = ch.parse(account)
        if operation == "release":
            if parsed is None or parsed.kind != "customer_pending":
                return [f"release from {account}"]
            release = datetime.strptime(parsed.values["release"], "%Y%m%d").date()
            if release > day:
                return [f"released {account} on {day}, before its date"]
            expiry_day, kind = parse_expiry_segment(parsed.values["expiry"])
            destination = ch.bucket(parsed.values["customer"], expiry_day, kind)
        else:
            if parsed is None or parsed.kind != "customer_points":
                return [f"expire from {account}"]
            expiry = ch.bucket_of(account)[1]
            if expiry is None or expiry > day:
                return [f"expired {account} on {day}, before its date"]
            destination = ch.expired()
        if -amount > self.book.balance(account, pts):
            return [f"{operation} took {-amount} from {account}, which holds {self.book.balance(account, pts)}"]
        return compare(net, {(account, pts): amount, (destination, pts): -amount})

    # -- applying ------------------------------------------------------------------

    def _record(self, entry: Entry, command: Command | None) -> None:
        ch, meta, net = self.chart, entry.metadata, self.net(entry)
        if isinstance(command, EarnCommand):
            issued = -net.get((ch.tiers_qualifying(), ch.qualifying_asset), 0)
            day = ch.local_date(command.ordered_at)
            self.orders[command.order_id] = Order_(command.customer, command.amount.amount, command.amount.currency,
                                                   issued, command.ordered_at, day)
            if "r_ver" in meta:
                for campaign, charged in EarnBreakdown.from_metadata(meta).campaign_charges().items():
                    key = (command.customer, campaign)
                    self.usage[key] = self.usage.get(key, 0) + charged
        elif isinstance(command, EngageCommand):
            for key in ((command.customer, command.event), (command.customer, command.event, ch.local_date(command.at).isoformat())):
                self.awards[key] = self.awards.get(key, 0) + 1
        elif isinstance(command, (CaptureCommand, VoidCommand)) and command.hold_id in self.holds:
            hold = self.holds[command.hold_id]
            hold.captured = hold.captured or isinstance(command, CaptureCommand)
            hold.voided = hold.voided or isinstance(command, VoidCommand)
        elif isinstance(command, RefundCommand) and command.order_id in self.orders:
            order = self.orders[command.order_id]
            order.refunded = max(order.refunded, Decimal(meta.get("refunded_total", "0")))
            order.reversed += net.get((ch.issued_shard(command.customer), ch.points_asset), 0)

    def apply(self, entry: Entry, command: Command | None) -> None:
        """Record ``entry`` (already judged) as posted for ``command``.

        What later commands are judged on is what was really posted, right or
        wrong: one wrong transaction must not make the next ones look wrong.
        """

        self._record(entry, command)
        self.book.apply(entry)
        if entry.reference and entry.metadata.get("command_hash"):
            self.references[entry.reference] = entry.metadata["command_hash"]
        if isinstance(command, HoldCommand):
            taken: dict[tuple[date | None, str], int] = {}
            for (account, asset), amount in self.net(entry).items():
                if asset == self.chart.points_asset and amount < 0:
                    key = self.chart.bucket_of(account)[1:]
                    taken[key] = taken.get(key, 0) - amount
            self.holds[command.hold_id] = Hold(command.customer, entry, command.at, taken)


def _exact(expected: Mapping[tuple[str, str], int], programme: Programme) -> Post:
    return Post(lambda entry: compare(programme.net(entry), expected))
