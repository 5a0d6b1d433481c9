"""CSV cells: the one convention, and text a spreadsheet would run kept as text."""

from __future__ import annotations

import io
from decimal import Decimal

from loyalty_accounts.vocabulary.cells import csv_cell, write_csv


def test_text_a_spreadsheet_would_run_is_kept_as_text_and_numbers_stay_numbers() -> None:
    assert [csv_cell(v) for v in ('=HYPERLINK("http://x","y")', "@SUM(A1)", "-cfo", "\tx", "+A1")] == [
        '\'=HYPERLINK("http://x","y")', "'@SUM(A1)", "'-cfo", "'\tx", "'+A1",
    ]
    assert [csv_cell(v) for v in (Decimal("-0.75"), -5, "-16.665", "ok", None, True)] == ["-0.75", "-5", "-16.665", "ok", "", "true"]
    out = io.StringIO()
    write_csv(out, ["name", "amount"], [("=1+1", Decimal("-2.00"))])
    assert out.getvalue() == "name,amount\n'=1+1,-2.00\n"
