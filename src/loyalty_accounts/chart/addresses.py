"""Addresses and address filters, built only from the declared account kinds.

Code never writes an address or a filter by hand: it asks the chart
(``chart.bucket("c42", date(2027, 1, 1))`` gives ``customers:c42:points:20270101``,
``chart.buckets_filter("c42")`` gives ``customers:c42:points:``), and every
variable segment is checked against its pattern on the way, so only
addresses the chart declares can be built and an empty or malformed id never
becomes a filter that matches everyone (InvalidCommand, exit 2).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping

from ..errors import ChartError, InvalidCommand
from ..types import Address
from .spec import (
    ADDRESS_RE,
    ANY_DEPTH,
    ANY_SEGMENT,
    CUSTOMER_BUCKET,
    AccountKind,
    ChartSpec,
    ParsedAddress,
    date_segment,
)
from .point_kinds import BASE, PointKind, expiry_of, expiry_segment, parse_expiry_segment


PARSED_KEPT = 8192
"""Addresses whose parse a chart keeps, and addresses built it keeps (a few per customer are parsed or built
again and again; the chart never changes, so a kept answer is the answer)."""
_UNKNOWN = object()


class AddressBook:
    """The address half of :class:`~loyalty_accounts.chart.Chart`: builders, parsing and filters."""

    __slots__ = ()

    spec: ChartSpec
    source: str
    kinds: Mapping[str, AccountKind]
    _patterns: Mapping[str, re.Pattern[str]]
    _tree: dict[str, Any]
    _parsed: dict[str, ParsedAddress | None]
    _built: dict[tuple[Any, ...], Address]
    point_kind: Callable[[str], PointKind]

    # -- addresses --------------------------------------------------------

    def address(self, kind: str, **values: str) -> Address:
        """Build an address of a declared kind, checking each variable segment."""

        key: tuple[Any, ...] | None = (kind, *values.items())
        try:
            built = self._built.get(key)
        except TypeError:  # an unhashable value: refused below, never kept
            key, built = None, None
        if built is not None:
            return built
        spec = self._kind(kind)
        if values.keys() != spec.variable_set:
            missing = spec.variable_set - values.keys()
            extra = values.keys() - spec.variable_set
            raise ChartError(
                f"accounts.{kind} ({spec.address}) takes {list(spec.variables)}; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        parts = [self._segment_value(kind, seg.text, values[seg.text]) if seg.variable else seg.text for seg in spec.segments]
        built = ":".join(parts)
        if key is None:
            return built
        if len(self._built) >= PARSED_KEPT:
            self._built.clear()
        self._built[key] = built
        return built

    def parse(self, address: Address) -> ParsedAddress | None:
        """The account kind and segment values of an address, or None if the chart has no such account.

        Answers are kept (the chart never changes; up to :data:`PARSED_KEPT` addresses, then
        forgotten at once): every plan checks each address it posts to.
        """

        known = self._parsed.get(address, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        parsed = self._parse(address)
        if len(self._parsed) >= PARSED_KEPT:
            self._parsed.clear()
        self._parsed[address] = parsed
        return parsed

    def _parse(self, address: Address) -> ParsedAddress | None:
        if not ADDRESS_RE.match(address):
            return None
        here = self._tree
        values: dict[str, str] = {}
        for part in address.split(":"):
            if part in here["fixed"]:
                here = here["fixed"][part]
            elif here["var"] is not None and self._patterns[here["var"][0]].fullmatch(part):
                values[here["var"][0]] = part
                here = here["var"][1]
            else:
                return None
        if here["kind"] is None:
            return None
        return ParsedAddress(kind=here["kind"], values=MappingProxyType(values))

    def customer_of(self, address: Address) -> str | None:
        """The customer an address belongs to (its ``{customer}`` segment), or None for any other account."""

        parsed = self.parse(address)
        return parsed.values.get("customer") if parsed is not None else None

    def kind_of(self, address: Address) -> AccountKind:
        parsed = self.parse(address)
        if parsed is None:
            raise ChartError(f"{address!r} is not an account of the chart ({self.source})")
        return self.kinds[parsed.kind]

    def shard_of(self, customer: str) -> int:
        """Issuance shard of a customer: a stable hash, so a customer always uses the same shard."""

        digest = hashlib.sha256(customer.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.spec.programme.issuance_shards

    def issued_shard(self, customer: str) -> Address:
        return self.address("points_issued", shard=str(self.shard_of(customer)))

    def bucket(self, customer: str, expiry: date | None, kind: str = BASE) -> Address:
        """The spendable bucket of ``customer``'s points of ``kind`` expiring on ``expiry`` (None: never)."""

        return self.address("customer_points", customer=customer, expiry=expiry_segment(expiry, self.point_kind(kind)))

    def pending(self, customer: str, release: date, expiry: date | None, kind: str = BASE) -> Address:
        return self.address(
            "customer_pending",
            customer=customer,
            release=date_segment(release),
            expiry=expiry_segment(expiry, self.point_kind(kind)),
        )

    def hold(self, customer: str, hold_id: str) -> Address:
        return self.address("customer_hold", customer=customer, hold=hold_id)

    def credit(self, customer: str) -> Address:
        return self.address("customer_credit", customer=customer)

    def clawback(self, customer: str) -> Address:
        return self.address("customer_clawback", customer=customer)

    def qualifying(self, customer: str, day: date) -> Address:
        """The customer's qualifying points earned from orders placed on ``day`` (programme calendar)."""

        return self.address("customer_qualifying", customer=customer, day=date_segment(day))

    def tiers_qualifying(self) -> Address:
        return self.address("tiers_qualifying")

    def engagement_counter(self, customer: str, event: str, day: date | None = None) -> Address:
        """Awards of ``event`` to ``customer``: ever, or on one programme ``day``."""

        if day is None:
            return self.address("customer_engagement", customer=customer, event=event)
        return self.address("customer_engagement_day", customer=customer, event=event, day=date_segment(day))

    def campaign_usage(self, customer: str, campaign: str) -> Address:
        """What the capped ``campaign`` charged ``customer`` over its life (campaign asset, positive)."""

        return self.address("customer_campaign", customer=customer, campaign=campaign)

    def campaign_usage_filter(self, customer: str | None) -> str:
        """Every campaign usage account of one customer (``customers:c42:campaigns:``); None: of every customer."""

        return self._customer_kind_filter("customer_campaign", customer)

    def campaign_charged(self, campaign: str) -> Address:
        """Counterpart of ``campaign``'s usage accounts (negative: minus what it charged everyone)."""

        return self.address("campaign_charged", campaign=campaign)

    def engagement_awarded(self, event: str) -> Address:
        return self.address("engagement_awarded", event=event)

    def sequence(self, customer: str) -> Address:
        """The customer's operation counter (negative count), moved by one unit by every guarded transaction."""

        return self.address("customer_sequence", customer=customer)

    def sequence_counterpart(self) -> Address:
        return self.address("control_sequence")

    def horizon(self, customer: str) -> Address:
        """Minus the latest instant (µs since the epoch) a transaction on ``customer`` is dated at."""

        return self.address("customer_horizon", customer=customer)

    def horizon_counterpart(self) -> Address:
        return self.address("control_horizon")

    def period_closed(self) -> Address:
        """Minus the closed-through instant, in microseconds since the epoch (0: nothing closed)."""

        return self.address("period_closed")

    def redeemed(self) -> Address:
        return self.address("points_redeemed")

    def expired(self) -> Address:
        return self.address("points_expired")

    def converted(self) -> Address:
        return self.address("points_converted")

    def written_off(self) -> Address:
        return self.address("points_written_off")

    def adjustments(self) -> Address:
        return self.address("points_adjustments")

    def credit_issued(self) -> Address:
        return self.address("credit_issued")

    def exchange_cost(self) -> Address:
        return self.address("exchange_cost")

    def exchange_revenue(self) -> Address:
        return self.address("exchange_revenue")

    def partner_account(self, partner: str, role: Literal["exchanged", "issued", "delivered", "received", "settlement"]) -> Address:
        self.partner(partner)
        return self.address(f"partner_{role}", partner=partner)

    def pool_account(
        self, pool: str, partner: str, role: Literal["contributed", "funds", "awarded", "redeemed", "paid"]
    ) -> Address:
        """A member partner's account in a declared pool (``pools:travel:partners:skyway:funds``).

        InvalidCommand for an undeclared pool, or a partner that is not one of its members.
        """

        members = self.pool(pool).members
        if partner not in members:
            raise InvalidCommand(f"partner {partner!r} is not a member of pool {pool!r} (members: {', '.join(members)})")
        return self.address(f"pool_{role}", pool=pool, partner=partner)

    def pool_sequence(self, pool: str) -> Address:
        """The pool's operation counter (``pools:travel:sequence``, negative count); InvalidCommand for an undeclared pool."""

        self.pool(pool)
        return self.address("pool_sequence", pool=pool)

    def pool_filter(self, pool: str | None = None) -> str:
        """Every account of one pool, or of every pool (``pools:travel:...``, ``pools:...``)."""

        if pool is None:
            return self.root_filter("pool_funds")
        self.pool(pool)
        parts: list[str] = []
        for seg in self._kind("pool_funds").segments:
            parts.append(self._segment_value("pool_funds", seg.text, pool) if seg.variable else seg.text)
            if seg.variable:
                break
        return ":".join([*parts, ANY_DEPTH])
    def stock(self, reward: str) -> Address:
        """Units of a physical reward in stock (``catalogue:{reward}:stock``, never negative)."""

        return self.address("catalogue_stock", reward=reward)

    def stock_sequence(self, reward: str) -> Address:
        """The count of operations on the reward's stock (``catalogue:{reward}:sequence``, control asset, negative)."""

        return self.address("catalogue_sequence", reward=reward)

    def restocked(self, reward: str) -> Address:
        """Counterpart of the reward's units received (minus every unit ever restocked)."""

        return self.address("catalogue_restocked", reward=reward)

    def delivered(self, reward: str) -> Address:
        """Units of the reward given to members by their redemptions."""

        return self.address("catalogue_delivered", reward=reward)

    def parse_bucket(self, address: Address) -> tuple[str, date | None]:
        """(customer, expiry) of a spendable-bucket address."""

        parsed = self.parse(address)
        if parsed is None or parsed.kind != "customer_points":
            raise InvalidCommand(f"{address!r} is not a points bucket")
        return parsed.values["customer"], expiry_of(parsed.values["expiry"])

    def bucket_of(self, address: Address) -> tuple[str, date | None, PointKind]:
        """(customer, expiry, kind of point) of a spendable-bucket address; InvalidCommand for any other."""

        parsed = self.parse(address)
        if parsed is None or parsed.kind != "customer_points":
            raise InvalidCommand(f"{address!r} is not a points bucket")
        expiry, kind = parse_expiry_segment(parsed.values["expiry"])
        return parsed.values["customer"], expiry, kind  # type: ignore[return-value]

    # -- address filters (issue 9: the chart builds every address, filter and reference) --
    #
    # A Formance address filter (``GET /v2/{ledger}/accounts?address=...``,
    # ``$match: {address: ...}``) has one part per address segment; an empty
    # part matches any one segment and a last part ``...`` any number of
    # further segments. Filters are built here from the declared account kinds,
    # never written by hand: a given segment value is checked against its
    # pattern like any address segment, so an empty or malformed customer id is
    # refused (InvalidCommand) instead of turning into an empty part, which
    # would match every customer.

    def _kind(self, kind: str) -> AccountKind:
        try:
            return self.kinds[kind]
        except KeyError:
            raise ChartError(f"{self.source}: no account kind {kind!r} in the chart") from None

    def _segment_value(self, kind: str, segment: str, value: object) -> str:
        """``value`` if it matches the pattern of ``segment`` (a variable segment of accounts.``kind``), else InvalidCommand."""

        if not isinstance(value, str) or not self._patterns[segment].fullmatch(value):
            raise InvalidCommand(
                f"{segment} {value!r} does not match {self.spec.segments[segment].pattern} (segment of accounts.{kind})"
            )
        return value

    def kind_filter(self, kind: str, **values: str) -> str:
        """The filter matching every account of ``kind``; each segment given in ``values`` is fixed to its value.

        ``kind_filter("customer_points", customer="c42")`` is ``customers:c42:points:``
        (every bucket of c42), ``kind_filter("customer_pending")`` is
        ``customers::pending::`` (every pending account).
        """

        spec = self._kind(kind)
        unexpected = set(values) - set(spec.variables)
        if unexpected:
            raise ChartError(f"accounts.{kind} ({spec.address}) has no segment {sorted(unexpected)}")
        parts = [
            (self._segment_value(kind, seg.text, values[seg.text]) if seg.text in values else ANY_SEGMENT)
            if seg.variable
            else seg.text
            for seg in spec.segments
        ]
        return ":".join(parts)

    def _customer_kind_filter(self, kind: str, customer: str | None) -> str:
        return self.kind_filter(kind) if customer is None else self.kind_filter(kind, customer=customer)

    def buckets_filter(self, customer: str | None = None) -> str:
        """The spendable buckets of one customer, or of every customer (``customers::points:``)."""

        return self._customer_kind_filter(CUSTOMER_BUCKET, customer)

    def pending_filter(self, customer: str | None = None) -> str:
        """The pending accounts of one customer, or of every customer (``customers::pending::``)."""

        return self._customer_kind_filter("customer_pending", customer)

    def qualifying_filter(self, customer: str) -> str:
        """The customer's qualifying accounts, one per order day (``customers:c42:qualifying:``)."""

        return self.kind_filter("customer_qualifying", customer=customer)

    def customer_filter(self, customer: str | None = None) -> str:
        """Every account of one customer, whatever its kind (``customers:c42:...``); None: of every customer
        (``customers:...``).

        Built from the bucket's address up to its ``{customer}`` segment: the
        chart's tree has one variable segment per level, so every account under
        that root is the customer's.
        """

        if customer is None:
            return self.root_filter(CUSTOMER_BUCKET)
        parts: list[str] = []
        for seg in self._kind(CUSTOMER_BUCKET).segments:
            if seg.variable:
                parts.append(self._segment_value(CUSTOMER_BUCKET, seg.text, customer))
                break
            parts.append(seg.text)
        return ":".join([*parts, ANY_DEPTH])

    def root_filter(self, kind: str) -> str:
        """Every account under the root segment of ``kind``'s address (``program:...`` for ``points_issued``)."""

        return ":".join((self._kind(kind).segments[0].text, ANY_DEPTH))

    def programme_filters(self) -> tuple[str, ...]:
        """Filters for every account that is neither a customer's nor ``world``: the programme's and the
        partners' (``program:...``, ``partners:...``), one per root segment in the order the chart declares them."""

        roots: dict[str, str] = {}
        for kind in self.kinds.values():
            roots.setdefault(kind.segments[0].text, kind.name)
        for own in ("world", CUSTOMER_BUCKET):
            roots.pop(self._kind(own).segments[0].text, None)
        return tuple(self.root_filter(kind) for kind in roots.values())

