from __future__ import annotations

import pytest
from chartsupport import CHART_PATH

from loyalty_accounts.chart import Chart, load_chart


@pytest.fixture(scope="module")
def chart() -> Chart:
    return load_chart(CHART_PATH)
