"""Fixtures for the rules tests: the test document above every rule, and the repository's own rules file."""

from __future__ import annotations

import pytest
from rulesupport import ROOT, TEXT

from loyalty_accounts.chart import load_chart
from loyalty_accounts.rules.loader import load_rules, parse_rules
from loyalty_accounts.rules.model import Rules


@pytest.fixture(scope="module")
def rules() -> Rules:
    return parse_rules(TEXT, source="t.yaml")


@pytest.fixture(scope="module")
def repo_rules() -> Rules:
    return load_rules(ROOT / "rules.yaml", chart=load_chart(ROOT / "chart_of_accounts.yaml"))
