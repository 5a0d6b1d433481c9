"""Reading a rules file: from a path or text to validated :class:`~.model.Rules`, checked against the chart.

Every problem is a :class:`~loyalty_accounts.errors.ChartError` (exit 2)
naming the file, the field path and its line, as
:mod:`loyalty_accounts.chart` does: pydantic's for a field's type or bounds,
:class:`~.model.RuleProblem` for a rule across fields (a campaign edge
written as a time without an offset included), and the chart's for a
programme or currency it does not share.
"""

from __future__ import annotations

import re

from pathlib import Path

import yaml
from pydantic import ValidationError

from ..chart import Chart
from ..errors import ChartError
from ..settings import load_settings
from ..vocabulary.yaml_file import (
    invalid_document,
    read_data_file,
    read_yaml_mapping,
    yaml_location,
)
from ..chart.spec import STOCK_KINDS, STOCK_SEQUENCE_KIND
from ..vocabulary.amounts import asset_precision
from .model import RuleProblem, Rules, decimal_places


def default_rules_path() -> Path:
    """Settings ``rules``: ``$LOYALTY_RULES``, else ``rules.yaml`` at the root of this checkout."""

    return load_settings().rules


def load_rules(path: str | Path | None = None, *, chart: Chart | None = None) -> Rules:
    """Read and validate a rules file (and, given a chart, check it against it); problems raise ChartError."""

    rules_path = Path(path) if path is not None else default_rules_path()
    return parse_rules(read_data_file(rules_path, "the rules file"), source=str(rules_path), chart=chart)


def parse_rules(text: str, *, source: str = "<rules>", chart: Chart | None = None) -> Rules:
    """Validate rules text; every error names ``source``, the field path and its line."""

    data, node = read_yaml_mapping(text, source=source, what="the rules")
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        raise invalid_document("invalid rules", source, node, exc) from None
    except RuleProblem as exc:
        raise ChartError(f"{yaml_location(source, node, exc.path)}: {exc.problem}") from None
    if chart is not None:
        _check_against_chart(rules, chart, source, node)
    return rules


def check_against_chart(rules: Rules, chart: Chart, *, source: str = "rules") -> None:
    """Refuse rules written for another programme, pricing currencies the chart does not accept as it does, or
    capping a campaign whose id cannot name its usage account (the chart's ``campaign`` segment)."""

    _check_against_chart(rules, chart, source, None)


def _check_against_chart(rules: Rules, chart: Chart, source: str, node: yaml.Node | None) -> None:
    name = chart.spec.programme.name
    if rules.programme != name:
        raise ChartError(f"{yaml_location(source, node, ('programme',))}: the chart is for programme {name!r}")
    accepted = chart.policies.currencies
    for code, cur in rules.currencies.items():
        path = ("currencies", code)
        if code not in accepted:
            raise ChartError(f"{yaml_location(source, node, path)}: the chart does not accept {code}")
        if cur.decimals != accepted[code].decimals:
            raise ChartError(
                f"{yaml_location(source, node, (*path, 'decimals'))}: the chart gives {code} {accepted[code].decimals} decimals"
            )
    segment = chart.spec.segments.get("campaign")
    for i, campaign in enumerate(rules.campaigns):
        # A capped campaign's usage is the balance of customers:{c}:campaigns:{id} (operations.earn).
        if campaign.cap_per_customer is not None and segment is not None and not re.fullmatch(segment.pattern, campaign.id):
            raise ChartError(
                f"{yaml_location(source, node, ('campaigns', i, 'id'))}: a campaign with a cap_per_customer keeps its usage "
                f"in an account named by its id, which must match {segment.pattern} (segments.campaign in the chart)"
            )

    _check_catalogue_against_chart(rules, chart, source, node)


def _check_catalogue_against_chart(rules: Rules, chart: Chart, source: str, node: yaml.Node | None) -> None:
    """The catalogue is priced in the chart's money currency, to its decimals; SKUs fit the chart's
    ``reward`` segment; physical rewards need the chart's stock accounts and asset."""

    catalogue = rules.catalogue
    if catalogue is None:
        return
    if catalogue.currency != chart.money_currency:
        raise ChartError(
            f"{yaml_location(source, node, ('catalogue', 'currency'))}: the chart's money asset is {chart.money_asset} "
            f"({chart.money_currency})"
        )
    places = asset_precision(chart.money_asset)
    segment = chart.spec.segments.get("reward")
    for i, reward in enumerate(catalogue.rewards):
        path = ("catalogue", "rewards", i)
        if reward.value is not None and decimal_places(reward.value) > places:
            raise ChartError(f"{yaml_location(source, node, (*path, 'value'))}: {catalogue.currency} takes {places} decimals")
        if not reward.physical:
            continue
        if segment is None or chart.spec.programme.stock_asset is None or not {*STOCK_KINDS, STOCK_SEQUENCE_KIND} <= set(chart.kinds):
            raise ChartError(
                f"{yaml_location(source, node, (*path, 'physical'))}: a physical reward keeps its stock on the ledger: "
                f"the chart needs programme.stock_asset, segments.reward and accounts {', '.join((*STOCK_KINDS, STOCK_SEQUENCE_KIND))}"
            )
        if not re.fullmatch(segment.pattern, reward.sku):
            raise ChartError(
                f"{yaml_location(source, node, (*path, 'sku'))}: a physical reward's SKU names its stock account "
                f"and must match {segment.pattern} (segments.reward in the chart)"
            )
