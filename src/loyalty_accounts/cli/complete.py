"""Shell completion of the names the chart and the rules declare: partners, engagement events, tiers,
categories, channels, currencies.

Each function takes what has been typed so far and returns the matching
names, read from the chart and rules files the settings name (environment,
then ``loyalty.toml``; no ledger is contacted). Completion must never fail
the shell: a file that cannot be read completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..chart import Chart, load_chart
from ..rules import Rules, load_rules
from ..settings import load_settings

__all__ = ["categories", "channels", "currencies", "events", "partners", "tiers"]


def _matching(names: Callable[[], Iterable[str]]) -> Callable[[str], list[str]]:
    def complete(incomplete: str) -> list[str]:
        try:
            return sorted(name for name in set(names()) if name.startswith(incomplete))
        except Exception:  # noqa: BLE001 - a broken file completes nothing, it never breaks the shell
            return []

    complete.__doc__ = f"The names {names.__name__} gives that start with what was typed."
    return complete


def _chart() -> Chart:
    return load_chart(load_settings().chart)


def _rules() -> Rules:
    settings = load_settings()
    return load_rules(settings.rules, chart=load_chart(settings.chart))


def _partners() -> Iterable[str]:
    return _chart().spec.partners


def _events() -> Iterable[str]:
    return _rules().engagement


def _tiers() -> Iterable[str]:
    return (tier.name for tier in _rules().tiers.ladder)


def _categories() -> Iterable[str]:
    rules = _rules()
    return [*rules.category_multipliers, *rules.excluded_categories]


def _channels() -> Iterable[str]:
    return _rules().channels


def _currencies() -> Iterable[str]:
    return _rules().currencies


partners = _matching(_partners)
events = _matching(_events)
tiers = _matching(_tiers)
categories = _matching(_categories)
channels = _matching(_channels)
currencies = _matching(_currencies)
