"""The benchmark script (scripts/bench_reports.py): its seeding on the in-memory ledger, its failure when the ledger is down."""

from __future__ import annotations

import importlib.util
import random
import sys
from typing import Any

import pytest
from support.fake_ledger import FakeLedger
from support.finance_books import at
from support.report_books import ROOT

from loyalty_accounts.chart import Chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.reports import FinanceReports


def bench_script() -> Any:
    spec = importlib.util.spec_from_file_location("bench_reports", ROOT / "scripts" / "bench_reports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module


def test_bench_seeds_a_history_every_report_accepts(chart: Chart, catalogue: Catalogue) -> None:
    bench = bench_script()
    ledger = FakeLedger()
    now = at("2026-05-01T12:00:00")
    seeded = bench.seed(ledger, chart, catalogue, customers=5, transactions=40, rng=random.Random(7), now=now)
    assert seeded.counts["earn"] == 22 and seeded.counts["release"] > 0 and seeded.counts["expire"] > 0
    assert seeded.total == len(ledger.txs)
    service = FinanceReports(ledger, chart, clock=lambda: now)
    result = service.reconcile(now)
    assert [c.name for c in result.checks if c.status == "fail"] == []
    assert service.liability(now).ties
    assert service.breakage(None, now).rate is not None  # cohorts 540 days back have closed
    timings = bench.run_reports(service, now, seeded.customers[0])
    assert [name for name, _, _ in timings][0] == "liability (now)" and len(timings) == 7


def test_bench_fails_clearly_when_the_ledger_is_unreachable(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    bench = bench_script()
    assert bench.main(["--ledger-url", "http://127.0.0.1:9", "--attempts", "1", "--ledger", "bench-x"]) == 3
    assert "unreachable, nothing was written" in capsys.readouterr().err
    monkeypatch.delenv("LOYALTY_LEDGER_URL", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        bench.main([])
    assert exit_info.value.code == 2
