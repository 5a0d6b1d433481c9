"""The Numscript catalogue: template parsing, the list/splice/#each extension, binding checks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_accounts.errors import ChartError, InvalidCommand
from loyalty_accounts.numscript import (
    Catalogue,
    Template,
    default_template_dir,
    monetary,
    money,
    number,
)
from loyalty_accounts.settings import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]

EXAMPLE = """\
// example: one header line
// and a second one.
vars {
  monetary $points
  account... $buckets
  account $last
  account $dest
  monetary... $amount
  account... $to
}

send $points (
  source = {
    $buckets...
    $last allowing unbounded overdraft
  }
  destination = $dest
)

// a comment between statements
#each $amount $to
send $amount (
  source = $dest
  destination = $to
)
#end
"""


@pytest.fixture(scope="module")
def example() -> Template:
    return Template.parse("example", EXAMPLE)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(ROOT / "numscript")


def test_parse_reads_declarations_description_and_overdrafts(example):
    assert example.var_names == ("points", "buckets", "last", "dest", "amount", "to")
    assert example.list_vars == ("buckets", "amount", "to")
    assert example.overdraft_vars == frozenset({"last"})
    assert example.description == "example: one header line and a second one."


def test_a_bounded_overdraft_counts_as_an_overdraft():
    # build_plan then requires the chart to let that account go negative
    text = "vars {\n  monetary $n\n  monetary $cap\n  account $counter\n  account $to\n}\n" \
           "send $n (\n  source = $counter allowing overdraft up to $cap\n  destination = $to\n)\n"
    assert Template.parse("bounded", text).overdraft_vars == frozenset({"counter"})


def test_render_expands_lists_splices_and_blocks(example):
    assert example.render({"buckets": 2, "amount": 2, "to": 2}) == """\
vars {
  monetary $points
  account $buckets_0
  account $buckets_1
  account $last
  account $dest
  monetary $amount_0
  monetary $amount_1
  account $to_0
  account $to_1
}

send $points (
  source = {
    $buckets_0
    $buckets_1
    $last allowing unbounded overdraft
  }
  destination = $dest
)

send $amount_0 (
  source = $dest
  destination = $to_0
)

send $amount_1 (
  source = $dest
  destination = $to_1
)
"""


def test_empty_lists_render_nothing(example):
    text = example.render({"buckets": 0, "amount": 0, "to": 0})
    assert "$buckets" not in text and "$amount" not in text
    assert "//" not in text
    assert "\n\n\n" not in text


def test_bind_flattens_values_and_checks_names(example):
    bound = example.bind(
        {"points": "PTS 5", "buckets": ["a:1"], "last": "b", "dest": "c", "amount": ["PTS 1"], "to": ["d"]}
    )
    assert dict(bound.vars) == {
        "points": "PTS 5", "buckets_0": "a:1", "last": "b", "dest": "c", "amount_0": "PTS 1", "to_0": "d"
    }
    assert bound.script == example.render({"buckets": 1, "amount": 1, "to": 1})


def test_missing_or_extra_vars_are_chart_errors(example):
    base = {"points": "PTS 5", "buckets": ["a"], "last": "b", "dest": "c", "amount": [], "to": []}
    with pytest.raises(ChartError, match=r"missing vars \['dest'\], unexpected vars \[\]"):
        example.bind({k: v for k, v in base.items() if k != "dest"})
    with pytest.raises(ChartError, match=r"unexpected vars \['extra'\]"):
        example.bind({**base, "extra": "x"})
    with pytest.raises(ChartError, match="needs a sequence"):
        example.bind({**base, "buckets": "a"})
    with pytest.raises(ChartError, match="takes a string"):
        example.bind({**base, "last": ["b"]})
    with pytest.raises(ChartError, match="equal lengths"):
        example.bind({**base, "amount": ["PTS 1"], "to": []})


def test_an_empty_ordered_source_is_refused():
    tpl = Template.parse("t", "vars {\n  monetary $p\n  account... $b\n  account $d\n}\nsend $p (\n  source = {\n    $b...\n  }\n  destination = $d\n)\n")
    with pytest.raises(ChartError, match="would be empty"):
        tpl.render({"b": 0})


def test_a_rendering_is_kept_per_list_lengths_and_refusals_stay_refusals(example):
    first = example.render({"buckets": 2, "amount": 1, "to": 1})
    assert example.render({"to": 1, "amount": 1, "buckets": 2}) is first  # kept, whatever the key order
    assert example.render({"buckets": 3, "amount": 1, "to": 1}) != first
    for _ in range(2):
        with pytest.raises(ChartError, match="equal lengths"):
            example.render({"buckets": 1, "amount": 2, "to": 1})


def test_the_text_depends_only_on_list_lengths(catalogue):
    one = catalogue.bind(
        "redeem", {"points": "PTS 1", "taken": ["PTS 1"], "buckets": ["customers:a:points:noexpiry"], "redeemed": "x"}
    )
    two = catalogue.bind(
        "redeem", {"points": "PTS 999", "taken": ["PTS 999"], "buckets": ["customers:b:points:20270101"], "redeemed": "y"}
    )
    assert one.script == two.script


@given(n=st.integers(min_value=1, max_value=40), values=st.data())
def test_rendering_is_value_independent(n, values):
    tpl = Template.parse("example", EXAMPLE)
    def draw_list(k):
        return [values.draw(st.from_regex(r"\A[a-z]{1,8}\Z")) for _ in range(k)]
    bound = tpl.bind({
        "points": "PTS 1", "buckets": draw_list(n), "last": "l", "dest": "d", "amount": draw_list(2), "to": draw_list(2)
    })
    assert bound.script == tpl.render({"buckets": n, "amount": 2, "to": 2})
    assert len(bound.vars) == 3 + n + 4


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("send [PTS 1] (\n  source = @a\n  destination = @b\n)\n", "starts with a 'vars {'"),
        ("vars {\n  monetary $p\n}\nsend $q (\n  source = @a\n  destination = @b\n)\n", r"\$q is not declared"),
        ("vars {\n  monetary $p\n  account $a\n}\nsend $p (\n  source = @w\n  destination = @b\n)\n", "never used: \\$a"),
        ("vars {\n  monetary $p\n  account... $b\n}\nsend $p (\n  source = $b\n  destination = @x\n)\n", "outside a splice"),
        ("vars {\n  monetary $p\n  account $b\n}\nsend $p (\n  source = {\n    $b...\n  }\n  destination = @x\n)\n", "not one"),
        ("vars {\n  monetary... $p\n}\n#each $p\nsend $p (\n  source = @a\n  destination = @b\n)\n", "not closed"),
        ("vars {\n  monetary $p\n}\n#repeat\nsend $p (\n  source = @a\n  destination = @b\n)\n", "unknown directive"),
        ("vars {\n  monetary $p // amount\n}\nsend $p (\n  source = @a\n  destination = @b\n)\n", "lines of their own"),
        ("vars {\n  monetary $p\n  monetary $p\n}\nsend $p (\n  source = @a\n  destination = @b\n)\n", "declared twice"),
        ("vars {\n  account... $b\n  account $b_0\n  monetary $p\n}\nsend $p (\n  source = $b_0\n  destination = @b\n)\n", "collides"),
        ("vars {\n  monetary $p = meta(@a, \"k\")\n}\nsend $p (\n  source = @a\n  destination = @b\n)\n", "TYPE \\$name"),
    ],
)
def test_template_mistakes_are_chart_errors(text, fragment):
    with pytest.raises(ChartError, match=fragment):
        Template.parse("bad", text)


def test_catalogue_loads_every_template(catalogue):
    assert catalogue.names == (
        "adjust_credit", "adjust_debit", "capture", "capture_reward", "convert", "earn", "engage", "exchange_in", "exchange_out",
        "expire", "guard", "hold", "hold_reward", "open_control", "open_counter", "period_close", "pool_contribute", "pool_earn", "pool_redeem", "redeem", "redeem_reward", "refund", "release", "restock", "revenue_estimate", "transfer", "usage_catch_up", "void",
    )
    assert "earn" in catalogue
    with pytest.raises(ChartError, match="no numscript template 'revert'"):
        catalogue.get("revert")


def test_catalogue_folder_override(tmp_path, monkeypatch):
    (tmp_path / "move.num").write_text("vars {\n  monetary $p\n  account $a\n  account $b\n}\nsend $p (\n  source = $a\n  destination = $b\n)\n")
    assert Catalogue(tmp_path).names == ("move",)
    monkeypatch.setenv("LOYALTY_NUMSCRIPT_DIR", str(tmp_path))
    assert default_template_dir() == tmp_path
    assert Catalogue().names == ("move",)
    monkeypatch.delenv("LOYALTY_NUMSCRIPT_DIR")
    assert default_template_dir() == DEFAULTS / "numscript"
    assert default_template_dir().resolve() == (ROOT / "numscript").resolve()  # in a checkout: the repository's folder
    with pytest.raises(ChartError, match="does not exist"):
        Catalogue(tmp_path / "missing")


def test_a_broken_template_in_the_folder_names_the_file(tmp_path):
    (tmp_path / "broken.num").write_text("vars {\n  monetary $p\n}\nsend $x (\n  source = @a\n  destination = @b\n)\n")
    with pytest.raises(ChartError, match=r"'broken' \(.*broken\.num:4\)"):
        Catalogue(tmp_path)


def test_formatting_helpers():
    assert monetary("PTS", 100) == "PTS 100"
    assert monetary("USD/2", 0) == "USD/2 0"
    assert money("USD/2", Decimal("12.5")) == "USD/2 1250"
    assert number(7) == "7"
    with pytest.raises(InvalidCommand):
        monetary("PTS", -1)
    with pytest.raises(InvalidCommand):
        monetary("pts", 1)
    with pytest.raises(InvalidCommand):
        monetary("PTS", True)
    with pytest.raises(InvalidCommand, match="more decimals"):
        money("USD/2", Decimal("0.001"))
    with pytest.raises(InvalidCommand):
        number(1.5)  # type: ignore[arg-type]
