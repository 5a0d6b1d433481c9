"""The rules' review section: strictly validated (each problem named with its field and line), and its pure verdict."""

from __future__ import annotations

import re

import pytest
from rulesupport import ROOT, line_of

from loyalty_accounts.errors import ChartError
from loyalty_accounts.rules.loader import parse_rules
from loyalty_accounts.rules.review import ReviewFacts

TEXT = (ROOT / "rules.yaml").read_text()
"""The repository's rules file, whose review section the cases below break."""


def test_the_repository_rules_declare_every_trigger(repo_rules):
    review = repo_rules.review
    assert review is not None and review.deadline_hours == 72
    assert review.points_above == 10_000
    assert review.velocity is not None and (review.velocity.window_hours, review.velocity.max_redemptions) == (24, 30)
    assert review.new_member is not None and review.new_member.days == 30
    assert review.after_transfer is not None and review.after_transfer.hours == 48
    assert "suspected_fraud" in review.allowed_reasons("reject")
    assert "suspected_fraud" not in review.allowed_reasons("approve")


# (replace this, with that, line marker, expected message)
BAD_SECTIONS = [
    ("  deadline_hours: 72 ", "  deadline_hours: 0 ", "deadline_hours: 0", r"review\.deadline_hours \(line {line}\).*greater than or equal to 1"),
    ("  deadline_hours: 72 ", "  deadline_hour: 72 ", "deadline_hour:", r"review\.deadline_hour \(line {line}\).*[Ee]xtra"),
    ("    max_redemptions: 30\n    max_points: 25000\n", "", "velocity:",
     r"review\.velocity \(line {line}\): give max_redemptions and/or max_points"),
    ("  points_above: 10000 ", '  points_above: "lots" ', "points_above:", r"review\.points_above \(line {line}\)"),
    ("approve: [verified_with_member, known_pattern", "approve: [verified_with_member, verified_with_member",
     "approve: [", r"review\.decision_reasons\.approve \(line {line}\): a reason is listed twice"),
    ("reject: [suspected_fraud,", "reject: [deadline_passed,", "reject: [",
     r"review\.decision_reasons\.reject \(line {line}\): 'deadline_passed' is recorded by the lapse sweep"),
    ("reject: [suspected_fraud,", "reject: [Suspected Fraud,", "reject: [", r"review\.decision_reasons\.reject\.0 \(line {line}\)"),
    ("  new_member: {days: 30,", "  new_member: {days: 30.5,", "new_member:", r"review\.new_member\.days \(line {line}\)"),
]


@pytest.mark.parametrize(("old", "new", "marker", "expected"), BAD_SECTIONS)
def test_a_bad_review_section_is_refused_naming_its_field_and_line(old: str, new: str, marker: str, expected: str) -> None:
    assert old in TEXT
    text = TEXT.replace(old, new)
    with pytest.raises(ChartError, match=expected.format(line=line_of(text, marker))):
        parse_rules(text, source="r.yaml")


def test_a_section_without_any_trigger_is_refused() -> None:
    start = TEXT.index("  points_above:")
    end = TEXT.index("  decision_reasons:")
    with pytest.raises(ChartError, match=re.escape("review (line") + r".*declare at least one trigger"):
        parse_rules(TEXT[:start] + TEXT[end:], source="r.yaml")


def test_reasons_each_trigger_in_order(repo_rules):
    policy = repo_rules.review
    assert policy.reasons(10_000, ReviewFacts()) == ()
    assert policy.reasons(10_001, ReviewFacts()) == ("points_above_threshold",)
    assert policy.reasons(10, ReviewFacts(recent_redemptions=29)) == ()
    assert policy.reasons(10, ReviewFacts(recent_redemptions=30)) == ("velocity_redemptions",)
    assert policy.reasons(1_000, ReviewFacts(recent_points=24_000)) == ()
    assert policy.reasons(1_001, ReviewFacts(recent_points=24_000)) == ("velocity_points",)
    assert policy.reasons(4_999, ReviewFacts(new_member=True)) == ()
    assert policy.reasons(5_000, ReviewFacts(new_member=True)) == ("new_member",)
    assert policy.reasons(5_000, ReviewFacts(new_member=False)) == ()
    assert policy.reasons(999, ReviewFacts(received_by_transfer=50)) == ()
    assert policy.reasons(1_000, ReviewFacts(received_by_transfer=50)) == ("after_transfer",)
    everything = ReviewFacts(recent_redemptions=40, recent_points=30_000, new_member=True, received_by_transfer=1)
    assert policy.reasons(20_000, everything) == (
        "points_above_threshold", "velocity_redemptions", "velocity_points", "new_member", "after_transfer",
    )
