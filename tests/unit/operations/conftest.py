"""Fixtures for the operation tests: the repository's chart and templates, and variants of the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.rules import Rules, load_rules

ROOT = Path(__file__).resolve().parents[3]
CHART_PATH = ROOT / "chart_of_accounts.yaml"


@pytest.fixture(scope="session")
def chart() -> Chart:
    return load_chart(CHART_PATH)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return Catalogue(ROOT / "numscript")


@pytest.fixture(scope="session")
def rules(chart: Chart) -> Rules:
    """The repository's rules file: the only place orders and engagement are priced."""

    return load_rules(ROOT / "rules.yaml", chart=chart)


@pytest.fixture
def chart_with() -> Callable[..., Chart]:
    """The repository chart with some policy values replaced: chart_with(pending_days=0)."""

    def make(**policies: Any) -> Chart:
        data = yaml.safe_load(CHART_PATH.read_text())
        data["policies"].update(policies)
        return Chart.from_yaml(yaml.safe_dump(data), source="variant.yaml")

    return make
