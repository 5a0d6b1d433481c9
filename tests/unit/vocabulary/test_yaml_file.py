from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_accounts.chart import load_chart
from loyalty_accounts.errors import ChartError
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.rules import load_rules
from loyalty_accounts.vocabulary.yaml_file import read_data_file


def test_a_data_file_that_is_not_utf8_is_one_chart_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"programme:\n  name: \xff\xfe\n")
    with pytest.raises(ChartError, match=r"bad.yaml: the chart of accounts is not UTF-8 text \(byte 19\)"):
        load_chart(bad)
    with pytest.raises(ChartError, match="bad.yaml: the rules file is not UTF-8 text"):
        load_rules(bad)
    (tmp_path / "earn.num").write_bytes(b"send [PTS \xff]")
    with pytest.raises(ChartError, match="earn.num: the template is not UTF-8 text"):
        Catalogue(tmp_path)


def test_a_missing_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ChartError, match="nowhere.yaml: cannot read the thing"):
        read_data_file(tmp_path / "nowhere.yaml", "the thing")
