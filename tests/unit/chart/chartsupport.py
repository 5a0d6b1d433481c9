"""The repository's chart, and variants of it, for the chart tests."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART_PATH = ROOT / "chart_of_accounts.yaml"
TEXT = CHART_PATH.read_text()


def variant(mutate) -> str:
    data = yaml.safe_load(TEXT)
    mutate(data)
    return yaml.safe_dump(data, sort_keys=False)
