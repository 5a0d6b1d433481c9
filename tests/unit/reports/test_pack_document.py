"""The pack's files: deterministic inline SVG charts, the HTML page (escaped, no script, no outside address), the CSVs."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from loyalty_accounts.reports.check import Check
from loyalty_accounts.reports.pack import Figure, LogHead, PackHeader, ReportPack, Section, Table, render_pack
from loyalty_accounts.reports.pack.charts import bar_figure, svg_of

UTC = timezone.utc
EVIL = "<script>alert('x')</script>"


def chart(name: str, values: list[float]) -> Figure:
    return bar_figure(
        name, f"{name} title", "a caption", categories=["2026-01", "2026-02", "2026-03"], series=[("up", values), ("more", [1.0, 2.0, 3.0])], unit="USD"
    )


def test_a_chart_is_the_same_svg_every_time_with_no_date_prolog_or_metadata() -> None:
    first, again = chart("liability_by_state", [3.5, -2.0, 1.0]), chart("liability_by_state", [3.5, -2.0, 1.0])
    assert first.svg == again.svg
    assert first.svg.startswith("<svg") and first.svg.rstrip().endswith("</svg>")
    assert "<metadata" not in first.svg and "<?xml" not in first.svg and "DOCTYPE" not in first.svg
    assert "2026-02" in first.svg and "USD" in first.svg  # text stays text (svg.fonttype none)
    assert chart("liability_by_state", [3.5, -2.0, 1.5]).svg != first.svg


def test_every_id_of_a_chart_is_its_own_and_every_reference_resolves() -> None:
    one, two = chart("liability_by_state", [1.0, 2.0, 3.0]), chart("breakage_by_cohort", [1.0, 2.0, 3.0])
    ids_one, ids_two = set(re.findall(r'\bid="([^"]+)"', one.svg)), set(re.findall(r'\bid="([^"]+)"', two.svg))
    assert ids_one and all(i.startswith("liability-by-state-") for i in ids_one)
    assert not ids_one & ids_two
    for svg, ids in ((one.svg, ids_one), (two.svg, ids_two)):
        referenced = set(re.findall(r"url\(#([^)]+)\)", svg)) | set(re.findall(r'href="#([^"]+)"', svg))
        assert referenced and referenced <= ids


def test_the_drawing_edge_takes_floats_only_there() -> None:
    svg = svg_of("plain_chart", lambda axes: axes.plot([0.0, 1.0], [2.0, 3.0]))
    assert svg.count("<svg") == 1 and 'id="plain-chart-' in svg


def make_pack(tables: tuple[Table, ...] | None = None, head_hash: str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=") -> ReportPack:
    head = LogHead(
        log_id=41,
        hash=head_hash,
        date=datetime(2026, 11, 30, 21, 0, tzinfo=UTC),
        type="NEW_TRANSACTION",
        logs=41,
        chain=Check(name="log_chain", status="pass", detail="41 log(s) read"),
    )
    header = PackHeader(
        programme="acme-rewards",
        ledger="books",
        server_version="v2.4.12",
        start=datetime(2025, 10, 31, 23, 59, 59, 999999, tzinfo=UTC),
        as_of=datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC),
        timezone="UTC",
        points_asset="PTS",
        currency="USD",
        point_value="0.01",
        generated_by="loyalty-accounts 9.9.9",
    )
    table = Table(
        name="lines",
        title=f"Lines {EVIL}",
        columns=("when", "label", "points", "value", "ok", "none"),
        rows=((date(2026, 1, 31), EVIL, 1200, Decimal("12.00"), True, None), (date(2026, 2, 28), "b,c", -5, Decimal("-0.05"), False, None)),
        footer=(("total", "", 1195, Decimal("11.95"), None, None),),
    )
    section = Section(
        key="first",
        title=f"First {EVIL}",
        paragraphs=(f"Run `loyalty reconcile --full` {EVIL}",),
        figures=(chart("liability_by_state", [1.0, 2.0, 3.0]),),
        tables=tables if tables is not None else (table,),
    )
    other = Section(key="second", title="Second", figures=(chart("breakage_by_cohort", [3.0, 2.0, 1.0]),))
    return ReportPack(header=header, head=head, sections=(section, other))


def test_the_csv_holds_the_rows_by_the_cli_convention_and_not_the_footer() -> None:
    files = render_pack(make_pack())
    assert list(files) == ["pack.html", "provenance.csv", "lines.csv"]
    assert files["lines.csv"].decode() == (
        "when,label,points,value,ok,none\n"
        "2026-01-31,<script>alert('x')</script>,1200,12.00,true,\n"
        '2026-02-28,"b,c",-5,-0.05,false,\n'
    )
    provenance = dict(csv.reader(io.StringIO(files["provenance.csv"].decode())))
    assert provenance["head_hash"] == "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=" and provenance["head_log_id"] == "41"
    assert provenance["command"] == (
        "loyalty --ledger books report pack --from 2025-10-31T23:59:59.999999+00:00 --as-of 2026-10-31T23:59:59.999999+00:00 --out DIR"
    )


def test_a_head_hash_a_spreadsheet_would_run_is_quoted_in_the_csv_and_plain_on_the_page() -> None:
    # base64 begins with "+" once in 64 logs: the CSV keeps it text, the page shows the hash as the ledger gave it
    files = render_pack(make_pack(head_hash="+wJPiYmMUXO3FvyBitKYUd+8RUVb3n0RiB1VI4F7oF0="))
    provenance = dict(csv.reader(io.StringIO(files["provenance.csv"].decode())))
    assert provenance["head_hash"] == "'+wJPiYmMUXO3FvyBitKYUd+8RUVb3n0RiB1VI4F7oF0="
    assert 'id="head-hash">+wJPiYmMUXO3FvyBitKYUd+8RUVb3n0RiB1VI4F7oF0=<' in files["pack.html"].decode()


def test_the_page_is_escaped_has_no_script_and_reaches_nothing_outside() -> None:
    page = render_pack(make_pack())["pack.html"].decode()
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    assert "<code>loyalty reconcile --full</code>" in page
    addresses = re.findall(r'(?:href|src)\s*=\s*"([^"]*)"', page) + re.findall(r"url\(([^)]*)\)", page)
    assert addresses and all(a.startswith("#") for a in addresses), [a for a in addresses if not a.startswith("#")]
    assert "<link" not in page and "@import" not in page


def test_the_page_shows_the_head_every_chart_table_and_file_hash() -> None:
    files = render_pack(make_pack())
    page = files["pack.html"].decode()
    assert re.search(r'id="head-hash">q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=<', page)
    for name in ("liability_by_state", "breakage_by_cohort"):
        figure = page[page.index(f'<figure id="chart-{name}">'):]
        assert figure[: figure.index("</figure>")].count("<svg") == 1
    assert '<table id="table-lines">' in page and '<td class="num">12.00</td>' in page
    assert "<tfoot>" in page and '<td class="num">1195</td>' in page
    for name in ("provenance.csv", "lines.csv"):
        assert hashlib.sha256(files[name]).hexdigest() in page
    for fact in ("acme-rewards", "books", "v2.4.12", "2026-10-31T23:59:59.999999+00:00", "loyalty-accounts 9.9.9", "Log #41"):
        assert fact in page


def test_the_same_pack_is_the_same_bytes() -> None:
    assert render_pack(make_pack()) == render_pack(make_pack())


def test_two_tables_of_one_name_are_refused() -> None:
    twice = Table(name="lines", title="t", columns=("a",), rows=((1,),))
    with pytest.raises(ValueError, match="tables sharing a name.*lines"):
        render_pack(make_pack((twice, twice)))


def test_a_table_checks_its_name_and_row_widths() -> None:
    with pytest.raises(ValueError, match="not a name"):
        Table(name="Lines.csv", title="t", columns=("a",), rows=())
    with pytest.raises(ValueError, match="a row of 2 values under 1 columns"):
        Table(name="lines", title="t", columns=("a",), rows=((1, 2),))
