"""The benchmark's arithmetic and formatting (scripts/bench.py prints these; no timing here)."""

from __future__ import annotations

import pytest

from loyalty_accounts.testing.bench_figures import (
    HEADERS,
    Row,
    Side,
    format_load,
    format_mib,
    format_rate,
    format_ratio,
    parse_sizes,
    split_rounds,
    table_cells,
    to_json,
)


def test_side_derives_per_operation_figures() -> None:
    side = Side(ops=50, wall_s=2.0, cpu_s=0.1, requests=100)
    assert side.ops_per_s == 25.0
    assert side.cpu_ms_per_op == pytest.approx(2.0)
    assert side.requests_per_op == 2.0
    assert side.seconds_per_op == pytest.approx(0.04)


def test_an_empty_side_has_no_rates() -> None:
    side = Side(ops=0, wall_s=0.0, cpu_s=0.0, requests=0)
    assert side.ops_per_s is None and side.cpu_ms_per_op is None and side.requests_per_op is None


def test_rounds_add_up_and_keep_the_larger_peak() -> None:
    a = Side(ops=10, wall_s=1.0, cpu_s=0.5, requests=20, refused=1, peak_rss_kib=100)
    b = Side(ops=30, wall_s=2.0, cpu_s=0.25, requests=30, refused=2, peak_rss_kib=300)
    total = a.plus(b)
    assert (total.ops, total.wall_s, total.cpu_s, total.requests, total.refused) == (40, 3.0, 0.75, 50, 3)
    assert total.peak_rss_kib == 300
    assert a.plus(Side(ops=1, wall_s=1.0, cpu_s=0.0, requests=1)).peak_rss_kib == 100


def test_ratio_is_project_throughput_over_raw() -> None:
    row = Row(
        scenario="single earn",
        project=Side(ops=90, wall_s=1.0, cpu_s=0.0, requests=90),
        raw=Side(ops=100, wall_s=1.0, cpu_s=0.0, requests=100),
    )
    assert row.ratio == pytest.approx(0.9)
    assert Row(scenario="x", project=row.project).ratio is None


def test_cells_follow_the_headers() -> None:
    row = Row(
        scenario="redeem",
        project=Side(ops=200, wall_s=4.0, cpu_s=0.2, requests=400),
        raw=Side(ops=200, wall_s=2.0, cpu_s=0.02, requests=200, peak_rss_kib=2048),
        load_start=(1.0, 0.5, 0.25),
        load_end=(1.5, 0.5, 0.25),
    )
    cells = dict(zip(HEADERS, table_cells(row)))
    assert cells["ops"] == "200"
    assert cells["project op/s"] == "50.0"
    assert cells["raw op/s"] == "100"
    assert cells["project÷raw"] == "0.50"
    assert cells["req/op project"] == "2.00"
    assert cells["CPU ms/op project"] == "1.00"
    assert cells["CPU ms/op raw"] == "0.10"
    assert cells["peak MiB"] == "2.0"
    assert cells["load start→end"] == "1.00→1.50"


def test_a_skipped_row_says_so_and_fills_the_width() -> None:
    cells = table_cells(Row(scenario="import", skipped="no import_orders yet"))
    assert cells[:2] == ["import", "skipped"] and len(cells) == len(HEADERS)


def test_formats() -> None:
    assert format_rate(None) == "–"
    assert format_rate(7.734) == "7.73"
    assert format_rate(1234.4) == "1,234"
    assert format_ratio(0.954) == "0.95"
    assert format_mib(1536) == "1.5"
    assert format_load(None, (1.0, 1.0, 1.0)) == "–"


def test_json_carries_derived_figures_and_context() -> None:
    row = Row(scenario="s", project=Side(ops=4, wall_s=2.0, cpu_s=0.0, requests=8), raw=Side(ops=4, wall_s=1.0, cpu_s=0.0, requests=4))
    out = to_json([row], server="http://x")
    assert out["server"] == "http://x"
    [scenario] = out["scenarios"]
    assert scenario["ratio"] == pytest.approx(0.5)
    assert scenario["project"]["requests_per_op"] == 2.0 and scenario["raw"]["ops_per_s"] == 4.0


@pytest.mark.parametrize(
    ("total", "rounds", "expected"), [(10, 3, [4, 3, 3]), (8, 4, [2, 2, 2, 2]), (2, 5, [1, 1]), (0, 3, [])]
)
def test_split_rounds(total: int, rounds: int, expected: list[int]) -> None:
    assert split_rounds(total, rounds) == expected
    assert sum(split_rounds(total, rounds)) == total


def test_split_rounds_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        split_rounds(-1, 2)
    with pytest.raises(ValueError):
        split_rounds(5, 0)


def test_parse_sizes() -> None:
    assert parse_sizes("100000, 10_000,10000") == (10_000, 100_000)
    for bad in ("", "10,-3", "1e4", "0"):
        with pytest.raises(ValueError):
            parse_sizes(bad)
