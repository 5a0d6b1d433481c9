from __future__ import annotations

from datetime import timezone

import pytest

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.vocabulary.amounts import parse_points
from loyalty_accounts.vocabulary.instants import parse_instant
from loyalty_accounts.vocabulary.quoting import QUOTED_AT_MOST, quoted


def test_a_short_value_is_quoted_whole_and_a_long_one_cut_with_its_length() -> None:
    assert quoted("c 1") == "'c 1'"
    assert quoted("x" * QUOTED_AT_MOST) == repr("x" * QUOTED_AT_MOST)
    assert quoted("x" * (QUOTED_AT_MOST + 1)) == repr("x" * QUOTED_AT_MOST) + f"… ({QUOTED_AT_MOST + 1} characters)"
    assert quoted(42) == "42" and quoted(None) == "None"


def test_a_newline_in_a_refused_value_stays_escaped() -> None:
    assert "\n" not in quoted("a\nb") and quoted("a\nb") == "'a\\nb'"


@pytest.mark.parametrize("parse", [lambda t: parse_instant(t, timezone.utc, what="--at"), lambda t: parse_points(t)])
def test_a_pasted_screenful_is_refused_in_one_short_line(parse) -> None:
    text = "2026-01-01" + "\n9" * 500
    with pytest.raises(InvalidCommand) as refused:
        parse(text)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 220 and "(1010 characters)" in message
