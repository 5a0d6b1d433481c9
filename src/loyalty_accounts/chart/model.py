"""The validated chart of accounts: :class:`Chart`, and :func:`load_chart` to read one."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ValidationError

from ..errors import ChartError, InvalidCommand
from ..settings import load_settings
from ..vocabulary.amounts import ASSET_RE, Asset, asset_currency, asset_precision
from ..vocabulary.yaml_file import (
    invalid_document,
    read_data_file,
    read_yaml_mapping,
    yaml_location,
)
from .addresses import AddressBook
from .general_ledger import check_general_ledger
from .point_kinds import BASE, SPEND_RANK, TRANSFERRED, Period, PointKind, expiry_segment
from .spec import (
    FIXED_SEGMENT_RE,
    NO_EXPIRY,
    NON_RE2,
    POOL_KINDS,
    REQUIRED_KINDS,
    AccountKind,
    ChartSpec,
    OrderCurrency,
    Partner,
    Policies,
    Pool,
    Segment,
)


def default_chart_path() -> Path:
    """Settings ``chart``: ``$LOYALTY_CHART``, else ``chart_of_accounts.yaml`` at the root of this checkout."""

    return load_settings().chart


def load_chart(path: str | Path | None = None) -> "Chart":
    """Read and validate a chart file; any problem raises :class:`ChartError`."""

    chart_path = Path(path) if path is not None else default_chart_path()
    return Chart.from_yaml(read_data_file(chart_path, "the chart of accounts"), source=str(chart_path))


class Chart(AddressBook):
    """The validated chart: policy values, address builders and the ledger schema.

    Immutable once built; construct it with :func:`load_chart` or
    :meth:`Chart.from_yaml`.
    """

    __slots__ = ("spec", "source", "kinds", "_patterns", "_tree", "_tz", "_parsed", "_built")

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
        self._parsed = {}  # declared on AddressBook
        self._built = {}  # declared on AddressBook
        self._check_partners(node)
        self._check_pools(node)
        self._check_stock_asset(node)
        if spec.general_ledger is not None:
            check_general_ledger(
                spec.general_ledger, self.kinds, spec.programme, lambda path, message: self._fail(node, path, message)
            )

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
        fields = ("points_asset", "money_asset", "qualifying_asset", "awards_asset", "control_asset", "campaign_asset")
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
            if NON_RE2.search(seg.pattern):
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
        for kind in self.spec.policies.point_kinds:
            probe = expiry_segment(date(2027, 1, 1), kind)
            if "expiry" in patterns and not patterns["expiry"].fullmatch(probe):
                raise self._fail(
                    node, ("segments", "expiry", "pattern"), f"must accept {probe!r}: policies.point_kinds declares {kind}"
                )
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
            segments: list[Segment] = []
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
                    segments.append(Segment(label, True))
                elif FIXED_SEGMENT_RE.fullmatch(raw):
                    segments.append(Segment(raw, False))
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
            if partner.asset in (
                prog.points_asset, prog.money_asset, prog.qualifying_asset, prog.awards_asset, prog.control_asset, prog.campaign_asset
            ):
                raise self._fail(node, ("partners", key, "asset"), "a partner's points need an asset of their own")
            if partner.asset in seen_assets:
                raise self._fail(node, ("partners", key, "asset"), f"asset already used by partner {seen_assets[partner.asset]!r}")
            if asset_precision(partner.asset) != 0:
                raise self._fail(node, ("partners", key, "asset"), "partner points are whole: the asset takes no decimals")
            seen_assets[partner.asset] = key

    def _check_pools(self, node: yaml.Node | None) -> None:
        for kind in POOL_KINDS if self.spec.pools else ():
            if kind not in self.kinds:
                raise self._fail(node, ("accounts",), f"missing account kind {kind!r} (the pool operations post to it)")
        for key, pool in self.spec.pools.items():
            if "pool" not in self._patterns or not self._patterns["pool"].fullmatch(key):
                raise self._fail(node, ("pools", key), "pool key does not match segments.pool.pattern")
            for member in pool.members:
                if member not in self.spec.partners:
                    raise self._fail(node, ("pools", key, "members", member), f"{member!r} is not a partner declared under partners")
    def _check_stock_asset(self, node: yaml.Node | None) -> None:
        """The stock asset, when declared: a Formance asset of whole units, of its own role."""

        prog = self.spec.programme
        asset = prog.stock_asset
        if asset is None:
            return
        path = ("programme", "stock_asset")
        if not ASSET_RE.match(asset):
            raise self._fail(node, path, f"{asset!r} is not a Formance asset")
        if asset_precision(asset) != 0:
            raise self._fail(node, path, "counted in whole units: the asset takes no decimals")
        others = (prog.points_asset, prog.money_asset, prog.qualifying_asset, prog.awards_asset, prog.control_asset, prog.campaign_asset)
        if asset in others or asset in {p.asset for p in self.spec.partners.values()}:
            raise self._fail(node, path, f"{asset!r} is already used by another role: each role needs its own asset")

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
    def control_asset(self) -> Asset:
        """The memo asset of the ledger-checked controls: customers' operation counts and the closed-period mark."""

        return self.spec.programme.control_asset

    @property
    def campaign_asset(self) -> Asset:
        """The memo asset counting what each capped campaign charged each customer (its usage of the cap)."""

        return self.spec.programme.campaign_asset

    @property
    def stock_asset(self) -> Asset:
        """The asset counting physical rewards' units in stock; ChartError when the chart declares none."""

        asset = self.spec.programme.stock_asset
        if asset is None:
            raise ChartError(f"{self.source}: programme.stock_asset is not declared: the chart keeps no reward stock")
        return asset

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

    def pool(self, key: str) -> Pool:
        """A declared partner pool; an unknown key is a bad command."""

        try:
            return self.spec.pools[key]
        except KeyError:
            known = ", ".join(sorted(self.spec.pools)) or "none"
            raise InvalidCommand(f"unknown pool {key!r} (declared: {known})") from None

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

    def point_kind(self, kind: str) -> PointKind:
        """The kind points of ``kind`` are kept as: itself when the chart declares it, else base (one bucket family)."""

        if kind == BASE or kind in self.spec.policies.point_kinds:
            return kind  # type: ignore[return-value]
        if kind in SPEND_RANK:
            return BASE
        raise ChartError(f"no kind of point {kind!r} (kinds: base, bonus, transferred)")

    def period(self, kind: str = BASE) -> Period:
        """The expiry period of points of ``kind`` (an undeclared kind has base points' period)."""

        kept = self.point_kind(kind)
        if kept == BASE:
            return Period(expiry_days=self.spec.policies.expiry_days)
        return self.spec.policies.point_kinds[kept]

    @property
    def point_kinds(self) -> tuple[PointKind, ...]:
        """The kinds this chart keeps apart: base, then those ``policies.point_kinds`` declares."""

        return (BASE, *self.spec.policies.point_kinds)

    def expiry_for(self, day: date, kind: str = BASE) -> date | None:
        """Expiry date of points of ``kind`` earned on ``day``: the first date they are no longer spendable."""

        return self.period(kind).after(day)

    def earned_on(self, expiry: date, kind: str = BASE) -> date:
        """A day in the earn month of points of ``kind`` expiring on ``expiry`` (its cohort): expiry less the period.

        ChartError when points of ``kind`` never expire under this chart.
        """

        period = self.period(kind)
        if period.never:
            raise ChartError(f"{kind} points never expire under this chart: their buckets carry no earn date")
        return period.before(expiry)

    def transferred(self, own: date | None, kind: PointKind, day: date) -> tuple[date | None, PointKind]:
        """(expiry, kind) of points received by transfer on ``day`` that the sender held as ``kind`` expiring on
        ``own`` (None: never): transferred points expiring on the earlier of ``own`` and ``day`` + the transferred
        period, so a transfer never extends a point's life; without a transferred kind, as the sender held them."""

        if TRANSFERRED not in self.spec.policies.point_kinds:
            return own, kind
        capped = self.expiry_for(day, TRANSFERRED)
        if own is None or capped is None:
            return (capped if own is None else own), TRANSFERRED
        return min(own, capped), TRANSFERRED

    def release_for(self, day: date) -> date | None:
        """Date points earned on ``day`` become spendable, or None without a chargeback window."""

        days = self.spec.policies.pending_days
        return None if days == 0 else day + timedelta(days=days)

    @property
    def hold_ttl(self) -> timedelta:
        return timedelta(minutes=self.spec.policies.hold_ttl_minutes)

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
