"""The chart of accounts: the one place account addresses and programme policy come from.

``chart_of_accounts.yaml`` is loaded, validated (pydantic for shape, then the
cross-field rules below) and turned into a :class:`Chart`. Code never writes an
address by hand: it asks the chart (``chart.bucket("c42", date(2027, 1, 1))``
gives ``customers:c42:points:20270101``), and every variable segment is
checked against its pattern on the way, so only addresses the chart declares
can be built.

The same chart becomes the ledger schema, the body of
``POST /v2/{ledger}/schemas/{version}``: ``{"chart": {...}}``, nested segments
with ``$name`` for a variable segment, its ``.pattern`` and ``.self: {}`` for a
segment that is an account and has children. The schema carries the chart
only, no transaction templates: a schema with templates obliges every
transaction to name one, and the scripts here are rendered with ordered-source
lists whose length varies per call (see :mod:`loyalty_accounts.numscript`), so
they are sent as plain Numscript with their variables. The server checks
every posting's accounts against the chart (strict enforcement); amounts,
assets and "may go negative" are not expressible in a v2.4 schema, and stay
with the Numscript overdraft clauses, which :mod:`loyalty_accounts.operations`
checks against ``may_go_negative`` here.

Rules beyond field types (each reported with the field path and line):

- every address segment is fixed (``[a-zA-Z0-9_-]+``) or ``{name}`` with a
  declared segment; the first segment is fixed;
- a segment pattern is anchored (``^...$``) and uses only syntax Go's RE2 and
  Python agree on (the ledger matches with an unanchored ``regexp.Match``);
- at one level of the address tree there is either one variable segment or
  fixed segments, never both and never two variables (so an address maps to
  one account kind);
- every account kind the operations use is declared; ``world`` is declared;
- assets are valid Formance assets, points (and the qualifying and award
  counters) have no decimals, every role and partner uses an asset of its own.

The chart prices nothing: what an order or an engagement event earns comes
from the rules file (:mod:`loyalty_accounts.rules`). The chart only says in
which currencies orders are accepted and with how many decimals, the facts
the books need to record an amount.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, StringConstraints, ValidationError

from .errors import ChartError, InvalidCommand
from .settings import load_settings
from .types import Address
from .vocabulary.amounts import ASSET_RE, Asset, Rounding, asset_currency, asset_precision
from .vocabulary.frozen import Frozen
from .vocabulary.yaml_file import invalid_document, read_yaml_mapping, yaml_location

ADDRESS_RE = re.compile(r"^[a-zA-Z0-9_-]+(:[a-zA-Z0-9_-]+)*$")
FIXED_SEGMENT_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
NO_EXPIRY = "noexpiry"
# Formance address filters: an empty part matches any one segment, a last part "..." any further segments.
ANY_SEGMENT = ""
ANY_DEPTH = "..."
# The kind whose address roots every account of a customer (see Chart.customer_filter).
CUSTOMER_BUCKET = "customer_points"
DATE_FORMAT = "%Y%m%d"

RefundShortfall = Literal["allow_negative", "claw_back", "write_off"]
AssetRole = Literal["points", "money", "partner", "qualifying", "awards"]

# Account kinds the operations post to; the chart must declare each of them.
REQUIRED_KINDS: tuple[str, ...] = (
    "world",
    "points_issued",
    "customer_pending",
    "customer_points",
    "customer_hold",
    "customer_credit",
    "customer_clawback",
    "customer_qualifying",
    "customer_engagement",
    "customer_engagement_day",
    "points_redeemed",
    "points_expired",
    "points_converted",
    "points_written_off",
    "points_adjustments",
    "credit_issued",
    "exchange_cost",
    "exchange_revenue",
    "partner_exchanged",
    "partner_issued",
    "partner_delivered",
    "partner_received",
    "partner_settlement",
    "tiers_qualifying",
    "engagement_awarded",
)

# Regex syntax Python accepts but RE2 (the ledger's Go regexp) does not.
_NON_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]|\(\?P=|\(\?\(|\\[ZA]\b")


# --------------------------------------------------------------------------
# Dates in addresses


def date_segment(day: date | None) -> str:
    """A date as an address segment: ``YYYYMMDD``, or ``noexpiry`` for None."""

    return NO_EXPIRY if day is None else day.strftime(DATE_FORMAT)


def parse_date_segment(segment: str) -> date | None:
    if segment == NO_EXPIRY:
        return None
    try:
        return datetime.strptime(segment, DATE_FORMAT).date()
    except ValueError:
        raise InvalidCommand(f"{segment!r} is not a YYYYMMDD date") from None


# --------------------------------------------------------------------------
# The file's shape


PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Programme(Frozen):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    points_asset: Asset
    money_asset: Asset
    qualifying_asset: Asset
    awards_asset: Asset
    point_value: PositiveDecimal
    issuance_shards: Annotated[int, Field(ge=1, le=1024)]
    timezone: str = "UTC"


class OrderCurrency(Frozen):
    """A currency orders may be paid in; how many points it earns is the rules file's business."""

    decimals: Annotated[int, Field(ge=0, le=6)]


class ConversionPolicy(Frozen):
    points_per_unit: Annotated[int, Field(ge=1)]


class Policies(Frozen):
    expiry_days: Annotated[int, Field(ge=1)] | None
    pending_days: Annotated[int, Field(ge=0)]
    hold_ttl_minutes: Annotated[int, Field(ge=1)]
    refund_shortfall: RefundShortfall
    currencies: Annotated[dict[Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")], OrderCurrency], Field(min_length=1)]
    conversion: ConversionPolicy
    settlement_rounding: Rounding = "half_even"


class PartnerDirection(Frozen):
    points_per_partner_point: Annotated[int, Field(ge=1)]
    price_per_partner_point: PositiveDecimal


class Partner(Frozen):
    name: Name
    asset: Asset
    outbound: PartnerDirection
    inbound: PartnerDirection


class SegmentSpec(Frozen):
    pattern: Annotated[str, StringConstraints(min_length=2)]
    meaning: Name


class AccountSpec(Frozen):
    address: Annotated[str, StringConstraints(min_length=1)]
    meaning: Name
    assets: Annotated[tuple[AssetRole, ...], Field(min_length=1)]
    may_go_negative: bool


class ChartSpec(Frozen):
    """The validated content of ``chart_of_accounts.yaml``."""

    programme: Programme
    policies: Policies
    partners: dict[str, Partner] = Field(default_factory=dict)
    segments: dict[str, SegmentSpec]
    accounts: dict[str, AccountSpec]


def default_chart_path() -> Path:
    """Settings ``chart``: ``$LOYALTY_CHART``, else ``chart_of_accounts.yaml`` at the root of this checkout."""

    return load_settings().chart


def load_chart(path: str | Path | None = None) -> "Chart":
    """Read and validate a chart file; any problem raises :class:`ChartError`."""

    chart_path = Path(path) if path is not None else default_chart_path()
    try:
        text = chart_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChartError(f"{chart_path}: cannot read the chart of accounts ({exc.strerror})") from None
    return Chart.from_yaml(text, source=str(chart_path))


# --------------------------------------------------------------------------
# Addresses


@dataclass(frozen=True)
class _Segment:
    text: str
    variable: bool


@dataclass(frozen=True)
class AccountKind:
    """One declared account pattern, parsed."""

    name: str
    address: str
    segments: tuple[_Segment, ...]
    meaning: str
    assets: tuple[AssetRole, ...]
    may_go_negative: bool

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(s.text for s in self.segments if s.variable)


@dataclass(frozen=True)
class ParsedAddress:
    kind: str
    values: Mapping[str, str]


class Chart:
    """The validated chart: policy values, address builders and the ledger schema.

    Immutable once built; construct it with :func:`load_chart` or
    :meth:`Chart.from_yaml`.
    """

    __slots__ = ("spec", "source", "kinds", "_patterns", "_tree", "_tz")

    spec: ChartSpec
    source: str
    kinds: Mapping[str, AccountKind]

    def __init__(self, spec: ChartSpec, *, source: str = "<chart>", node: yaml.Node | None = None) -> None:
        self.spec = spec
        self.source = source
        self._tz = self._check_programme(node)
        self._patterns = self._check_segments(node)
        self.kinds = MappingProxyType(self._parse_accounts(node))
        self._tree = self._build_tree(node)
        self._check_partners(node)

    # -- construction -----------------------------------------------------

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<chart>") -> "Chart":
        data, node = read_yaml_mapping(text, source=source, what="the chart")
        try:
            spec = ChartSpec.model_validate(data)
        except ValidationError as exc:
            raise invalid_document("invalid chart of accounts", source, node, exc) from None
        return cls(spec, source=source, node=node)

    def _fail(self, node: yaml.Node | None, path: Sequence[str | int], message: str) -> ChartError:
        return ChartError(f"{yaml_location(self.source, node, path)}: {message}")

    def _check_programme(self, node: yaml.Node | None) -> ZoneInfo:
        prog = self.spec.programme
        fields = ("points_asset", "money_asset", "qualifying_asset", "awards_asset")
        seen: dict[str, str] = {}
        for field in fields:
            asset = getattr(prog, field)
            if not ASSET_RE.match(asset):
                raise self._fail(node, ("programme", field), f"{asset!r} is not a Formance asset")
            if field != "money_asset" and "/" in asset and asset_precision(asset) != 0:
                raise self._fail(node, ("programme", field), "counted in whole units: the asset takes no decimals")
            if asset in seen:
                raise self._fail(node, ("programme", field), f"{asset!r} is already the {seen[asset]}: each role needs its own asset")
            seen[asset] = field
        try:
            return ZoneInfo(prog.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self._fail(node, ("programme", "timezone"), f"unknown time zone {prog.timezone!r}") from None

    def _check_segments(self, node: yaml.Node | None) -> dict[str, re.Pattern[str]]:
        patterns: dict[str, re.Pattern[str]] = {}
        for name, seg in self.spec.segments.items():
            path = ("segments", name, "pattern")
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise self._fail(node, ("segments", name), "segment names are lower-case identifiers")
            if not (seg.pattern.startswith("^") and seg.pattern.endswith("$")):
                raise self._fail(node, path, "the pattern must be anchored with ^ and $ (the ledger matches anywhere)")
            if _NON_RE2.search(seg.pattern):
                raise self._fail(node, path, "lookarounds, backreferences and \\A/\\Z are not supported by the ledger's RE2")
            try:
                patterns[name] = re.compile(seg.pattern)
            except re.error as exc:
                raise self._fail(node, path, f"invalid regular expression: {exc}") from None
        probes = {"release": "20270101", "expiry": "20270101", "day": "20270101"}
        for name, probe in probes.items():
            if name in patterns and not patterns[name].fullmatch(probe):
                raise self._fail(node, ("segments", name, "pattern"), f"must accept YYYYMMDD dates such as {probe}")
        if "expiry" in patterns and not patterns["expiry"].fullmatch(NO_EXPIRY):
            raise self._fail(node, ("segments", "expiry", "pattern"), f"must accept {NO_EXPIRY!r}")
        if "shard" in patterns:
            last = str(self.spec.programme.issuance_shards - 1)
            if not patterns["shard"].fullmatch(last):
                raise self._fail(node, ("segments", "shard", "pattern"), f"must accept shard numbers up to {last}")
        return patterns

    def _parse_accounts(self, node: yaml.Node | None) -> dict[str, AccountKind]:
        kinds: dict[str, AccountKind] = {}
        seen_addresses: dict[str, str] = {}
        for name, spec in self.spec.accounts.items():
            path = ("accounts", name, "address")
            segments: list[_Segment] = []
            for i, raw in enumerate(spec.address.split(":")):
                var = re.fullmatch(r"\{([a-z][a-z0-9_]*)\}", raw)
                if var:
                    label = var.group(1)
                    if i == 0:
                        raise self._fail(node, path, "the first segment of an address must be fixed")
                    if label not in self._patterns:
                        raise self._fail(node, path, f"segment {{{label}}} is not declared under segments")
                    if any(s.variable and s.text == label for s in segments):
                        raise self._fail(node, path, f"segment {{{label}}} appears twice")
                    segments.append(_Segment(label, True))
                elif FIXED_SEGMENT_RE.fullmatch(raw):
                    segments.append(_Segment(raw, False))
                else:
                    raise self._fail(node, path, f"invalid segment {raw!r}: use [a-zA-Z0-9_-] or {{name}}")
            shape = ":".join("$" if s.variable else s.text for s in segments)
            if shape in seen_addresses:
                raise self._fail(node, path, f"same address pattern as accounts.{seen_addresses[shape]}")
            seen_addresses[shape] = name
            kinds[name] = AccountKind(
                name=name,
                address=spec.address,
                segments=tuple(segments),
                meaning=spec.meaning,
                assets=spec.assets,
                may_go_negative=spec.may_go_negative,
            )
        for required in REQUIRED_KINDS:
            if required not in kinds:
                raise self._fail(node, ("accounts",), f"missing account kind {required!r} (the operations post to it)")
        world = kinds["world"]
        if world.address != "world":
            raise self._fail(node, ("accounts", "world", "address"), "the world account's address is 'world'")
        return kinds

    def _build_tree(self, node: yaml.Node | None) -> dict[str, Any]:
        """The address tree: ``{"fixed": {...}, "var": (label, subtree) | None, "kind": name | None}``."""

        def new() -> dict[str, Any]:
            return {"fixed": {}, "var": None, "kind": None}

        root = new()
        for kind in self.kinds.values():
            here = root
            for depth, seg in enumerate(kind.segments):
                prefix = ":".join(s.text if not s.variable else "{" + s.text + "}" for s in kind.segments[:depth]) or "(root)"
                if seg.variable:
                    if here["fixed"]:
                        raise self._fail(
                            node, ("accounts", kind.name, "address"),
                            f"{prefix} has fixed segments {sorted(here['fixed'])} and a variable one: the address would be ambiguous",
                        )
                    if here["var"] is None:
                        here["var"] = (seg.text, new())
                    elif here["var"][0] != seg.text:
                        raise self._fail(
                            node, ("accounts", kind.name, "address"),
                            f"{prefix} already has the variable segment {{{here['var'][0]}}}; one per level",
                        )
                    here = here["var"][1]
                else:
                    if here["var"] is not None:
                        raise self._fail(
                            node, ("accounts", kind.name, "address"),
                            f"{prefix} has the variable segment {{{here['var'][0]}}} and a fixed one: the address would be ambiguous",
                        )
                    here = here["fixed"].setdefault(seg.text, new())
            here["kind"] = kind.name
        return root

    def _check_partners(self, node: yaml.Node | None) -> None:
        prog = self.spec.programme
        seen_assets: dict[str, str] = {}
        for key, partner in self.spec.partners.items():
            if "partner" in self._patterns and not self._patterns["partner"].fullmatch(key):
                raise self._fail(node, ("partners", key), "partner key does not match segments.partner.pattern")
            if not ASSET_RE.match(partner.asset):
                raise self._fail(node, ("partners", key, "asset"), f"{partner.asset!r} is not a Formance asset")
            if partner.asset in (prog.points_asset, prog.money_asset, prog.qualifying_asset, prog.awards_asset):
                raise self._fail(node, ("partners", key, "asset"), "a partner's points need an asset of their own")
            if partner.asset in seen_assets:
                raise self._fail(node, ("partners", key, "asset"), f"asset already used by partner {seen_assets[partner.asset]!r}")
            if asset_precision(partner.asset) != 0:
                raise self._fail(node, ("partners", key, "asset"), "partner points are whole: the asset takes no decimals")
            seen_assets[partner.asset] = key

    # -- programme and policy ---------------------------------------------

    @property
    def points_asset(self) -> Asset:
        return self.spec.programme.points_asset

    @property
    def money_asset(self) -> Asset:
        return self.spec.programme.money_asset

    @property
    def qualifying_asset(self) -> Asset:
        """The memo asset counting points earned from orders, for tiers (never spendable)."""

        return self.spec.programme.qualifying_asset

    @property
    def awards_asset(self) -> Asset:
        """The memo asset counting engagement awards, so the ledger can enforce their limits."""

        return self.spec.programme.awards_asset

    @property
    def money_currency(self) -> str:
        return asset_currency(self.money_asset)

    @property
    def point_value(self) -> Decimal:
        return self.spec.programme.point_value

    @property
    def policies(self) -> Policies:
        return self.spec.policies

    @property
    def timezone(self) -> ZoneInfo:
        return self._tz

    def partner(self, key: str) -> Partner:
        """A declared partner; an unknown key is a bad command."""

        try:
            return self.spec.partners[key]
        except KeyError:
            known = ", ".join(sorted(self.spec.partners)) or "none"
            raise InvalidCommand(f"unknown partner {key!r} (declared: {known})") from None

    def order_currency(self, currency: str) -> OrderCurrency:
        """A currency orders are accepted in; any other is a bad command."""

        try:
            return self.spec.policies.currencies[currency]
        except KeyError:
            known = ", ".join(sorted(self.spec.policies.currencies))
            raise InvalidCommand(f"currency {currency!r} is not accepted (accepted: {known})") from None

    def local_date(self, instant: datetime) -> date:
        """The programme-calendar date of an instant (the date bucket names use)."""

        if instant.tzinfo is None or instant.utcoffset() is None:
            raise InvalidCommand(f"instant {instant.isoformat()} has no time zone")
        return instant.astimezone(self._tz).date()

    def expiry_for(self, day: date) -> date | None:
        """Expiry date of points earned on ``day``: the first date they are no longer spendable."""

        days = self.spec.policies.expiry_days
        return None if days is None else day + timedelta(days=days)

    def release_for(self, day: date) -> date | None:
        """Date points earned on ``day`` become spendable, or None without a chargeback window."""

        days = self.spec.policies.pending_days
        return None if days == 0 else day + timedelta(days=days)

    @property
    def hold_ttl(self) -> timedelta:
        return timedelta(minutes=self.spec.policies.hold_ttl_minutes)

    # -- addresses --------------------------------------------------------

    def address(self, kind: str, **values: str) -> Address:
        """Build an address of a declared kind, checking each variable segment."""

        spec = self._kind(kind)
        missing = set(spec.variables) - set(values)
        extra = set(values) - set(spec.variables)
        if missing or extra:
            raise ChartError(
                f"accounts.{kind} ({spec.address}) takes {list(spec.variables)}; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        parts = [self._segment_value(kind, seg.text, values[seg.text]) if seg.variable else seg.text for seg in spec.segments]
        return ":".join(parts)

    def parse(self, address: Address) -> ParsedAddress | None:
        """The account kind and segment values of an address, or None if the chart has no such account."""

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
        return ParsedAddress(kind=here["kind"], values=values)

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

    def bucket(self, customer: str, expiry: date | None) -> Address:
        return self.address("customer_points", customer=customer, expiry=date_segment(expiry))

    def pending(self, customer: str, release: date, expiry: date | None) -> Address:
        return self.address(
            "customer_pending", customer=customer, release=date_segment(release), expiry=date_segment(expiry)
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

    def engagement_awarded(self, event: str) -> Address:
        return self.address("engagement_awarded", event=event)

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

    def parse_bucket(self, address: Address) -> tuple[str, date | None]:
        """(customer, expiry) of a spendable-bucket address."""

        parsed = self.parse(address)
        if parsed is None or parsed.kind != "customer_points":
            raise InvalidCommand(f"{address!r} is not a points bucket")
        return parsed.values["customer"], parse_date_segment(parsed.values["expiry"])

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

    # -- the ledger schema ------------------------------------------------

    def to_formance_schema(self) -> dict[str, Any]:
        """Body of ``POST /v2/{ledger}/schemas/{version}``: the chart only, no templates."""

        def render(here: dict[str, Any], label: str | None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name in sorted(here["fixed"]):
                out[name] = render(here["fixed"][name], None)
            if here["var"] is not None:
                var_label, sub = here["var"]
                out["$" + var_label] = render(sub, var_label)
            if label is not None:
                out[".pattern"] = self.spec.segments[label].pattern
            if here["kind"] is not None and (here["fixed"] or here["var"] is not None):
                out[".self"] = {}
            return out

        chart = {name: render(sub, None) for name, sub in sorted(self._tree["fixed"].items())}
        return {"chart": chart}

    def schema_version(self) -> str:
        """Short stable id of the schema: the same chart gives the same version."""

        canonical = json.dumps(self.to_formance_schema(), sort_keys=True, separators=(",", ":"))
        return "coa-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
